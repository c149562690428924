//! Entry points for the fuzz targets in `fuzz/`, compiled only with the
//! `fuzzing` feature: the host's parsers of component-controlled input.
//! Each must return, never panic, for any input, and what it allows must
//! obey the allow-list's rules, which are asserted here independently of
//! the code under test.

use crate::policy::{
    ConnectTo, DestinationKind, EgressPolicy, EndpointRule, Reach, Scheme, TlsTrust,
};

/// `EgressPolicy::check` on a request the component could build: `data`
/// holds method, scheme, authority and path-with-query separated by NUL
/// bytes, put together into a URI as wasi-http puts a request's parts
/// together.
pub fn egress_check(data: &[u8]) {
    let mut parts = data.splitn(4, |b| *b == 0);
    let (Some(method), Some(scheme), Some(authority), Some(path)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let Ok(method) = http::Method::from_bytes(method) else {
        return;
    };
    let Ok(uri) = http::Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path)
        .build()
    else {
        return;
    };
    let policy = policy();
    let Ok(destination) = policy.check(&method, &uri) else {
        return;
    };
    let _ = destination.to_string();
    let path = uri.path();
    match destination.kind {
        DestinationKind::IdentityEndpoint => {
            let rule = policy
                .identity_endpoints
                .iter()
                .find(|r| r.host == destination.host && r.port == destination.port)
                .expect("an allowed identity endpoint is one of the rules");
            assert_eq!(
                (&method, rule.scheme, rule.path.as_str()),
                (&rule.method, destination.scheme, path)
            );
        }
        DestinationKind::Vault => {
            assert_eq!(method, http::Method::GET);
            assert_eq!((destination.scheme, destination.port), (Scheme::Https, 443));
            assert!(policy.vaults.contains(&destination.host));
            let rest = path.strip_prefix("/secrets/").expect("a secret path");
            assert!(!rest.is_empty() && rest.split('/').count() <= 2, "{path}");
            for forbidden in ["..", "%", "//", "\\", "./", "?"] {
                assert!(!rest.contains(forbidden), "{path}");
            }
            if let Some(query) = uri.query() {
                assert!(
                    query.starts_with("api-version=") && !query.contains('&'),
                    "{query}"
                );
            }
        }
    }
}

/// `ConnectTo` as an operator spells it.
pub fn connect_to(text: &str) {
    if let Ok(pin) = text.parse::<ConnectTo>() {
        let _ = pin
            .to_string()
            .parse::<ConnectTo>()
            .expect("a pin's text parses again");
    }
}

fn policy() -> EgressPolicy {
    let rule = |host: &str, port, path: &str| EndpointRule {
        method: http::Method::GET,
        scheme: Scheme::Http,
        host: host.into(),
        port,
        path: path.into(),
        trust: TlsTrust::WebPki,
        reach: Reach::Local,
    };
    EgressPolicy {
        identity_endpoints: vec![
            rule("169.254.169.254", 80, azmi_core::IMDS_TOKEN_PATH),
            rule("localhost", 40342, azmi_core::IMDS_TOKEN_PATH),
            rule("[::1]", 8081, "/msi/token"),
        ],
        vaults: vec!["myvault.vault.azure.net".into()],
        connect_to: vec![
            "myvault.vault.azure.net:443:127.0.0.1:8443"
                .parse()
                .expect("a valid pin"),
        ],
    }
}
