//! `azmi serve`, the real binary, against the in-process emulator: the two
//! protocols and the grants (`protocols`), and the server's robustness
//! under hostile clients, a failing upstream and a stop signal
//! (`robustness`). Requests are raw HTTP/1.1 on loopback, so a test sees
//! exactly what an SDK would.

mod protocols;
mod robustness;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use azmi_emulator::Emulator;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub(crate) const ALPHA_KEY: &str = "alpha-0123456789abcdef0123456789abcdef";
pub(crate) const BETA_KEY: &str = "beta-fedcba9876543210fedcba9876543210";
pub(crate) const USER_CLIENT_ID: &str = azmi_emulator::demo::USER_CLIENT_ID;

/// Two tenants and an anonymous grant: alpha has the system-assigned
/// identity for Key Vault and any `https://fresh-*` audience is not its;
/// beta has the user-assigned identity; anonymous callers the
/// system-assigned identity for Key Vault and Storage.
pub(crate) const TENANTS: &str = r#"
[[tenant]]
name = "alpha"
key_file = "alpha.key"
identities = ["system-assigned"]
resources = ["https://vault.azure.net"]

[[tenant]]
name = "beta"
key_file = "beta.key"
identities = ["client-id:a5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c8d"]
resources = ["https://vault.azure.net", "https://storage.azure.com/"]
max_upstream_per_minute = 600

[anonymous]
identities = ["system-assigned"]
resources = ["https://vault.azure.net", "https://storage.azure.com"]
"#;

/// A running `azmi serve`, killed when dropped.
pub(crate) struct Broker {
    pub(crate) child: Child,
    pub(crate) addr: String,
    /// Everything it printed on stdout up to and including the client
    /// settings.
    pub(crate) printed: Vec<String>,
    /// Its stderr, read as it comes (a full pipe would stall it).
    stderr: tokio::task::JoinHandle<String>,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// `azmi serve --config <config> <args>` fetching from `emulator`'s
    /// IMDS, with the two tenant keys beside the configuration.
    pub(crate) async fn start(emulator: &Emulator, config: &str, args: &[&str]) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        for (name, key) in [("alpha.key", ALPHA_KEY), ("beta.key", BETA_KEY)] {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("{key}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let config_path = dir.path().join("serve.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut all = vec!["-v", "serve", "--config", config_path.to_str().unwrap()];
        all.extend_from_slice(args);
        Broker::spawn(emulator, &all, dir).await
    }

    /// `azmi <args>` (a `serve` command) fetching from `emulator`.
    pub(crate) async fn spawn(
        emulator: &Emulator,
        args: &[&str],
        dir: tempfile::TempDir,
    ) -> Broker {
        Broker::spawn_with(emulator, args, dir, &[]).await
    }

    /// As `spawn`, with `env` added to the broker's environment.
    pub(crate) async fn spawn_with(
        emulator: &Emulator,
        args: &[&str],
        dir: tempfile::TempDir,
        env: &[(&str, String)],
    ) -> Broker {
        let mut command = Command::new(env!("CARGO_BIN_EXE_azmi"));
        command
            .args(args)
            .env_clear()
            .env("AZMI_CACHE_DIR", crate::support::cache_dir())
            .env(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                emulator.imds_endpoint(),
            );
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut pipe = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            text
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = Vec::new();
        // The settings end with the App Service lines, or say there are none.
        while !printed
            .last()
            .is_some_and(|l: &String| l.starts_with("# App Service mode"))
        {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("azmi serve printed its settings within 60 s")
                .unwrap();
            let Some(line) = line else {
                let _ = child.wait().await;
                let err = stderr.await.unwrap_or_default();
                panic!("azmi serve ended before it was ready: {printed:?} {err}");
            };
            printed.push(line);
        }
        // Tenant lines follow; nothing waits on them.
        drop(lines);
        let addr = printed[0]
            .strip_prefix("azmi serve: listening on http://")
            .expect("the first line is a listen line")
            .to_owned();
        Broker {
            child,
            addr,
            printed,
            stderr,
            _dir: dir,
        }
    }

    /// `GET path` with `headers`, on a connection of its own.
    pub(crate) async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
            self.addr
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.raw(request.as_bytes()).await
    }

    /// An IMDS-mode token request for `resource`.
    pub(crate) async fn imds(&self, resource: &str) -> Answer {
        self.get(
            &format!("/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}"),
            &[("Metadata", "true")],
        )
        .await
    }

    /// An App Service token request with `key`, for `resource` and `extra`
    /// query parameters.
    pub(crate) async fn app_service(&self, key: &str, resource: &str, extra: &str) -> Answer {
        self.get(
            &format!("/msi/token?api-version=2019-08-01&resource={resource}{extra}"),
            &[("X-IDENTITY-HEADER", key)],
        )
        .await
    }

    /// Sends `bytes` and reads the answer until the server closes.
    pub(crate) async fn raw(&self, bytes: &[u8]) -> Answer {
        let mut stream = TcpStream::connect(&self.addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut text = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut text))
            .await
            .expect("the broker answered within 60 s")
            .unwrap();
        Answer::parse(&String::from_utf8_lossy(&text))
    }

    pub(crate) async fn metrics(&self) -> String {
        self.get("/metrics", &[]).await.body
    }

    /// Stops it with SIGTERM; its exit status and stderr.
    pub(crate) async fn terminate(mut self) -> (std::process::ExitStatus, String) {
        signal(&self.child, "TERM");
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("azmi serve exited within 60 s of SIGTERM")
            .unwrap();
        let err = self.stderr.await.unwrap();
        (status, err)
    }
}

pub(crate) fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let sent = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// One HTTP response: status, headers (names lower-cased), body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn parse(text: &str) -> Answer {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// A config file's text with the key files at `dir`.
pub(crate) fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("serve.toml");
    std::fs::write(&path, text).unwrap();
    path
}
