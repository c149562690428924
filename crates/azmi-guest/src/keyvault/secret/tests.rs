use super::*;

fn vault() -> Vault {
    Vault::parse("https://myvault.vault.azure.net").unwrap()
}

#[test]
fn parses_a_full_bundle() {
    let body = br#"{"value":"TOPSECRET","id":"https://myvault.vault.azure.net/secrets/mysecret/4387e9f3d6e14c459867679a90fd0f79",
        "contentType":"text/plain","attributes":{"enabled":true,"created":1493938410,"updated":1493938411,"exp":1893456000,"nbf":1493938400,"recoveryLevel":"Recoverable+Purgeable"},
        "tags":{"b":"2","a":"1"},"kid":null,"unknown":{"x":1}}"#;
    let s = parse_secret(body, &vault(), "mysecret", None).unwrap();
    assert_eq!(s.value.expose(), "TOPSECRET");
    assert_eq!(s.version, "4387e9f3d6e14c459867679a90fd0f79");
    assert_eq!(s.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        (s.created, s.updated, s.expires, s.not_before),
        (
            Some(1493938410),
            Some(1493938411),
            Some(1893456000),
            Some(1493938400)
        )
    );
    assert_eq!(
        s.tags,
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    assert!(!format!("{s:?}").contains("TOPSECRET"));
}

#[test]
fn minimal_bundle_defaults() {
    let body = br#"{"value":"v","id":"https://MYVAULT.vault.azure.net:443/secrets/MySecret/abc"}"#;
    let s = parse_secret(body, &vault(), "mysecret", Some("ABC")).unwrap();
    assert!(s.enabled);
    assert_eq!(s.version, "abc");
    assert!(s.tags.is_empty());
}

#[test]
fn refuses_bundles_for_something_else_without_quoting_the_value() {
    for body in [
        r#"{"id":"https://myvault.vault.azure.net/secrets/mysecret/v1"}"#,
        r#"{"value":"SECRETVALUE"}"#,
        r#"{"value":"SECRETVALUE","id":"https://other.vault.azure.net/secrets/mysecret/v1"}"#,
        r#"{"value":"SECRETVALUE","id":"https://myvault.vault.azure.net/secrets/other/v1"}"#,
        r#"{"value":"SECRETVALUE","id":"https://myvault.vault.azure.net/secrets/mysecret"}"#,
        r#"{"value":"SECRETVALUE","id":"https://myvault.vault.azure.net/secrets/mysecret/v2"}"#,
        r#"{"value":"SECRETVALUE","id":"https://myvault.vault.azure.net/secrets/mysecret/v1","attributes":{"created":"x"}}"#,
        r#"{"value":"SECRETVALUE","id":"https://myvault.vault.azure.net/secrets/mysecret/v1","tags":{"a":1}}"#,
        r#"{"value":7,"id":"https://myvault.vault.azure.net/secrets/mysecret/v1"}"#,
        "SECRETVALUE",
    ] {
        let version = body.contains("/v2").then_some("v1");
        let err = parse_secret(body.as_bytes(), &vault(), "mysecret", version).unwrap_err();
        assert!(!err.contains("SECRETVALUE"), "{err}");
    }
}
