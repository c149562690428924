use std::net::IpAddr;

use super::*;

fn policy() -> EgressPolicy {
    EgressPolicy {
        identity_endpoints: vec![EndpointRule {
            method: http::Method::GET,
            scheme: Scheme::Http,
            host: "127.0.0.1".into(),
            port: 4444,
            path: IMDS_TOKEN_PATH.into(),
            trust: TlsTrust::WebPki,
            reach: Reach::Local,
        }],
        vaults: vec!["myvault.vault.azure.net".into()],
        connect_to: vec![
            "myvault.vault.azure.net:443:127.0.0.1:8443"
                .parse()
                .unwrap(),
        ],
    }
}

fn check(uri: &str) -> Result<Destination, String> {
    policy().check(&http::Method::GET, &uri.parse::<http::Uri>().unwrap())
}

#[test]
fn allows_exactly_the_configured_destinations() {
    let d = check("http://127.0.0.1:4444/metadata/identity/oauth2/token?api-version=2018-02-01")
        .unwrap();
    assert_eq!(
        (d.kind, d.port, d.pinned),
        (DestinationKind::IdentityEndpoint, 4444, None)
    );
    let d = check("https://MyVault.vault.azure.net/secrets/mysecret/?api-version=7.6").unwrap();
    assert_eq!(d.kind, DestinationKind::Vault);
    assert_eq!(d.host, "myvault.vault.azure.net");
    assert_eq!(d.pinned, Some(("127.0.0.1".into(), 8443)));
    check("https://myvault.vault.azure.net:443/secrets/x/").unwrap();
}

#[test]
fn denies_everything_else_saying_what_is_allowed() {
    for uri in [
        "http://127.0.0.1:4445/metadata/identity/oauth2/token", // another port
        "http://127.0.0.2:4444/metadata/identity/oauth2/token", // another host
        "https://127.0.0.1:4444/metadata/identity/oauth2/token", // another scheme
        "http://127.0.0.1:4444/metadata/instance",              // another path
        "http://169.254.169.254/metadata/identity/oauth2/token", // IMDS not configured
        "http://myvault.vault.azure.net/secrets/x/",            // vault over http
        "https://myvault.vault.azure.net:8443/secrets/x/",      // vault on another port
        "https://myvault.vault.azure.net/keys/k",               // not a secret
        "https://myvault.vault.azure.net/secrets/../keys/k",    // dot segments
        "https://myvault.vault.azure.net/secrets/%2e%2e/certificates/c",
        "https://myvault.vault.azure.net/secrets/..%2Fdeletedsecrets/x",
        "https://myvault.vault.azure.net/secrets/x/v1/extra",
        "https://myvault.vault.azure.net/secrets/x/?api-version=7.6&exfiltrate=1",
        "https://myvault.vault.azure.net/secrets/",
        "https://othervault.vault.azure.net/secrets/x/", // another vault
        "https://myvault.vault.azure.net.evil.example/secrets/x/",
        "http://[::ffff:127.0.0.1]:4444/metadata/identity/oauth2/token",
        "http://2130706433:4444/metadata/identity/oauth2/token",
        "http://0x7f000001:4444/metadata/identity/oauth2/token",
        "http://localhost:4444/metadata/identity/oauth2/token",
    ] {
        let reason = check(uri).unwrap_err();
        assert!(
            reason.contains("not on the egress allow-list"),
            "{uri}: {reason}"
        );
        assert!(
            reason.contains("identity endpoint GET http://127.0.0.1:4444"),
            "{reason}"
        );
    }
}

#[test]
fn address_rules_follow_the_destination() {
    let identity = check("http://127.0.0.1:4444/metadata/identity/oauth2/token").unwrap();
    assert_eq!(identity.address_rule(), AddressRule::IdentityEndpoint);
    let vault = check("https://myvault.vault.azure.net/secrets/x/").unwrap();
    assert_eq!(vault.address_rule(), AddressRule::Vault);
    let localhost = EgressPolicy {
        identity_endpoints: vec![EndpointRule {
            host: "localhost".into(),
            ..policy().identity_endpoints[0].clone()
        }],
        ..EgressPolicy::default()
    }
    .check(
        &http::Method::GET,
        &"http://localhost:4444/metadata/identity/oauth2/token"
            .parse()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(localhost.address_rule(), AddressRule::Localhost);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(AddressRule::Localhost.allows(ip("127.0.0.1")));
    assert!(!AddressRule::Localhost.allows(ip("169.254.169.254")));
    assert!(AddressRule::IdentityEndpoint.allows(ip("169.254.169.254")));
    assert!(!AddressRule::IdentityEndpoint.allows(ip("64:ff9b::7f00:1")));
}

#[test]
fn the_method_must_match_too() {
    let reason = policy()
        .check(
            &http::Method::POST,
            &"http://127.0.0.1:4444/metadata/identity/oauth2/token"
                .parse()
                .unwrap(),
        )
        .unwrap_err();
    assert!(reason.starts_with("POST http://127.0.0.1:4444"), "{reason}");
    let reason = policy()
        .check(
            &http::Method::DELETE,
            &"https://myvault.vault.azure.net/secrets/x/"
                .parse()
                .unwrap(),
        )
        .unwrap_err();
    assert!(reason.contains("not on the egress allow-list"), "{reason}");
}

#[test]
fn malformed_authorities_are_denied() {
    for authority in [
        "127.0.0.1:",
        "127.0.0.1:abc",
        "127.0.0.1:0",
        "127.0.0.1:99999",
        "u@127.0.0.1:4444",
        "myvault.vault.azure.net.",
    ] {
        let err = split_authority(authority, Scheme::Http).unwrap_err();
        assert!(!err.is_empty(), "{authority}");
    }
    assert_eq!(
        split_authority("[::1]:80", Scheme::Http).unwrap(),
        ("[::1]".into(), 80)
    );
    assert_eq!(
        split_authority("LOCALHOST", Scheme::Https).unwrap(),
        ("localhost".into(), 443)
    );
}

#[test]
fn an_empty_policy_denies_all() {
    let reason = EgressPolicy::default()
        .check(&http::Method::GET, &"http://127.0.0.1/".parse().unwrap())
        .unwrap_err();
    assert!(reason.contains("nothing is allowed"), "{reason}");
}

#[test]
fn connect_to_parses_like_curl() {
    let c: ConnectTo = "myvault.vault.azure.net:443:127.0.0.1:8443"
        .parse()
        .unwrap();
    assert_eq!(
        (
            c.host.as_str(),
            c.port,
            c.target_host.as_str(),
            c.target_port
        ),
        ("myvault.vault.azure.net", 443, "127.0.0.1", 8443)
    );
    let c: ConnectTo = "[::1]:80:[::1]:8080".parse().unwrap();
    assert_eq!(
        (c.host.as_str(), c.target_host.as_str()),
        ("[::1]", "[::1]")
    );
    for bad in [
        "a:443:b",
        "a:443:b:",
        "a:x:b:1",
        "a:443:b:0",
        ":443:b:1",
        "a:443:b:1:2",
        "a b:1:c:2",
    ] {
        let err = bad.parse::<ConnectTo>().unwrap_err();
        assert!(err.contains("HOST:PORT:ADDR:PORT2"), "{bad}: {err}");
    }
}

#[test]
fn entra_is_reached_by_exactly_its_post_and_at_public_addresses_only() {
    let policy = EgressPolicy {
        identity_endpoints: vec![EndpointRule {
            method: http::Method::POST,
            scheme: Scheme::Https,
            host: "login.microsoftonline.com".into(),
            port: 443,
            path: "/tenant-1/oauth2/v2.0/token".into(),
            trust: TlsTrust::WebPki,
            reach: Reach::Internet,
        }],
        ..EgressPolicy::default()
    };
    let entra = policy
        .check(
            &http::Method::POST,
            &"https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(entra.kind, DestinationKind::IdentityEndpoint);
    assert_eq!(entra.address_rule(), AddressRule::Authority);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(AddressRule::Authority.allows(ip("20.190.151.1")));
    for private in ["127.0.0.1", "169.254.169.254", "10.0.0.1", "::1"] {
        assert!(!AddressRule::Authority.allows(ip(private)), "{private}");
    }
    for other in [
        "https://login.microsoftonline.com/tenant-2/oauth2/v2.0/token",
        "https://login.microsoftonline.com:8443/tenant-1/oauth2/v2.0/token",
        "http://login.microsoftonline.com/tenant-1/oauth2/v2.0/token",
        "https://evil.example/tenant-1/oauth2/v2.0/token",
    ] {
        assert!(
            policy
                .check(&http::Method::POST, &other.parse().unwrap())
                .is_err(),
            "{other}"
        );
    }
    assert!(
        policy
            .check(
                &http::Method::GET,
                &"https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
                    .parse()
                    .unwrap()
            )
            .is_err()
    );
}
