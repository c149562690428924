use super::*;

// Which URLs are vaults is azmi_core::vault's rule, tested there; here,
// that the guest keeps its answer and says which URL it refused and why.
#[test]
fn a_vault_is_core_s_answer_and_a_refusal_names_the_url() {
    let vault = Vault::parse("https://MyVault.Vault.Azure.Net/").unwrap();
    assert_eq!(vault.host(), "myvault.vault.azure.net");
    for (url, why) in [
        ("http://myvault.vault.azure.net", "not https"),
        ("https://evilvault.azure.net", "not a Key Vault host"),
        ("https://my--vault.vault.azure.net", "vault name"),
    ] {
        let Err(Error::InvalidArgument(message)) = Vault::parse(url) else {
            panic!("{url} accepted");
        };
        assert!(message.contains(url), "{url}: {message}");
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
