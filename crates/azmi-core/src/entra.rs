//! Microsoft Entra's token endpoint, for workload identity: which hosts
//! are Entra authorities, how `AZURE_AUTHORITY_HOST` and a tenant are
//! read, the path a token request goes to and the scope it asks for. The
//! guest builds its request with these, and the host allows exactly that
//! request, so both read the variables the same way.

use std::fmt;

use crate::authority::{Authority, AuthorityError, Scheme, shown};

/// The public cloud's authority, when `AZURE_AUTHORITY_HOST` is not set
/// (as azure-identity defaults).
pub const DEFAULT_AUTHORITY_HOST: &str = "login.microsoftonline.com";

/// The Entra authorities of the public and sovereign clouds, as MSAL knows
/// them. Any other host is refused unless an operator pins it to an
/// address (an emulator, a private proxy).
pub const KNOWN_AUTHORITY_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.usgovcloudapi.net",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.sovcloud-identity.fr",
    "login.sovcloud-identity.de",
    "login.sovcloud-identity.sg",
];

/// The audience of a Kubernetes service-account token meant for Entra.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest tenant accepted (GUIDs and domain names are far shorter).
const MAX_TENANT_LEN: usize = 256;

/// Whether `host` (lower-case, no port) is a known Entra authority.
pub fn is_known_authority(host: &str) -> bool {
    KNOWN_AUTHORITY_HOSTS.contains(&host)
}

/// Why an authority host was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityHostError {
    /// Not https.
    NotHttps,
    /// The text is not `[https://]host[:443][/]`.
    Syntax(&'static str),
    /// The host or port is malformed.
    Authority(AuthorityError),
    /// A port other than 443.
    Port(u16),
}

impl fmt::Display for AuthorityHostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityHostError::NotHttps => {
                f.write_str("is not https; Entra is only reached over TLS")
            }
            AuthorityHostError::Syntax(why) => f.write_str(why),
            AuthorityHostError::Authority(e) => e.fmt(f),
            AuthorityHostError::Port(port) => write!(
                f,
                "names port {port}; Entra is reached on 443 only (to reach an emulator, pin the host with --connect-to)"
            ),
        }
    }
}

/// Reads `AZURE_AUTHORITY_HOST`: `https://host[:443]` with an optional
/// trailing `/` (the workload-identity webhook writes one), or a bare host
/// (azure-identity then assumes https). Returns the host, lower-case.
pub fn parse_authority_host(raw: &str) -> Result<String, AuthorityHostError> {
    use AuthorityHostError::Syntax;
    let raw = raw.trim();
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) || raw.contains('\\') {
        return Err(Syntax(
            "contains whitespace, control characters or a backslash",
        ));
    }
    let rest = match raw.split_once("://") {
        Some((scheme, rest)) => match Scheme::parse(scheme) {
            Some(Scheme::Https) => rest,
            Some(Scheme::Http) => return Err(AuthorityHostError::NotHttps),
            None => return Err(Syntax("has a scheme other than https")),
        },
        None => raw,
    };
    if rest.contains(['?', '#']) {
        return Err(Syntax("has a query or fragment; give https://<host>/"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !matches!(path, "" | "/") {
        return Err(Syntax(
            "has a path; give only the host (https://login.microsoftonline.com/), the tenant is AZURE_TENANT_ID",
        ));
    }
    let authority = Authority::parse(authority).map_err(AuthorityHostError::Authority)?;
    match authority.port {
        None | Some(443) => Ok(authority.host),
        Some(port) => Err(AuthorityHostError::Port(port)),
    }
}

/// Checks a tenant (`AZURE_TENANT_ID`) as azure-identity does: letters,
/// digits, `-` and `.` only, so that it is one path segment.
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    let valid = !tenant.is_empty()
        && tenant.len() <= MAX_TENANT_LEN
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && tenant.bytes().any(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a tenant: give the directory's id (a GUID) or domain, letters, digits, '-' and '.' only",
            shown(tenant)
        ))
    }
}

/// Checks a client id sent to Entra: visible ASCII, at most 256 bytes.
pub fn check_client_id(client_id: &str) -> Result<(), String> {
    let valid = !client_id.is_empty()
        && client_id.len() <= 256
        && client_id.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a client id: give the user-assigned identity's client id (a GUID)",
            shown(client_id)
        ))
    }
}

/// The token endpoint's path for `tenant` (checked by `check_tenant`).
pub fn token_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

/// The scope that asks Entra for a token for `resource`, as the SDKs form
/// it (`https://vault.azure.net` → `https://vault.azure.net/.default`).
pub fn resource_to_scope(resource: &str) -> String {
    format!("{resource}/.default")
}

#[cfg(test)]
mod tests;
