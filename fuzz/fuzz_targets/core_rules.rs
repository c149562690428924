#![no_main]

//! The rules guest and host share (`azmi-core`), each checked against a
//! property that holds for every input, so a parser that accepts something
//! it should not is a crash, not just one that panics.

use std::net::IpAddr;

use azmi_core::address::{
    identity_endpoint_allows, localhost_allows, off_machine_ipv4_form, vault_allows,
};
use azmi_core::authority::{Authority, normalize_name};
use azmi_core::retry::RetrySettings;
use azmi_core::scope::scope_to_resource;
use azmi_core::vault::{check_vault_host, is_secret_request, parse_vault_url};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    addresses(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    authority(text);
    vault_url(text);
    secret_request(text);
    retry_settings(text);
    scope(text);
});

/// Sixteen bytes are an IPv6 address, four an IPv4 one: an identity
/// endpoint's address is never a vault's, never one routed off the machine,
/// and what `localhost` may be is a subset of what an endpoint may be.
fn addresses(data: &[u8]) {
    let ip = match data.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(data).unwrap()),
        16 => IpAddr::from(<[u8; 16]>::try_from(data).unwrap()),
        _ => return,
    };
    if identity_endpoint_allows(ip) {
        assert!(!vault_allows(ip), "{ip} is both local and public");
    }
    if localhost_allows(ip) {
        assert!(identity_endpoint_allows(ip), "{ip}");
    }
    if let IpAddr::V6(v6) = ip
        && off_machine_ipv4_form(v6).is_some()
    {
        assert!(
            !identity_endpoint_allows(ip),
            "{ip} is routed off the machine"
        );
    }
}

/// An accepted authority is canonical: lower-case, and written again it
/// parses to itself.
fn authority(text: &str) {
    let Ok(parsed) = Authority::parse(text) else {
        return;
    };
    assert_eq!(parsed.host, parsed.host.to_ascii_lowercase());
    if !parsed.host.starts_with('[') {
        assert_eq!(
            normalize_name(&parsed.host).as_deref(),
            Ok(parsed.host.as_str())
        );
    }
    let written = match parsed.port {
        Some(port) => format!("{}:{port}", parsed.host),
        None => parsed.host.clone(),
    };
    assert_eq!(Authority::parse(&written), Ok(parsed), "{text:?}");
}

/// A vault URL's host is a vault host, and `https://<host>` is that vault.
fn vault_url(text: &str) {
    let Ok(host) = parse_vault_url(text) else {
        return;
    };
    assert!(check_vault_host(&host).is_ok(), "{text:?} -> {host}");
    assert_eq!(
        parse_vault_url(&format!("https://{host}")).as_deref(),
        Ok(host.as_str())
    );
    assert_eq!(
        Authority::parse(&host).map(|a| a.host).as_deref(),
        Ok(host.as_str())
    );
}

/// A path (and query, after `?`) the vault rule admits has no way out of
/// `/secrets/<name>`: no dot segment, no encoding, no empty segment.
fn secret_request(text: &str) {
    let (path, query) = match text.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (text, None),
    };
    if !is_secret_request(path, query) {
        return;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    assert!((2..=3).contains(&segments.len()), "{text:?}");
    assert_eq!(segments[0], "secrets");
    for segment in &segments[1..] {
        assert!(
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{text:?}"
        );
    }
    if let Some(query) = query {
        assert!(
            query.starts_with("api-version=") && !query.contains(['&', '#', '%']),
            "{text:?}"
        );
    }
}

/// Settings a host could send survive the trip: what is parsed, encoded
/// and parsed again is the same.
fn retry_settings(text: &str) {
    if let Ok(settings) = RetrySettings::parse(text) {
        assert_eq!(
            RetrySettings::parse(&settings.encode()),
            Ok(settings),
            "{text:?}"
        );
    }
}

/// A resource is one token, of bounded length, and taking it as a scope
/// again changes nothing (host and component both normalise).
fn scope(text: &str) {
    let Ok(resource) = scope_to_resource(text) else {
        return;
    };
    assert!(!resource.is_empty() && resource.len() <= azmi_core::scope::MAX_RESOURCE_LEN);
    assert!(
        !resource
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    );
    assert_eq!(
        scope_to_resource(&resource).as_deref(),
        Ok(resource.as_str()),
        "normalising is idempotent"
    );
}
