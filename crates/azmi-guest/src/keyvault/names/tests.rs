use super::*;

#[test]
fn accepts_vaults_of_every_cloud() {
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
        ("https://kv-cn1.vault.azure.cn", "kv-cn1.vault.azure.cn"),
        (
            "https://gov.vault.usgovcloudapi.net",
            "gov.vault.usgovcloudapi.net",
        ),
        (
            "https://de0.vault.microsoftazure.de",
            "de0.vault.microsoftazure.de",
        ),
    ] {
        let v = Vault::parse(url).unwrap();
        assert_eq!(v.host(), host, "{url}");
    }
}

#[test]
fn refuses_non_vault_urls_saying_why() {
    for (url, why) in [
        ("http://myvault.vault.azure.net", "not https"),
        ("https://myvault.vault.azure.net:8443", "port"),
        ("https://myvault.vault.azure.net/secrets/x", "path"),
        ("https://evilvault.azure.net", "not a Key Vault host"),
        ("https://vault.azure.net", "not a Key Vault host"),
        (
            "https://myvault.vault.azure.net.evil.example",
            "not a Key Vault host",
        ),
        ("https://a.b.vault.azure.net", "vault name"),
        ("https://ab.vault.azure.net", "vault name"),
        ("https://1kv.vault.azure.net", "vault name"),
        ("https://my--vault.vault.azure.net", "vault name"),
        ("https://hsm.managedhsm.azure.net", "Managed HSM"),
        ("https://user@myvault.vault.azure.net", "user information"),
        ("https://myvault.vault.azure.net.", "dot"),
        ("https://myvault.vault.azure.net?x", "query"),
        ("myvault.vault.azure.net", "absolute"),
    ] {
        let Err(Error::InvalidArgument(message)) = Vault::parse(url) else {
            panic!("{url} accepted");
        };
        assert!(message.contains(why), "{url}: {message}");
    }
}

#[test]
fn secret_names_and_versions() {
    validate_secret_name("mysecret").unwrap();
    validate_secret_name("db-Password-2").unwrap();
    validate_secret_name(&"a".repeat(127)).unwrap();
    for bad in ["", "a b", "a/b", "../x", "a%2F", "ü", &"a".repeat(128)] {
        assert!(validate_secret_name(bad).is_err(), "{bad}");
    }
    validate_version("4387e9f3d6e14c459867679a90fd0f79").unwrap();
    for bad in ["", "a/b", "x?y", &"a".repeat(65)] {
        assert!(validate_version(bad).is_err(), "{bad}");
    }
}
