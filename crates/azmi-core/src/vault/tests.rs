use super::*;

#[test]
fn vault_hosts_of_every_cloud() {
    for host in [
        "myvault.vault.azure.net",
        "kv-cn1.vault.azure.cn",
        "gov.vault.usgovcloudapi.net",
        "de0.vault.microsoftazure.de",
    ] {
        assert_eq!(check_vault_host(host), Ok(()), "{host}");
    }
    for (host, error) in [
        ("evilvault.azure.net", VaultHostError::NotKeyVault),
        ("vault.azure.net", VaultHostError::NotKeyVault),
        (
            "myvault.vault.azure.net.evil.example",
            VaultHostError::NotKeyVault,
        ),
        ("hsm.managedhsm.azure.net", VaultHostError::ManagedHsm),
        ("a.b.vault.azure.net", VaultHostError::BadName("a.b".into())),
        ("ab.vault.azure.net", VaultHostError::BadName("ab".into())),
        ("1kv.vault.azure.net", VaultHostError::BadName("1kv".into())),
        ("-kv.vault.azure.net", VaultHostError::BadName("-kv".into())),
        ("kv-.vault.azure.net", VaultHostError::BadName("kv-".into())),
        (
            "my--vault.vault.azure.net",
            VaultHostError::BadName("my--vault".into()),
        ),
    ] {
        assert_eq!(check_vault_host(host), Err(error), "{host}");
    }
}

#[test]
fn secret_names_and_versions() {
    assert!(is_secret_name("mysecret") && is_secret_name("db-Password-2"));
    assert!(is_secret_name(&"a".repeat(127)));
    for bad in [
        "",
        "a b",
        "a/b",
        "..",
        "../x",
        "a%2F",
        "ü",
        &"a".repeat(128),
    ] {
        assert!(!is_secret_name(bad), "{bad}");
    }
    assert!(is_secret_version("4387e9f3d6e14c459867679a90fd0f79"));
    for bad in ["", "a/b", "x?y", ".", &"a".repeat(65)] {
        assert!(!is_secret_version(bad), "{bad}");
    }
}

#[test]
fn the_secret_path_grammar_is_exact() {
    let api = Some("api-version=2025-07-01");
    for (path, query) in [
        ("/secrets/mysecret/", api),
        ("/secrets/mysecret", api),
        ("/secrets/mysecret/4387e9f3d6e14c459867679a90fd0f79", api),
        ("/secrets/my-secret-2/", None),
        ("/secrets/x/", Some("api-version=7.6")),
    ] {
        assert!(is_secret_request(path, query), "{path} {query:?}");
    }
    assert_eq!(secret_path("s", None), "/secrets/s/");
    assert_eq!(secret_path("s", Some("v1")), "/secrets/s/v1");
    for (path, query) in [
        ("/secrets/", api),
        ("/secrets//", api),
        ("/secrets/../keys/k", api),
        ("/secrets/./x/", api),
        ("/secrets/x/..", api),
        ("/secrets/%2e%2e/certificates/c", api),
        ("/secrets/..%2Fdeletedsecrets/x", api),
        ("/secrets/x%2F..%2F..%2Fkeys/", api),
        ("/secrets/x/v1/", api),
        ("/secrets/x/v1/extra", api),
        ("/secrets/x//", api),
        ("/secrets/x\\..\\keys/", api),
        ("/Secrets/x/", api),
        ("/keys/k", api),
        ("/secrets/x/", Some("api-version=7.6&x=1")),
        ("/secrets/x/", Some("api-version=")),
        ("/secrets/x/", Some("data=eyJ")),
        ("/secrets/x/", Some("")),
    ] {
        assert!(!is_secret_request(path, query), "{path} {query:?}");
    }
}

#[test]
fn audiences_must_be_the_vaults_cloud() {
    let vault = "myvault.vault.azure.net";
    for ok in [
        "https://vault.azure.net",
        "https://vault.azure.net/",
        "https://vault.azure.net:443",
        "https://VAULT.azure.net",
        "https://azure.net",
    ] {
        assert_eq!(check_audience(ok, vault), Ok(()), "{ok}");
    }
    for not_https in [
        "http://vault.azure.net",
        "vault.azure.net",
        "https://",
        "https://user@vault.azure.net",
    ] {
        assert_eq!(
            check_audience(not_https, vault),
            Err(AudienceError::NotHttps),
            "{not_https}"
        );
    }
    for elsewhere in [
        "https://management.azure.com",
        "https://evil.example",
        "https://myvault.vault.azure.net",
        "https://ault.azure.net",
    ] {
        assert!(
            matches!(
                check_audience(elsewhere, vault),
                Err(AudienceError::NotUnder { .. })
            ),
            "{elsewhere}"
        );
    }
}

#[test]
fn one_answer_to_is_this_a_vault_url() {
    for (url, host) in [
        ("https://myvault.vault.azure.net", "myvault.vault.azure.net"),
        (
            "https://MyVault.Vault.Azure.Net/",
            "myvault.vault.azure.net",
        ),
        (
            "https://myvault.vault.azure.net:443",
            "myvault.vault.azure.net",
        ),
        (" https://kv-cn1.vault.azure.cn ", "kv-cn1.vault.azure.cn"),
        (
            "https://gov.vault.usgovcloudapi.net",
            "gov.vault.usgovcloudapi.net",
        ),
        (
            "https://de0.vault.microsoftazure.de",
            "de0.vault.microsoftazure.de",
        ),
    ] {
        assert_eq!(parse_vault_url(url).as_deref(), Ok(host), "{url}");
    }
    for (url, why) in [
        ("myvault.vault.azure.net", "absolute URL"),
        ("http://myvault.vault.azure.net", "not https"),
        ("ftp://myvault.vault.azure.net", "other than https"),
        ("https://myvault.vault.azure.net:8443", "port 8443"),
        ("https://myvault.vault.azure.net/secrets/x", "has a path"),
        ("https://myvault.vault.azure.net?x", "query"),
        ("https://myvault.vault.azure.net#x", "query or fragment"),
        ("https://user@myvault.vault.azure.net", "user information"),
        ("https://myvault.vault.azure.net.", "dot"),
        ("https://my vault.vault.azure.net", "whitespace"),
        ("https://myvault.vault.azure.net\\x", "backslash"),
        ("https://evilvault.azure.net", "not a Key Vault host"),
        ("https://hsm.managedhsm.azure.net", "Managed HSM"),
        ("https://vault.azure.net", "not a Key Vault host"),
        (
            "https://myvault.vault.azure.net.evil.example",
            "not a Key Vault host",
        ),
        ("https://a.b.vault.azure.net", "vault name"),
        ("https://ab.vault.azure.net", "vault name"),
        ("https://1kv.vault.azure.net", "vault name"),
        ("https://my--vault.vault.azure.net", "vault name"),
    ] {
        let err = parse_vault_url(url).unwrap_err();
        assert!(err.to_string().contains(why), "{url}: {err}");
    }
}
