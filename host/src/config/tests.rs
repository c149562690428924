use super::*;

#[test]
fn imds_endpoints_must_be_local_http() {
    let (rule, base) = parse_imds_endpoint("http://127.0.0.1:8080/").unwrap();
    assert_eq!(
        rule.to_string(),
        "http://127.0.0.1:8080/metadata/identity/oauth2/token"
    );
    assert_eq!(base, "http://127.0.0.1:8080");
    let (rule, base) = parse_imds_endpoint(DEFAULT_IMDS_ENDPOINT).unwrap();
    assert_eq!((rule.port, base.as_str()), (80, DEFAULT_IMDS_ENDPOINT));
    parse_imds_endpoint("http://localhost:9").unwrap();
    for (bad, why) in [
        ("https://127.0.0.1", "not http"),
        ("127.0.0.1:80", "no scheme"),
        ("http://8.8.8.8", "loopback or link-local"),
        ("http://127.0.0.1:99999", "out of range"),
        ("http://127.0.0.1/?x=1", "query"),
    ] {
        let Err(Error::Config(m)) = parse_imds_endpoint(bad) else {
            panic!("{bad} accepted")
        };
        assert!(m.contains(why) && m.contains(bad), "{bad}: {m}");
    }
}

#[test]
fn vaults_must_be_key_vault_hosts_on_443() {
    assert_eq!(
        parse_vault("https://MyVault.vault.azure.net/").unwrap(),
        "myvault.vault.azure.net"
    );
    assert_eq!(
        parse_vault("myvault.vault.azure.net").unwrap(),
        "myvault.vault.azure.net"
    );
    for bad in [
        "http://myvault.vault.azure.net",
        "https://myvault.vault.azure.net:8443",
        "https://evilvault.azure.net",
        "https://a.b.vault.azure.net",
        "https://myvault.vault.azure.net/secrets/x",
    ] {
        assert!(matches!(parse_vault(bad), Err(Error::Config(_))), "{bad}");
    }
}

#[test]
fn guest_env_is_allow_listed() {
    let err = Config::builder()
        .guest_env("PATH", "/bin")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.contains("PATH") && m.contains(IMDS_ENDPOINT_VAR)),
        "{err:?}"
    );
    let config = Config::builder()
        .imds_endpoint("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(
        config.guest_env.get(IMDS_ENDPOINT_VAR).map(String::as_str),
        Some("http://127.0.0.1:9")
    );
    let config = Config::builder().build().unwrap();
    assert!(
        config.guest_env.is_empty(),
        "the default endpoint needs no variable"
    );
}
