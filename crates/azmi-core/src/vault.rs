//! Azure Key Vault's naming rules, written once for the component that
//! builds requests and the host that allows them: which hosts are vaults,
//! which secret names and versions exist, the exact request path a secret
//! read uses, and which token audience a vault may ask for.

use std::fmt;

use crate::authority::{Authority, AuthorityError, Scheme};

/// Key Vault DNS suffixes of the public, China, US Government and Germany
/// clouds; a vault host is `<vault-name>.<suffix>`. Managed HSM suffixes
/// are absent on purpose: an HSM holds keys, not secrets.
pub const KEY_VAULT_SUFFIXES: &[&str] = &[
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
];

/// The suffixes as a message shows them.
pub const KEY_VAULT_SUFFIXES_SHOWN: &str =
    ".vault.azure.net, .vault.azure.cn, .vault.usgovcloudapi.net or .vault.microsoftazure.de";

/// Longest secret name the service accepts.
pub const MAX_SECRET_NAME: usize = 127;
/// Longest secret version passed on (real ones are 32 hexadecimal digits).
pub const MAX_SECRET_VERSION: usize = 64;

/// Why a host is not a vault host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultHostError {
    /// It does not end in a Key Vault suffix after a dot.
    NotKeyVault,
    /// It is a Managed HSM, which holds keys, not secrets.
    ManagedHsm,
    /// The part before the suffix is not a vault name.
    BadName(String),
}

impl fmt::Display for VaultHostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultHostError::NotKeyVault => write!(
                f,
                "is not a Key Vault host; it must end in {KEY_VAULT_SUFFIXES_SHOWN}"
            ),
            VaultHostError::ManagedHsm => {
                f.write_str("is a Managed HSM, which holds keys, not secrets")
            }
            VaultHostError::BadName(name) => write!(
                f,
                "has vault name `{name}`; vault names are 3-24 letters, digits and single hyphens, starting with a letter"
            ),
        }
    }
}

/// Checks that `host` (lower-case, no port) is `<vault-name>.<suffix>`:
/// the suffix must follow a dot, so `evilvault.azure.net` is not a vault,
/// and the name must be one the service could have created.
pub fn check_vault_host(host: &str) -> Result<(), VaultHostError> {
    if host.contains(".managedhsm.") {
        return Err(VaultHostError::ManagedHsm);
    }
    let name = KEY_VAULT_SUFFIXES
        .iter()
        .find_map(|suffix| host.strip_suffix(suffix)?.strip_suffix('.'))
        .ok_or(VaultHostError::NotKeyVault)?;
    if is_vault_name(name) {
        Ok(())
    } else {
        Err(VaultHostError::BadName(name.chars().take(64).collect()))
    }
}

/// Why a vault URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultUrlError {
    /// It is not an absolute URL of the form `https://host[:443][/]`.
    Syntax(&'static str),
    /// Another scheme than https.
    NotHttps,
    /// Its authority is not valid.
    Authority(AuthorityError),
    /// A port other than 443.
    Port(u16),
    /// A path other than `/`.
    Path,
    /// The host is not a Key Vault host.
    Host(VaultHostError),
}

impl fmt::Display for VaultUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultUrlError::Syntax(why) => f.write_str(why),
            VaultUrlError::NotHttps => f.write_str(
                "is not https; Key Vault is only reached over TLS, and a bearer token is never sent in the clear",
            ),
            VaultUrlError::Authority(e) => e.fmt(f),
            VaultUrlError::Port(port) => write!(
                f,
                "names port {port}; Key Vault listens on 443 only (to reach an emulator, map the vault with azmi --connect-to)"
            ),
            VaultUrlError::Path => {
                f.write_str("has a path; give only https://<vault-name>.vault.azure.net")
            }
            VaultUrlError::Host(e) => e.fmt(f),
        }
    }
}

/// The one answer to "is this a vault URL": `https://<vault-name>.<suffix>`
/// with nothing but an optional `:443` and `/` after it (no bare host, no
/// path, query, fragment or user information). Returns the vault's host,
/// lower-case.
pub fn parse_vault_url(input: &str) -> Result<String, VaultUrlError> {
    use VaultUrlError::Syntax;
    let input = input.trim();
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Syntax("contains whitespace or control characters"));
    }
    if input.contains('\\') {
        return Err(Syntax("contains a backslash"));
    }
    let (scheme, rest) = input.split_once("://").ok_or(Syntax(
        "is not an absolute URL (give https://<vault-name>.vault.azure.net)",
    ))?;
    match Scheme::parse(scheme) {
        Some(Scheme::Https) => {}
        Some(Scheme::Http) => return Err(VaultUrlError::NotHttps),
        None => return Err(Syntax("has a scheme other than https")),
    }
    if rest.contains(['?', '#']) {
        return Err(Syntax(
            "has a query or fragment; give only https://<vault-name>.vault.azure.net",
        ));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = Authority::parse(authority).map_err(VaultUrlError::Authority)?;
    match authority.port {
        None | Some(443) => {}
        Some(port) => return Err(VaultUrlError::Port(port)),
    }
    if !matches!(path, "" | "/") {
        return Err(VaultUrlError::Path);
    }
    check_vault_host(&authority.host).map_err(VaultUrlError::Host)?;
    Ok(authority.host)
}

/// Vault names: 3-24 letters, digits and hyphens, starting with a letter,
/// ending with a letter or digit, no consecutive hyphens.
pub fn is_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Secret names: 1-127 letters, digits and hyphens, so a name is always one
/// safe path segment.
pub fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SECRET_NAME
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Secret versions: 1-64 letters and digits.
pub fn is_secret_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= MAX_SECRET_VERSION
        && version.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The path of a secret read: `/secrets/<name>/` for the latest version
/// (with the trailing slash the SDKs send) or `/secrets/<name>/<version>`.
pub fn secret_path(name: &str, version: Option<&str>) -> String {
    format!("/secrets/{name}/{}", version.unwrap_or_default())
}

/// Whether `path` and `query` are exactly a secret read: `/secrets/<name>`,
/// `/secrets/<name>/` or `/secrets/<name>/<version>` with a valid name and
/// version, and no query or only `api-version=<version>`. Dot segments,
/// percent-encoding, empty segments and anything after the version are
/// refused, since no valid name contains them.
pub fn is_secret_request(path: &str, query: Option<&str>) -> bool {
    let Some(rest) = path.strip_prefix("/secrets/") else {
        return false;
    };
    let (name, version) = match rest.split_once('/') {
        None => (rest, None),
        Some((name, "")) => (name, None),
        Some((name, version)) => (name, Some(version)),
    };
    is_secret_name(name)
        && version.is_none_or(is_secret_version)
        && query.is_none_or(is_api_version_query)
}

fn is_api_version_query(query: &str) -> bool {
    query.strip_prefix("api-version=").is_some_and(|v| {
        !v.is_empty()
            && v.len() <= 32
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    })
}

/// Why a vault's challenge names an audience the vault may not ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudienceError {
    /// The resource is not an `https://host` URL.
    NotHttps,
    /// The vault's host does not lie under the resource's host.
    NotUnder {
        /// The resource's host.
        audience_host: String,
    },
}

/// The audience rule of the Key Vault challenge, as the SDKs apply it: the
/// challenge's resource must be an `https` URL whose host the vault's host
/// lies under after a dot (`https://vault.azure.net` for
/// `myvault.vault.azure.net`), so a fake vault cannot obtain a token for
/// another audience (Azure Resource Manager, Graph, another vault).
pub fn check_audience(resource: &str, vault_host: &str) -> Result<(), AudienceError> {
    let host = resource
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .map(|authority| {
            authority
                .rsplit_once(':')
                .map_or(authority, |(h, _)| h)
                .to_ascii_lowercase()
        })
        .filter(|h| !h.is_empty() && !h.contains('@'))
        .ok_or(AudienceError::NotHttps)?;
    let vault_host = vault_host.to_ascii_lowercase();
    match vault_host.strip_suffix(host.as_str()) {
        Some(prefix) if prefix.ends_with('.') => Ok(()),
        _ => Err(AudienceError::NotUnder {
            audience_host: host,
        }),
    }
}

#[cfg(test)]
mod tests;
