//! The hostile component, one attack per call: every attempt is contained
//! with the expected error, counting listeners see nothing, and the host
//! keeps serving other tenants during and after.

use azmi_testkit::assert_error;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use azmi::{
    CallLimits, Config, Credential, Error, Identity, Pooling, Runtime, Source, StaticResolver,
};

use crate::grant::hostile_runtime;
use crate::support::{RawServer, Reply, credential, emulator};

use azmi_test_guests::SOCKETS_COMPONENT;

async fn attack(config: &Config, command: &str) -> Result<String, Error> {
    Credential::new(hostile_runtime(), config.clone())
        .get_token(command, &Identity::SystemAssigned)
        .await
        .map(|t| t.token.into_inner())
}

#[tokio::test]
async fn network_attacks_are_denied_before_any_connection() {
    let emulator = emulator().await;
    let listener = RawServer::counting().await;
    let port = listener.addr.port();
    // An App Service tenant allowed one vault: IMDS is not its endpoint.
    let config = emulator
        .config_builder_for(Source::AppService)
        .unwrap()
        .build()
        .unwrap();
    let allowed = emulator.source_variables(Source::AppService)[0].1.clone();
    let allowed_port: u16 = allowed
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let _twin = RawServer::start(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        allowed_port,
        Reply::Close,
    )
    .await;
    for url in [
        format!("http://127.0.0.1:{port}/"), // a host that is not allowed
        format!("http://127.0.0.1:{port}/msi/token"), // the allowed path on another port
        format!("http://127.0.0.2:{allowed_port}/msi/token"), // the allowed port on another host
        "http://169.254.169.254/metadata/identity/oauth2/token".to_owned(), // IMDS, for a tenant that may not
        format!("http://[::ffff:127.0.0.1]:{port}/"),                       // IPv4 in IPv6 clothing
        format!("http://2130706433:{port}/"),                               // decimal
        format!("http://0177.0.0.1:{port}/"),                               // octal
        format!("http://0x7f000001:{port}/"),                               // hex
        format!("http://0x7f.0.0.1:{port}/"),
        "https://othervault.vault.azure.net/secrets/x/".to_owned(),
    ] {
        let err = attack(&config, &format!("http:{url}")).await.unwrap_err();
        assert_error!(err, Error::Denied(_), "not on the egress allow-list");
    }
    assert_eq!(listener.accepted(), 0, "a denied request connected");
    assert_eq!(_twin.accepted(), 0, "a denied request connected");
    assert_eq!(emulator.requests(azmi_emulator::Service::AppService), 0);
}

#[tokio::test]
async fn an_allowed_vault_admits_exactly_secret_reads() {
    // The vault is allowed and pinned to a counting listener: any request
    // the policy let through would connect there.
    let listener = RawServer::counting().await;
    let pin = format!(
        "myvault.vault.azure.net:443:127.0.0.1:{}",
        listener.addr.port()
    );
    let config = Config::builder()
        .allow_vault("https://myvault.vault.azure.net")
        .connect_to(pin.parse().unwrap())
        .build()
        .unwrap();
    for path in [
        "/secrets/../keys/k",
        "/secrets/%2e%2e/certificates/c",
        "/secrets/..%2Fdeletedsecrets/x",
        "/secrets/x/v1/../../../keys/k",
        "/secrets/x%2F..%2F..%2Fkeys/",
        "/secrets//x",
        "/secrets/x/?api-version=7.6&exfiltrated=eyJ",
        "/keys/k",
    ] {
        let url = format!("https://myvault.vault.azure.net{path}");
        let err = attack(&config, &format!("http:{url}")).await.unwrap_err();
        assert_error!(err, Error::Denied(_), "not on the egress allow-list");
    }
    assert_eq!(listener.accepted(), 0, "a denied request connected");
    // A real secret read gets through to the (pinned) listener.
    let read = attack(
        &config,
        "http:https://myvault.vault.azure.net/secrets/x/?api-version=2025-07-01",
    )
    .await;
    assert!(read.is_err(), "the listener speaks no TLS: {read:?}");
    assert_eq!(listener.accepted(), 1);
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused() {
    let emulator = emulator().await;
    let private = IpAddr::V4(Ipv4Addr::new(10, 20, 30, 40)); // never reached: refused before connecting
    let resolver = StaticResolver::new().insert("myvault.vault.azure.net", private);
    let config = Config::builder()
        .imds_endpoint(emulator.imds_endpoint())
        .allow_vault(emulator.vault_url())
        .resolver(Arc::new(resolver))
        .build()
        .unwrap();
    let err = attack(&config, "http:https://myvault.vault.azure.net/secrets/x/")
        .await
        .unwrap_err();
    assert_error!(err, Error::Denied(_), "resolved to 10.20.30.40");
}

#[tokio::test]
async fn the_host_header_cannot_be_spoofed() {
    let emulator = emulator().await;
    let config = emulator.config_builder().unwrap().build().unwrap();
    let url = format!(
        "{}/metadata/identity/oauth2/token",
        emulator.imds_endpoint()
    );
    let err = attack(&config, &format!("http-host:evil.example|{url}"))
        .await
        .unwrap_err();
    assert_error!(err, Error::Other(_), "header refused", "Forbidden");
    assert_eq!(emulator.imds_requests(), 0);
}

#[tokio::test]
async fn filesystem_attacks_fail() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::builder()
        .source(Source::Arc)
        .arc_token_dir(dir.path())
        .build()
        .unwrap();
    let tokens = azmi::ARC_TOKEN_DIR;
    // Outside the one preopen nothing exists; inside it, nothing may be
    // written.
    for (command, why) in [
        ("read:/etc/passwd".to_owned(), "No such file or directory"),
        (format!("write:{tokens}/planted.key"), "not permitted"),
        ("list:/".to_owned(), "No such file or directory"),
    ] {
        let result = attack(&config, &command).await;
        assert!(
            matches!(result, Err(Error::Other(ref m)) if m.contains(why)),
            "{command}: {result:?}"
        );
    }
    assert!(!dir.path().join("planted.key").exists());
}

#[tokio::test]
async fn runaway_components_are_stopped_and_others_carry_on() {
    let emulator = emulator().await;
    let neighbour = credential(emulator.config_builder().unwrap().build().unwrap());
    // Two seconds of CPU: the spinner is still running while the
    // neighbour's calls complete (about 0.2 s here), even on this
    // single-threaded runtime where they get the thread only when the
    // spinner yields (every 10 ms of wasm).
    let limits = CallLimits::default()
        .cpu(Duration::from_secs(2))
        .memory_bytes(16 << 20);
    let config = Config::builder().call_limits(limits).build().unwrap();

    // Both components compiled before the race starts.
    let _ = (crate::support::runtime(), hostile_runtime());
    // The spinning tenant runs while a neighbour keeps fetching tokens.
    let spinning = tokio::spawn({
        let config = config.clone();
        async move { attack(&config, "spin:forever").await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..3 {
        neighbour
            .get_token(
                &format!("https://resource-{i}.example"),
                &Identity::SystemAssigned,
            )
            .await
            .unwrap();
    }
    assert!(
        !spinning.is_finished(),
        "the neighbour was served only after the spinner stopped"
    );
    let err = spinning.await.unwrap().unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "CPU");

    let err = attack(&config, "alloc:100000000").await.unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "memory limit");

    // And after.
    neighbour
        .get_token("https://after.example", &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(attack(&config, "env").await.map(|_| ()), Ok(()));
}

#[tokio::test]
async fn no_call_sees_what_an_earlier_call_left_in_memory() {
    let pooled = |keep_resident_bytes| {
        Runtime::builder()
            .component_file(Path::new(crate::grant::HOSTILE_COMPONENT))
            .unwrap()
            // One slot: every call reuses the memory of the one before.
            .pooling(
                Pooling::default()
                    .instances(1)
                    .keep_resident_bytes(keep_resident_bytes),
            )
            .cache_dir(crate::support::cache_dir())
            .build()
            .unwrap()
    };
    let runtimes = [
        ("on demand", hostile_runtime()),
        (
            "pooled, pages kept resident",
            pooled(Pooling::default().keep_resident_bytes),
        ),
        ("pooled, pages unmapped", pooled(0)),
    ];
    let config = Config::builder().build().unwrap();
    for (what, runtime) in runtimes {
        // The same tenant, then another: neither sees the other's writes.
        let tenants = [
            Credential::new(runtime.clone(), config.clone()),
            Credential::new(runtime.clone(), config.clone()),
        ];
        // Within one call the writes are seen: the check can fail.
        let twice = tenants[0]
            .get_token("residue:twice", &Identity::SystemAssigned)
            .await
            .map(|t| t.token.into_inner());
        assert_eq!(
            twice.as_deref(),
            Ok("fresh; residue: initialised static 0xd127, 262144 dirty bytes"),
            "{what}"
        );
        for round in 0..3 {
            for tenant in &tenants {
                let seen = tenant
                    .get_token("residue", &Identity::SystemAssigned)
                    .await
                    .map(|t| t.token.into_inner());
                assert_eq!(seen.as_deref(), Ok("fresh"), "{what}, round {round}");
            }
        }
    }
}

#[test]
fn a_component_importing_sockets_does_not_load() {
    let err = Runtime::from_component_file(Path::new(SOCKETS_COMPONENT)).unwrap_err();
    assert_error!(err, Error::Config(_), "wasi:sockets");
}

/// Attacks on the host's memory through WASI resources, each kept alive
/// until the call ends: header sets of 60 KiB, requests with 60 KiB paths,
/// bodies with 16 KiB written and never sent. The component stops on its
/// own after 4,096 of each (about 240 MiB of header sets), so a host that
/// never refuses fails the tests below instead of the machine.
const HOLDING_ATTACKS: [&str; 3] = [
    "fields:4096:61440",
    "requests:4096:61440",
    "bodies:4096:16384",
];

#[tokio::test]
async fn host_memory_held_for_a_component_is_bounded() {
    let config = Config::builder().build().unwrap();
    for command in HOLDING_ATTACKS {
        let err = attack(&config, command).await.unwrap_err();
        assert_error!(err, Error::ResourceLimit(_), "more than 64 host resources");
    }
    // One value larger than the host takes in one call is refused before
    // it is copied out; a path longer than the http crate admits is refused
    // by wasi-http and never stored.
    let err = attack(&config, "fields:1:200000").await.unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "more than 128 KiB");
    let err = attack(&config, "requests:1:70000").await.unwrap_err();
    assert_error!(err, Error::Other(_), "path of request 0 refused");
    // What the real component needs stays possible.
    attack(&config, "fields:8:4096").await.unwrap();
}

#[tokio::test]
async fn the_holding_attacks_keep_the_process_small() {
    // Measured in a process of its own (this test binary, running only
    // `peak_rss_probe`), so that no other test's memory counts.
    let output = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hostile::peak_rss_probe",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env("AZMI_PEAK_RSS_PROBE", "1")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let grew: u64 = text
        .lines()
        .find_map(|l| l.split_once("peak RSS grew by KiB: "))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no figure in: {text}"));
    // Eight concurrent calls of each attack. Unbounded, the header sets
    // alone would take about 2 GiB; bounded, each call holds at most 64
    // resources (a few MiB here).
    assert!(grew < 128 * 1024, "peak RSS grew by {grew} KiB");
}

/// Runs only inside `the_holding_attacks_keep_the_process_small`'s process.
#[tokio::test]
#[ignore = "run by the_holding_attacks_keep_the_process_small, in a process of its own"]
async fn peak_rss_probe() {
    assert!(std::env::var_os("AZMI_PEAK_RSS_PROBE").is_some());
    let config = Config::builder().build().unwrap();
    let runtime = hostile_runtime();
    // Warm up: the component compiled and one call made before measuring.
    attack(&config, "fields:8:4096").await.unwrap();
    let before = vm_hwm_kib();
    for command in HOLDING_ATTACKS {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let credential = Credential::new(runtime.clone(), config.clone());
                tokio::spawn(async move {
                    credential
                        .get_token(command, &Identity::SystemAssigned)
                        .await
                })
            })
            .collect();
        for call in calls {
            let err = call.await.unwrap().unwrap_err();
            assert!(matches!(err, Error::ResourceLimit(_)), "{command}: {err:?}");
        }
    }
    println!(
        "peak RSS grew by KiB: {}",
        vm_hwm_kib().saturating_sub(before)
    );
}

/// This process's peak resident set size (`VmHWM`), in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("/proc/self/status has VmHWM")
}

#[tokio::test]
async fn what_a_component_says_is_bounded() {
    let config = Config::builder().build().unwrap();
    // A long message over many lines comes back as one line of at most
    // MAX_MESSAGE_BYTES.
    let err = attack(&config, "message:100000").await.unwrap_err();
    let Error::Other(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.len() <= azmi::MAX_MESSAGE_BYTES && message.ends_with('…'),
        "{} bytes",
        message.len()
    );
    assert!(!message.contains('\n') && message.starts_with("a very long line a very"));
    // One far larger than anything a component should return is refused
    // before the host copies it out.
    let err = attack(&config, "message:8000000").await.unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "more than 128 KiB");
}

#[tokio::test]
async fn the_host_checks_the_vault_audience_itself() {
    // This component's discover-vault names whatever audience it is told
    // (the secret name): the host must not fetch a token for another
    // audience on its word.
    let config = Config::builder()
        .allow_vault("https://myvault.vault.azure.net")
        .build()
        .unwrap();
    let credential = Credential::new(hostile_runtime(), config);
    let vault = "https://myvault.vault.azure.net";
    for audience in ["https://management.azure.com", "http://vault.azure.net"] {
        let err = credential
            .get_secret(vault, audience, None, &Identity::SystemAssigned)
            .await
            .unwrap_err();
        assert_error!(err, Error::InvalidResponse(_), "no token was fetched");
    }
    assert_eq!(credential.cache_stats().misses, 0, "no token was asked for");
    // The vault's own audience passes, and the host goes on to ask this
    // component for a token, which it cannot give.
    let err = credential
        .get_secret(
            vault,
            "https://vault.azure.net",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap_err();
    assert_error!(err, Error::Other(_), "unknown command");
    assert_eq!(credential.cache_stats().misses, 1);
}

#[tokio::test]
async fn workload_identity_grants_only_the_token_directory_and_the_one_post() {
    let emulator = emulator().await;
    // A pod's layout: the projected token in a directory of its own, a
    // secret beside that directory.
    let pod = tempfile::tempdir().unwrap();
    let tokens = pod.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let token = tokens.join("azure-identity-token");
    std::fs::copy(emulator.workload_identity_token_file(), &token).unwrap();
    std::fs::write(
        pod.path().join("beside.key"),
        "a secret beside the token directory",
    )
    .unwrap();
    let token_path = token.display().to_string();
    let mut builder = Config::builder();
    for (name, value) in emulator.source_variables(Source::WorkloadIdentity) {
        let value = if name == "AZURE_FEDERATED_TOKEN_FILE" {
            token_path.clone()
        } else {
            value
        };
        builder = builder.identity_variable(name, value);
    }
    let config = builder
        .connect_to(emulator.authority_connect_to())
        .add_root_certificates_pem(emulator.ca_pem().as_bytes(), "the emulator's CA")
        .unwrap()
        .build()
        .unwrap();
    let parent = pod.path().display();
    let tokens_shown = tokens.display();
    for (command, why) in [
        (
            format!("read:{parent}/beside.key"),
            "No such file or directory",
        ),
        (format!("list:{parent}"), "No such file or directory"),
        ("read:/etc/passwd".to_owned(), "No such file or directory"),
        (format!("write:{tokens_shown}/planted"), "not permitted"),
        (format!("write:{token_path}"), "not permitted"),
    ] {
        let result = attack(&config, &command).await;
        assert!(
            matches!(result, Err(Error::Other(ref m)) if m.contains(why)),
            "{command}: {result:?}"
        );
    }
    // The grant itself: the token file, read-only.
    assert!(attack(&config, &format!("read:{token_path}")).await.is_ok());
    let tenant = azmi_emulator::demo::TENANT_ID;
    for url in [
        "https://evil.example/oauth2/v2.0/token".to_owned(),
        format!("https://login.microsoftonline.us/{tenant}/oauth2/v2.0/token"),
        "https://login.microsoftonline.com/other-tenant/oauth2/v2.0/token".to_owned(),
        format!("https://login.microsoftonline.com:8443/{tenant}/oauth2/v2.0/token"),
        format!("http://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
        "https://myvault.vault.azure.net/secrets/x/".to_owned(),
        "http://169.254.169.254/metadata/identity/oauth2/token".to_owned(),
    ] {
        let err = attack(&config, &format!("post:{url}")).await.unwrap_err();
        assert_error!(err, Error::Denied(_), "not on the egress allow-list");
    }
    // The token endpoint itself, by GET, is not the rule either.
    let err = attack(
        &config,
        &format!("http:https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"),
    )
    .await
    .unwrap_err();
    assert_error!(err, Error::Denied(_), "not on the egress allow-list");
    assert_eq!(
        emulator.requests(azmi_emulator::Service::WorkloadIdentity),
        0
    );
    assert!(pod.path().join("beside.key").exists() && !tokens.join("planted").exists());
}
