//! Vault URLs, secret names and versions, validated before anything is sent,
//! by the rules the host's allow-list applies too (`azmi_core::vault`).

use crate::error::{Error, sanitize_message};

/// A validated vault: `https://<name>.<suffix>` on port 443.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vault {
    host: String,
}

impl Vault {
    /// Parses and validates a vault URL. The suffix must follow a dot, so
    /// `evilvault.azure.net` is not a vault.
    pub(crate) fn parse(input: &str) -> Result<Vault, Error> {
        azmi_core::vault::parse_vault_url(input)
            .map(|host| Vault { host })
            .map_err(|why| {
                Error::InvalidArgument(format!(
                    "the vault URL `{}` {why}",
                    sanitize_message(input, None)
                ))
            })
    }

    /// The vault's host name, lower-case.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }
}

/// Secret names: 1-127 letters, digits and hyphens (the service's rule), so
/// a name is always one safe path segment.
pub(crate) fn validate_secret_name(name: &str) -> Result<(), Error> {
    if azmi_core::vault::is_secret_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the secret name `{}` is not valid; secret names are 1-127 letters, digits and hyphens",
            sanitize_message(name, None)
        )))
    }
}

/// Versions are 32 hexadecimal characters in practice; anything of letters
/// and digits up to 64 is passed on, anything else refused.
pub(crate) fn validate_version(version: &str) -> Result<(), Error> {
    if azmi_core::vault::is_secret_version(version) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "the secret version `{}` is not valid; a version is the 32-character id shown in the vault (omit it for the latest)",
            sanitize_message(version, None)
        )))
    }
}

#[cfg(test)]
mod tests {
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
}
