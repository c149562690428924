//! Shared fixtures: one compiled runtime, the emulator, raw loopback
//! servers that count connections, and a runner for the `azmi` binary that
//! can never reach the real IMDS.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use azmi::emulator::{Emulator, EmulatorConfig};
use azmi::{Config, ConfigBuilder, Credential, Runtime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The IMDS endpoint the CLI runner uses unless a test says otherwise: a
/// loopback port where nothing listens, so a forgotten override fails
/// fast and locally instead of reaching 169.254.169.254.
pub(crate) const NOWHERE_IMDS: &str = "http://127.0.0.1:1";

/// Where the `azmi` processes of the tests share their compiled-component
/// cache (a CLI start then costs milliseconds, not a compilation).
pub(crate) fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("azmi-component-cache")
}

/// The component, compiled once for the whole test binary.
pub(crate) fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new().expect("the built-in component loads"))
        .clone()
}

pub(crate) async fn emulator() -> Emulator {
    emulator_with(EmulatorConfig::demo()).await
}

pub(crate) async fn emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator starts on loopback")
}

/// A configuration for `emulator`; tests add to it.
pub(crate) fn config_for(emulator: &Emulator) -> ConfigBuilder {
    emulator.config_builder().expect("the emulator's CA parses")
}

pub(crate) fn credential(config: Config) -> Credential {
    Credential::new(runtime(), config)
}

/// How a raw server answers.
#[derive(Clone)]
pub(crate) enum Reply {
    /// Accept and close at once.
    Close,
    /// Read the request head, write these bytes, close.
    Bytes(Arc<Vec<u8>>),
    /// Accept and never answer (until the test ends).
    Silent,
    /// Read the request head, then write these bytes again and again until
    /// the client goes away: an endless chunked body, an endless stream of
    /// `100 Continue` heads.
    Endless {
        head: &'static [u8],
        repeat: &'static [u8],
    },
}

impl Reply {
    /// A 200 with a chunked body that never ends.
    pub(crate) fn endless_chunked_body() -> Reply {
        Reply::Endless {
            head: b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            repeat: concat!("400\r\n", include_str!("support/kib.txt"), "\r\n").as_bytes(),
        }
    }

    /// Informational heads, forever, and never a final response.
    pub(crate) fn endless_informational() -> Reply {
        Reply::Endless {
            head: b"",
            repeat: b"HTTP/1.1 100 Continue\r\n\r\n",
        }
    }
}

/// A loopback TCP server that counts the connections it accepts.
pub(crate) struct RawServer {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RawServer {
    pub(crate) async fn start(ip: IpAddr, port: u16, reply: Reply) -> RawServer {
        let listener = TcpListener::bind(SocketAddr::new(ip, port))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                match &reply {
                    Reply::Close => drop(tcp),
                    Reply::Silent => held.push(tcp),
                    Reply::Bytes(bytes) => {
                        let bytes = bytes.clone();
                        tokio::spawn(async move {
                            if read_head(&mut tcp).await {
                                let _ = tcp.write_all(&bytes).await;
                                let _ = tcp.shutdown().await;
                            }
                        });
                    }
                    Reply::Endless { head, repeat } => {
                        let (head, repeat) = (*head, *repeat);
                        tokio::spawn(async move {
                            if !read_head(&mut tcp).await || tcp.write_all(head).await.is_err() {
                                return;
                            }
                            while tcp.write_all(repeat).await.is_ok() {}
                        });
                    }
                }
            }
        });
        RawServer {
            addr,
            accepted,
            task,
        }
    }

    pub(crate) async fn counting() -> RawServer {
        RawServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, Reply::Close).await
    }

    /// An HTTP/1.1 response with `status`, a JSON content type and `body`.
    pub(crate) async fn http(status: u16, body: &[u8]) -> RawServer {
        let mut bytes = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        RawServer::start(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            0,
            Reply::Bytes(Arc::new(bytes)),
        )
        .await
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Reads a request head; false if the client went away first.
async fn read_head(tcp: &mut tokio::net::TcpStream) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    true
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the `azmi` binary with a clean environment: nothing inherited, the
/// IMDS endpoint pointed at `NOWHERE_IMDS` unless `env` sets it.
pub(crate) async fn azmi(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_azmi"));
    command
        .args(args)
        .env_clear()
        .env("AZMI_CACHE_DIR", cache_dir())
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", NOWHERE_IMDS);
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("azmi finished within 60 s")
        .expect("azmi runs")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes the emulator's CA to a temporary file for `--ca-file`.
pub(crate) fn ca_file(emulator: &Emulator) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), emulator.ca_pem()).unwrap();
    file
}
