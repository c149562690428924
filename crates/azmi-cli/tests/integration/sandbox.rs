//! The sandbox's guarantees, proven through the real component: requests
//! off the allow-list are refused before any connection (counting
//! listeners see nothing), resolved addresses are checked, and limits stop
//! a call cleanly.

use azmi_testkit::assert_error;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use azmi::{CallLimits, Config, Error, Identity, StaticResolver};

use crate::support::{RawServer, Reply, config_for, credential, emulator, token_error};

const VAULT: &str = "https://vault.azure.net";

#[tokio::test]
async fn identity_endpoint_on_another_port_is_denied_without_connecting() {
    let emulator = emulator().await;
    let listener = RawServer::counting().await;
    // The component is told to use the listener; the policy allows only the emulator.
    let config = config_for(&emulator)
        .guest_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", listener.url())
        .build()
        .unwrap();
    let err = token_error(config).await;
    let Error::Denied(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains(&listener.addr.to_string())
            && reason.contains("not on the egress allow-list"),
        "{reason}"
    );
    assert!(
        reason.contains(&emulator.imds_endpoint()),
        "the reason lists what is allowed: {reason}"
    );
    assert_eq!(listener.accepted(), 0, "a denied request connected");
    assert_eq!(emulator.imds_requests(), 0);
}

#[tokio::test]
async fn identity_endpoint_on_another_host_is_denied_without_connecting() {
    let emulator = emulator().await;
    let imds_port: u16 = emulator
        .imds_endpoint()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Same port as the allowed endpoint, another loopback address.
    let listener = RawServer::start(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        imds_port,
        Reply::Close,
    )
    .await;
    let config = config_for(&emulator)
        .guest_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", listener.url())
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert!(matches!(err, Error::Denied(_)), "{err:?}");
    assert_eq!(listener.accepted(), 0, "a denied request connected");
}

#[tokio::test]
async fn a_vault_that_is_not_allowed_is_denied_without_connecting() {
    let emulator = emulator().await;
    let listener = RawServer::counting().await;
    // Even pinned to a live listener, a vault off the allow-list is not contacted.
    let pin = format!(
        "othervault.vault.azure.net:443:127.0.0.1:{}",
        listener.addr.port()
    );
    let config = config_for(&emulator)
        .connect_to(pin.parse().unwrap())
        .build()
        .unwrap();
    let err = credential(config)
        .get_secret(
            "https://othervault.vault.azure.net",
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap_err();
    let Error::Denied(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(reason.starts_with("GET https://othervault.vault.azure.net:443/secrets/mysecret/ is not on the egress allow-list"), "{reason}");
    assert_eq!(listener.accepted(), 0);
    assert_eq!(emulator.vault_requests(), 0);
}

#[tokio::test]
async fn a_vault_name_resolving_to_loopback_is_refused_unless_pinned() {
    let emulator = emulator().await;
    let resolver =
        StaticResolver::new().insert("myvault.vault.azure.net", IpAddr::V4(Ipv4Addr::LOCALHOST));
    let config = azmi::Config::builder()
        .imds_endpoint(emulator.imds_endpoint())
        .allow_vault(emulator.vault_url())
        .add_root_certificates_pem(emulator.ca_pem().as_bytes(), "emulator CA")
        .unwrap()
        .resolver(Arc::new(resolver))
        .build()
        .unwrap();
    let err = credential(config)
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap_err();
    let Error::Denied(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("resolved to 127.0.0.1") && reason.contains("public addresses"),
        "{reason}"
    );
    assert_eq!(emulator.vault_requests(), 0);
}

#[tokio::test]
async fn localhost_must_resolve_to_a_local_address() {
    let emulator = emulator().await;
    let port = emulator
        .imds_endpoint()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let endpoint = format!("http://localhost:{port}");
    let local = StaticResolver::new().insert("localhost", IpAddr::V4(Ipv4Addr::LOCALHOST));
    let config = Config::builder()
        .imds_endpoint(&endpoint)
        .resolver(Arc::new(local))
        .build()
        .unwrap();
    credential(config)
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();

    // A resolver that sends `localhost` elsewhere is not believed: not to
    // another network, not to the link (another machine), not to IPv6
    // forms that only carry a loopback address, and not half-way.
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for answer in [
        vec!["192.0.2.1"], // TEST-NET-1, never routed
        vec!["169.254.169.254"],
        vec!["fe80::1"],
        vec!["64:ff9b::7f00:1"],
        vec!["2002:7f00:1::"],
        vec!["::7f00:1"],
        vec!["127.0.0.1", "169.254.169.254"],
    ] {
        let rebound = answer.iter().fold(StaticResolver::new(), |r, ip| {
            r.insert("localhost", ip.parse().unwrap())
        });
        let config = Config::builder()
            .imds_endpoint(&endpoint)
            .resolver(Arc::new(rebound))
            .build()
            .unwrap();
        let err = token_error(config).await;
        let Error::Denied(reason) = &err else {
            panic!("{answer:?}: {err:?}")
        };
        let refused: Vec<&&str> = answer
            .iter()
            .filter(|ip| ip.parse::<IpAddr>().unwrap() != loopback)
            .collect();
        assert!(
            reason.contains(&format!("resolved to {}", refused[0]))
                && reason.contains("localhost must resolve to a loopback address"),
            "{answer:?}: {reason}"
        );
    }
    assert_eq!(
        emulator.imds_requests(),
        1,
        "only the first, loopback, configuration reached the emulator"
    );
}

#[tokio::test]
async fn a_name_that_does_not_resolve_means_unavailable() {
    let config = Config::builder()
        .imds_endpoint("http://localhost:8080")
        .resolver(Arc::new(StaticResolver::new()))
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert_error!(err, Error::Unavailable(_), "did not resolve");
}

#[tokio::test]
async fn an_oversized_token_response_is_refused() {
    let body = format!(
        r#"{{"access_token":"{}","expires_in":3600}}"#,
        "a".repeat(100 * 1024)
    );
    let server = RawServer::http(200, body.as_bytes()).await;
    let config = Config::builder()
        .imds_endpoint(server.url())
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert_error!(err, Error::InvalidResponse(_), "larger than");
}

#[tokio::test]
async fn a_silent_endpoint_is_a_timeout_within_the_call_deadline() {
    let server = RawServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, Reply::Silent).await;
    let config = Config::builder()
        .imds_endpoint(server.url())
        .timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let err = token_error(config).await;
    // The component cuts its own request to what remains of the call and
    // reports the read timeout itself, before the host has to stop it.
    assert_error!(err, Error::Timeout(_), "did not answer in time");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn the_memory_limit_stops_the_component() {
    let emulator = emulator().await;
    let limits = CallLimits::default().memory_bytes(64 * 1024);
    let config = config_for(&emulator).call_limits(limits).build().unwrap();
    let err = token_error(config).await;
    assert_error!(err, Error::ResourceLimit(_), "memory limit of 65536 bytes");
    assert_eq!(emulator.imds_requests(), 0);
}

#[tokio::test]
async fn a_vault_certificate_from_an_unknown_ca_is_refused() {
    let emulator = emulator().await;
    let config = Config::builder()
        .imds_endpoint(emulator.imds_endpoint())
        .allow_vault(emulator.vault_url())
        .connect_to(emulator.connect_to())
        .build()
        .unwrap();
    let err = credential(config)
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap_err();
    assert_error!(err, Error::Other(_), "TLS", "not trusted");
}

#[tokio::test]
async fn refused_responses_are_final() {
    // A body over the cap without a Content-Length (chunked, endless), and
    // heads that never end in a final response: each is `invalid-response`
    // after one request, not retried as if the connection had been cut.
    for (reply, why) in [
        (Reply::endless_chunked_body(), "larger than 65536 bytes"),
        (Reply::endless_informational(), "informational"),
    ] {
        let server = RawServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), 0, reply).await;
        let config = Config::builder()
            .imds_endpoint(server.url())
            .build()
            .unwrap();
        let err = token_error(config).await;
        assert_error!(err, Error::InvalidResponse(_), why);
        assert_eq!(server.accepted(), 1, "{why}: retried");
    }
}
