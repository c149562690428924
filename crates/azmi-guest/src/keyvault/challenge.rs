//! Key Vault's authentication challenge, as the SDKs handle it: the first request goes without a token, the 401 says
//! `WWW-Authenticate: Bearer authorization="…", resource="…"` (or
//! `scope="…"`), and the client checks that the vault's host lies under
//! the challenge resource's host before asking for a token, so a fake
//! vault cannot harvest a token for some other audience.

use super::Vault;
use crate::error::{Error, sanitize_message};

/// Longest challenge header read; real ones are about 150 bytes.
const MAX_HEADER: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The token's resource (a scope's `/.default` removed).
    pub(crate) resource: String,
    pub(crate) tenant: Option<String>,
}

fn refused(why: String) -> Error {
    Error::InvalidResponse(format!(
        "the vault's authentication challenge was refused: {why}"
    ))
}

/// Parses a `Bearer` challenge. The error quotes the header (it holds no
/// credential), shortened.
pub(crate) fn parse(header: Option<&str>) -> Result<Challenge, Error> {
    let header = header.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(refused("its 401 carried no WWW-Authenticate header".into()));
    }
    if header.len() > MAX_HEADER {
        return Err(refused(format!(
            "the WWW-Authenticate header is longer than {MAX_HEADER} bytes"
        )));
    }
    let shown = sanitize_message(header, None);
    let (scheme, params) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(refused(format!(
            "WWW-Authenticate `{shown}` is not a Bearer challenge"
        )));
    }
    let mut authorization = None;
    let mut resource = None;
    let mut scope = None;
    for (key, value) in split_params(params)
        .ok_or_else(|| refused(format!("WWW-Authenticate `{shown}` is malformed")))?
    {
        match key.to_ascii_lowercase().as_str() {
            "authorization" | "authorization_uri" => authorization = Some(value),
            "resource" => resource = Some(value),
            "scope" => scope = Some(value),
            _ => {}
        }
    }
    let resource = match (scope, resource) {
        (Some(scope), _) => scope.strip_suffix("/.default").unwrap_or(&scope).to_owned(),
        (None, Some(resource)) => resource,
        (None, None) => {
            return Err(refused(format!(
                "WWW-Authenticate `{shown}` names neither resource nor scope"
            )));
        }
    };
    // The tenant is the authorization URI's first path segment; ADFS
    // authorities (Azure Stack) name none.
    let tenant = authorization
        .as_deref()
        .and_then(|uri| uri.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split('/').nth(1))
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("adfs"))
        .map(str::to_owned);
    Ok(Challenge { resource, tenant })
}

/// `key=value` or `key="value"` pairs separated by commas.
fn split_params(params: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        pairs.push((key.trim().to_owned(), value.to_owned()));
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(pairs)
}

/// The vault's host must lie under the challenge resource's host
/// (`azmi_core::vault::check_audience`, which the host applies again).
pub(crate) fn verify(challenge: &Challenge, vault: &Vault) -> Result<(), Error> {
    use azmi_core::vault::{AudienceError, check_audience};
    match check_audience(&challenge.resource, vault.host()) {
        Ok(()) => Ok(()),
        Err(AudienceError::NotHttps) => Err(refused(format!(
            "its resource `{}` is not an https URL",
            sanitize_message(&challenge.resource, None)
        ))),
        Err(AudienceError::NotUnder { audience_host }) => Err(refused(format!(
            "it asks for a token for `{}`, and {} is not under that domain; a vault only ever asks for its own cloud's Key Vault audience",
            sanitize_message(&audience_host, None),
            vault.host()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault() -> Vault {
        Vault::parse("https://myvault.vault.azure.net").unwrap()
    }

    #[test]
    fn parses_the_service_challenge_shapes() {
        let c = parse(Some(r#"Bearer authorization="https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#)).unwrap();
        assert_eq!(c.resource, "https://vault.azure.net");
        assert_eq!(
            c.tenant.as_deref(),
            Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
        );
        let c = parse(Some(r#"Bearer authorization_uri="https://login.windows.net/t", scope="https://vault.azure.net/.default""#)).unwrap();
        assert_eq!(
            (c.resource.as_str(), c.tenant.as_deref()),
            ("https://vault.azure.net", Some("t"))
        );
        let c = parse(Some("bearer resource=https://vault.azure.net")).unwrap();
        assert_eq!(
            (c.resource.as_str(), c.tenant),
            ("https://vault.azure.net", None)
        );
        let c = parse(Some(
            r#"Bearer authorization="https://adfs.local/adfs", resource="https://vault.local/x""#,
        ))
        .unwrap();
        assert_eq!(c.tenant, None, "ADFS names no tenant");
    }

    #[test]
    fn refuses_what_is_not_a_bearer_challenge() {
        for (header, why) in [
            (None, "no WWW-Authenticate"),
            (Some("Basic realm=x"), "not a Bearer challenge"),
            (
                Some(r#"Bearer authorization="https://login.windows.net/t""#),
                "neither resource nor scope",
            ),
            (
                Some(r#"Bearer resource="https://vault.azure.net"#),
                "malformed",
            ),
        ] {
            let Err(Error::InvalidResponse(m)) = parse(header) else {
                panic!("{header:?} accepted")
            };
            assert!(m.contains(why), "{header:?}: {m}");
        }
        assert!(parse(Some(&format!("Bearer resource={}", "a".repeat(5000)))).is_err());
    }

    #[test]
    fn verification_stops_token_harvesting() {
        let ok = |r: &str| {
            verify(
                &Challenge {
                    resource: r.into(),
                    tenant: None,
                },
                &vault(),
            )
        };
        ok("https://vault.azure.net").unwrap();
        ok("https://vault.azure.net/").unwrap();
        ok("https://vault.azure.net:443").unwrap();
        ok("https://azure.net").unwrap();
        for evil in [
            "https://management.azure.com",
            "https://evil.example",
            "https://myvault.vault.azure.net",
            "https://ault.azure.net",
            "http://vault.azure.net",
            "vault.azure.net",
            "https://user@vault.azure.net",
            "https://",
        ] {
            let Err(Error::InvalidResponse(m)) = ok(evil) else {
                panic!("{evil} accepted")
            };
            assert!(
                m.starts_with("the vault's authentication challenge was refused"),
                "{m}"
            );
        }
    }
}
