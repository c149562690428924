//! The `azmi` binary: output formats, exit statuses, error lines, and what
//! `-v` prints (never a token or a secret).

use std::time::Duration;

use azmi_emulator::{EmulatorConfig, demo};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use azmi_testkit::cli::assert_failure;

use crate::support::{RawServer, Reply, azmi, ca_file, emulator, emulator_with, stderr, stdout};

/// Flags that point the CLI at `emulator`, with the CA in `ca`.
fn flags_for(emulator: &azmi_emulator::Emulator, ca: &tempfile::NamedTempFile) -> Vec<String> {
    vec![
        "--imds-endpoint".into(),
        emulator.imds_endpoint(),
        "--connect-to".into(),
        emulator.connect_to().to_string(),
        "--ca-file".into(),
        ca.path().display().to_string(),
    ]
}

async fn run(args: &[&str], extra: &[String]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(extra.iter().map(String::as_str));
    azmi(&all, &[]).await
}

#[tokio::test]
async fn token_prints_one_json_object() {
    let emulator = emulator().await;
    let output = azmi(
        &["token", "--resource", "https://vault.azure.net"],
        &[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            &emulator.imds_endpoint(),
        )],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1);
    let json: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "access_token",
            "expires_in",
            "expires_on",
            "resource",
            "token_type"
        ]
    );
    assert!(json["access_token"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["resource"], "https://vault.azure.net");
    assert!(json["expires_on"].is_u64());
    assert!(
        (86_000..=86_399).contains(&json["expires_in"].as_u64().unwrap()),
        "{json}"
    );
}

#[tokio::test]
async fn token_output_az_has_the_names_of_az_account_get_access_token() {
    let emulator = emulator().await;
    let imds = emulator.imds_endpoint();
    // `expiresOn` is local time, as az prints it: India is UTC+5:30.
    for (tz, offset) in [("UTC0", 0), ("IST-5:30", 19_800)] {
        let output = azmi(
            &["token", "--resource", "https://vault.azure.net", "-o", "az"],
            &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds), ("TZ", tz)],
        )
        .await;
        assert!(output.status.success(), "{}", stderr(&output));
        let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["accessToken", "expiresOn", "expires_on", "tokenType"]
        );
        assert!(json["accessToken"].as_str().unwrap().starts_with("eyJ"));
        assert_eq!(json["tokenType"], "Bearer");
        let expires_on = json["expires_on"].as_i64().unwrap();
        let local = json["expiresOn"].as_str().unwrap();
        let (date, time) = local.split_once(' ').unwrap();
        assert!(time.ends_with(".000000"), "{local}");
        let seconds_of_day = |t: &str| {
            let p: Vec<i64> = t[..8].split(':').map(|n| n.parse().unwrap()).collect();
            p[0] * 3600 + p[1] * 60 + p[2]
        };
        let utc_seconds = (expires_on % 86_400 + offset) % 86_400;
        assert_eq!(
            seconds_of_day(time),
            utc_seconds,
            "{tz}: {local} vs {expires_on}"
        );
        assert_eq!(date.len(), 10, "{local}");
    }
}

#[tokio::test]
async fn completions_are_printed_for_each_shell() {
    for (shell, marker, flag) in [
        ("bash", "_azmi()", "--imds-endpoint"),
        ("zsh", "#compdef azmi", "--imds-endpoint"),
        ("fish", "complete -c azmi", "-l imds-endpoint"),
    ] {
        let output = azmi(&["completions", shell], &[]).await;
        assert!(output.status.success(), "{}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains(flag), "{shell}");
    }
}

#[tokio::test]
async fn token_by_scope_and_by_user_assigned_identity() {
    let emulator = emulator().await;
    let imds = emulator.imds_endpoint();
    let output = azmi(
        &[
            "token",
            "--scope",
            "https://vault.azure.net/.default",
            "--client-id",
            demo::USER_CLIENT_ID,
            "--imds-endpoint",
            &imds,
        ],
        &[],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["resource"], "https://vault.azure.net");
    let output = azmi(
        &[
            "token",
            "--object-id",
            "00000000-0000-0000-0000-000000000000",
            "--imds-endpoint",
            &imds,
        ],
        &[],
    )
    .await;
    let err = assert_failure(&output, 1, "not found");
    assert!(
        err.contains("Identity not found") && err.contains("not assigned to this resource"),
        "{err}"
    );
}

#[tokio::test]
async fn secret_prints_the_value_or_json() {
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let flags = flags_for(&emulator, &ca);
    let output = run(
        &[
            "secret",
            "--vault",
            "https://myvault.vault.azure.net",
            "--name",
            "mysecret",
        ],
        &flags,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "TOPSECRET\n");

    let output = run(
        &[
            "secret",
            "--vault",
            "https://myvault.vault.azure.net",
            "--name",
            "mysecret",
            "--version",
            demo::MYSECRET_OLD_VERSION,
            "--json",
        ],
        &flags,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["value"], "OLDSECRET");
    assert_eq!(json["version"], demo::MYSECRET_OLD_VERSION);
    assert_eq!(json["tags"]["env"], "demo");
    assert_eq!(json["enabled"], true);
    assert_eq!(json["content_type"], "text/plain");
}

#[tokio::test]
async fn secret_failures_are_one_line_with_a_fix() {
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let flags = flags_for(&emulator, &ca);
    let vault = "https://myvault.vault.azure.net";
    let output = run(&["secret", "--vault", vault, "--name", "nope"], &flags).await;
    let err = assert_failure(&output, 1, "not found");
    assert!(
        err.contains("SecretNotFound") && err.contains("check the secret name"),
        "{err}"
    );
    let output = run(&["secret", "--vault", vault, "--name", "uami-only"], &flags).await;
    let err = assert_failure(&output, 1, "forbidden");
    assert!(
        err.contains("ForbiddenByRbac") && err.contains("Key Vault Secrets User"),
        "{err}"
    );
    let output = run(&["secret", "--vault", vault, "--name", "bad/name"], &flags).await;
    let err = assert_failure(&output, 2, "invalid argument");
    assert!(err.contains("`bad/name`"), "{err}");
    let output = run(
        &["secret", "--vault", "https://evil.example", "--name", "x"],
        &flags,
    )
    .await;
    let err = assert_failure(&output, 2, "usage");
    assert!(
        err.contains("evil.example") && err.contains("not a Key Vault host"),
        "{err}"
    );
}

#[tokio::test]
async fn the_vault_needs_its_ca() {
    let emulator = emulator().await;
    let pin = emulator.connect_to().to_string();
    let imds = emulator.imds_endpoint();
    let output = azmi(
        &[
            "secret",
            "--vault",
            "https://myvault.vault.azure.net",
            "--name",
            "mysecret",
            "--imds-endpoint",
            &imds,
            "--connect-to",
            &pin,
        ],
        &[],
    )
    .await;
    let err = assert_failure(&output, 1, "error: TLS");
    assert!(err.contains("--ca-file"), "{err}");
}

#[tokio::test]
async fn usage_errors_exit_2() {
    for args in [
        vec!["secret", "--name", "x"],
        vec!["token", "--client-id", "a", "--object-id", "b"],
        vec!["token", "--connect-to", "nonsense"],
        vec!["token", "--imds-endpoint", "http://203.0.113.7"],
        vec!["token", "--timeout", "0"],
        vec!["token", "--ca-file", "/nonexistent/ca.pem"],
        vec!["token", "--client-id", "not-a-guid"],
        vec!["token", "--source", "vm"],
        vec!["token", "--source", "app-service"],
        vec!["frobnicate"],
    ] {
        let output = azmi(&args, &[]).await;
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let output = azmi(&["token"], &[]).await; // NOWHERE_IMDS
    let err = assert_failure(&output, 1, "unavailable");
    assert!(
        err.contains("127.0.0.1:1") && err.contains("connection refused"),
        "{err}"
    );
}

#[tokio::test]
async fn the_timeout_flag_bounds_the_command() {
    let server = RawServer::start(
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        0,
        Reply::Silent,
    )
    .await;
    let output = azmi(
        &["token", "--timeout", "1", "--imds-endpoint", &server.url()],
        &[],
    )
    .await;
    // Without the flag the component would wait 10 s for the first byte;
    // with it, the request is cut to the call's one second.
    let err = assert_failure(&output, 1, "timeout");
    assert!(err.contains("did not answer in time"), "{err}");
}

#[tokio::test]
async fn the_timeout_flag_bounds_every_step_of_a_secret_read_together() {
    // Discovery and the read each take 1.2 s: each fits in 2 s, both do
    // not. One deadline for the command means a timeout at about 2 s, not
    // a secret at 2.4 s.
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let slow = azmi_emulator::Fault::Delay(Duration::from_millis(1200));
    emulator.inject(azmi_emulator::Service::Vault, vec![slow.clone(), slow]);
    let started = std::time::Instant::now();
    let output = run(
        &[
            "secret",
            "--timeout",
            "2",
            "--vault",
            "https://myvault.vault.azure.net",
            "--name",
            "mysecret",
        ],
        &flags_for(&emulator, &ca),
    )
    .await;
    let elapsed = started.elapsed();
    let err = assert_failure(&output, 1, "timeout");
    assert!(err.contains("myvault.vault.azure.net"), "{err}");
    assert!(
        elapsed < Duration::from_millis(2300),
        "took {elapsed:?}: {err}"
    );
    assert_eq!(emulator.vault_requests(), 2, "discovery, then the read");
}

#[tokio::test]
async fn verbose_output_and_errors_never_show_tokens_or_secrets() {
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let flags = flags_for(&emulator, &ca);
    let vault = "https://myvault.vault.azure.net";

    let output = run(
        &["token", "-v", "--resource", "https://vault.azure.net"],
        &flags,
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let token = json["access_token"].as_str().unwrap();
    let diagnostics = stderr(&output);
    assert!(
        diagnostics.contains("allowed: GET http://127.0.0.1"),
        "-v shows decisions: {diagnostics}"
    );
    assert!(
        !diagnostics.contains(token) && !diagnostics.contains("eyJ"),
        "{diagnostics}"
    );

    let output = run(
        &["secret", "-v", "--vault", vault, "--name", "mysecret"],
        &flags,
    )
    .await;
    assert_eq!(stdout(&output), "TOPSECRET\n");
    let diagnostics = stderr(&output);
    assert!(
        diagnostics.contains("myvault.vault.azure.net"),
        "{diagnostics}"
    );
    assert!(
        !diagnostics.contains("TOPSECRET") && !diagnostics.contains("eyJ"),
        "{diagnostics}"
    );

    for name in ["nope", "uami-only", "disabled-secret"] {
        let output = run(&["secret", "-v", "--vault", vault, "--name", name], &flags).await;
        let everything = format!("{}{}", stdout(&output), stderr(&output));
        assert!(!output.status.success());
        assert!(
            !everything.contains("eyJ")
                && !everything.contains("SECRET\n")
                && !everything.contains("NEVERSHOWN"),
            "{everything}"
        );
    }

    let wrong_audience = emulator_with(EmulatorConfig {
        audience_override: Some("https://myvault.vault.azure.net/".into()),
        ..EmulatorConfig::demo()
    })
    .await;
    let ca = ca_file(&wrong_audience);
    let output = run(
        &["secret", "-v", "--vault", vault, "--name", "mysecret"],
        &flags_for(&wrong_audience, &ca),
    )
    .await;
    let everything = format!("{}{}", stdout(&output), stderr(&output));
    assert!(everything.contains("AKV10022"), "{everything}");
    assert!(
        !everything.contains("eyJ") && !everything.contains("TOPSECRET"),
        "{everything}"
    );
}

#[tokio::test]
async fn demo_reads_the_secret_and_shows_the_denial() {
    let output = azmi(&["demo"], &[]).await;
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("ok: mysecret = TOPSECRET"), "{text}");
    assert!(text.contains("denied by the sandbox, as it should be: GET https://othervault.vault.azure.net:443/secrets/mysecret/ is not on the egress allow-list"), "{text}");
    assert!(
        !text.contains("eyJ"),
        "the demo never prints a token: {text}"
    );
}

#[tokio::test]
async fn emulator_command_prints_settings_that_work() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_azmi"))
        .arg("emulator")
        .env_clear()
        .env("AZMI_CACHE_DIR", crate::support::cache_dir())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut env: Vec<(String, String)> = Vec::new();
    while env.len() < 3 {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("emulator output");
        if let Some((name, value)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            env.push((name.to_owned(), value.to_owned()));
        }
    }
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "AZMI_CONNECT_TO",
            "AZMI_CA_FILE"
        ]
    );
    // The printed values work as environment variables...
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let output = azmi(&["token", "--client-id", demo::USER_CLIENT_ID], &env).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let output = azmi(
        &[
            "secret",
            "--vault",
            "https://myvault.vault.azure.net",
            "--name",
            "mysecret",
        ],
        &env,
    )
    .await;
    assert_eq!(stdout(&output), "TOPSECRET\n", "{}", stderr(&output));
    // ...and as flags.
    let value = |name: &str| env.iter().find(|(n, _)| *n == name).unwrap().1;
    let args = [
        "secret",
        "--vault",
        "https://myvault.vault.azure.net",
        "--name",
        "mysecret",
        "--imds-endpoint",
        value("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        "--connect-to",
        value("AZMI_CONNECT_TO"),
        "--ca-file",
        value("AZMI_CA_FILE"),
    ];
    let output = azmi(&args, &[]).await;
    assert_eq!(stdout(&output), "TOPSECRET\n", "{}", stderr(&output));
    // Every other source, with the variables the emulator prints for it.
    let mut sources = 0;
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .unwrap_or(Ok(None))
    {
        let Some((_, rest)) = line.strip_prefix("#   ").and_then(|l| l.split_once(": ")) else {
            continue;
        };
        let Some((vars, flags)) = rest.split_once(" azmi token") else {
            continue;
        };
        let env: Vec<(&str, &str)> = vars.split(' ').filter_map(|v| v.split_once('=')).collect();
        let args: Vec<&str> = ["token"]
            .into_iter()
            .chain(flags.split_whitespace())
            .collect();
        let output = azmi(&args, &env).await;
        assert!(output.status.success(), "{line}: {}", stderr(&output));
        sources += 1;
        if sources == 5 {
            break;
        }
    }
    assert_eq!(
        sources, 5,
        "arc, app-service, app-service-2017, service-fabric, cloud-shell"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn help_shows_an_example_per_subcommand() {
    for command in ["token", "secret", "demo", "emulator", "completions"] {
        let output = azmi(&[command, "--help"], &[]).await;
        assert!(output.status.success());
        assert!(
            stdout(&output).contains("Example"),
            "{command}: {}",
            stdout(&output)
        );
    }
}

#[tokio::test]
async fn source_selection_errors_say_what_is_missing() {
    let output = azmi(&["token", "--source", "app-service"], &[]).await;
    let err = assert_failure(&output, 2, "usage");
    assert!(
        err.contains("the app-service source needs IDENTITY_ENDPOINT"),
        "{err}"
    );
    let output = azmi(&["token"], &[("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t")]).await;
    let err = assert_failure(&output, 1, "unavailable");
    assert!(err.contains("neither IDENTITY_HEADER"), "{err}");
    let output = azmi(&["token", "--source", "vm"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("`vm` is not a source; use auto, workload-identity, imds, arc"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn identity_endpoints_stay_on_this_machine() {
    // IPv6 forms that carry an IPv4 address but leave the machine, in every
    // way an endpoint comes in: refused before anything is sent, exit 2,
    // the variable named.
    for (args, env, variable) in [
        (
            vec!["token", "--imds-endpoint", "http://[64:ff9b::a9fe:a9fe]"],
            vec![],
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        ),
        (
            vec!["token"],
            vec![(
                "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                "http://[::7f00:1]:8080",
            )],
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        ),
        (
            vec!["token"],
            vec![
                ("IDENTITY_ENDPOINT", "http://[2002:7f00:1::]:8081/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ],
            "IDENTITY_ENDPOINT",
        ),
        (
            vec!["token"],
            vec![
                ("MSI_ENDPOINT", "http://[64:ff9b::7f00:1]/msi/token"),
                ("MSI_SECRET", "s"),
            ],
            "MSI_ENDPOINT",
        ),
    ] {
        let output = azmi(&args, &env).await;
        let err = assert_failure(&output, 2, "usage");
        assert!(
            err.contains(&format!("{variable}=`")) && err.contains("routed off this machine"),
            "{args:?} {env:?}: {err}"
        );
    }
    // A pin cannot move an identity endpoint either, from the flag or the
    // environment.
    let server = RawServer::counting().await;
    let endpoint = format!("{}/msi/token", server.url());
    let to_elsewhere = format!("{}:203.0.113.7:80", server.addr);
    for (args, env) in [
        (
            vec!["token", "--connect-to", "169.254.169.254:80:203.0.113.7:80"],
            vec![],
        ),
        (
            vec!["token"],
            vec![("AZMI_CONNECT_TO", "169.254.169.254:80:203.0.113.7:80")],
        ),
        (
            vec!["token", "--connect-to", to_elsewhere.as_str()],
            vec![
                ("IDENTITY_ENDPOINT", endpoint.as_str()),
                ("IDENTITY_HEADER", "h"),
            ],
        ),
        (
            vec!["token"],
            vec![
                ("IDENTITY_ENDPOINT", endpoint.as_str()),
                ("IDENTITY_HEADER", "h"),
                ("AZMI_CONNECT_TO", to_elsewhere.as_str()),
            ],
        ),
    ] {
        let output = azmi(&args, &env).await;
        let err = assert_failure(&output, 2, "usage");
        assert!(err.contains("pins are for vaults"), "{args:?}: {err}");
    }
    assert_eq!(server.accepted(), 0, "nothing was sent");
}

#[tokio::test]
async fn the_compiled_component_cache_cannot_be_swapped() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let emulator = emulator().await;
    let imds = emulator.imds_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let cached = |name: &str| dir.path().join(name);
    let token = |cache: std::path::PathBuf| {
        let imds = imds.clone();
        async move {
            let cache = cache.display().to_string();
            azmi(
                &["token", "--resource", "https://vault.azure.net"],
                &[
                    ("AZMI_CACHE_DIR", cache.as_str()),
                    ("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.as_str()),
                ],
            )
            .await
        }
    };
    let only_entry = |cache: &std::path::Path| {
        let entries: Vec<_> = std::fs::read_dir(cache).unwrap().flatten().collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries[0].path()
    };
    // The real component's entry name, and a poisoned entry: the hostile
    // component compiled by the same engine, put under that name.
    assert!(token(cached("real")).await.status.success());
    let name = only_entry(&cached("real")).file_name().unwrap().to_owned();
    let hostile = crate::grant::HOSTILE_COMPONENT;
    let evil = cached("evil").display().to_string();
    azmi(
        &["--component", hostile, "token", "--resource", "env"],
        &[("AZMI_CACHE_DIR", evil.as_str())],
    )
    .await;
    let poison = std::fs::read(only_entry(&cached("evil"))).unwrap();
    let plant = |cache: &std::path::Path, mode: u32| {
        std::fs::create_dir_all(cache).unwrap();
        std::fs::set_permissions(cache, std::fs::Permissions::from_mode(0o700)).unwrap();
        let entry = cache.join(&name);
        std::fs::write(&entry, &poison).unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    // Planted where it is trusted, it is loaded: the detector works.
    plant(&cached("trusted"), 0o600);
    let output = token(cached("trusted")).await;
    assert!(
        !output.status.success() && stderr(&output).contains("unknown command"),
        "the poisoned entry should have run: {}",
        stderr(&output)
    );
    // An entry that is a link to it; a cache directory that is a link to
    // its directory; a group-writable entry; a directory swapped for a link.
    std::fs::create_dir(cached("linked-entry")).unwrap();
    symlink(
        cached("trusted").join(&name),
        cached("linked-entry").join(&name),
    )
    .unwrap();
    symlink(cached("trusted"), cached("linked-dir")).unwrap();
    plant(&cached("group-writable"), 0o660);
    plant(&cached("swapped"), 0o600);
    std::fs::rename(cached("swapped"), cached("moved-away")).unwrap();
    symlink(cached("moved-away"), cached("swapped")).unwrap();
    // (Concurrently: each run compiles the component afresh.)
    let runs: Vec<_> = ["linked-entry", "linked-dir", "group-writable", "swapped"]
        .into_iter()
        .map(|attacked| (attacked, tokio::spawn(token(cached(attacked)))))
        .collect();
    for (attacked, run) in runs {
        let output = run.await.unwrap();
        assert!(output.status.success(), "{attacked}: {}", stderr(&output));
        let json: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(json["resource"], "https://vault.azure.net", "{attacked}");
    }
}

#[tokio::test]
async fn a_components_long_message_is_one_short_line() {
    let hostile = crate::grant::HOSTILE_COMPONENT;
    let output = azmi(
        &[
            "--component",
            hostile,
            "token",
            "--resource",
            "message:100000",
        ],
        &[],
    )
    .await;
    let err = assert_failure(&output, 1, "error: a very long line");
    assert!(
        err.len() < azmi::MAX_MESSAGE_BYTES + 200,
        "{} bytes",
        err.len()
    );
}

#[tokio::test]
async fn an_arc_token_directory_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path().display().to_string();
    for (args, env) in [
        (
            vec!["token", "--source", "arc"],
            vec![("AZMI_ARC_TOKEN_DIR", path.as_str())],
        ),
        (
            vec!["token", "--source", "arc", "--arc-token-dir", &path],
            vec![],
        ),
    ] {
        let output = azmi(&args, &env).await;
        let err = assert_failure(&output, 2, "usage");
        assert!(
            err.contains(&path) && err.contains("writable by every user"),
            "{err}"
        );
    }
}
