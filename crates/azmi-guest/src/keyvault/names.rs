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
mod tests;
