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
mod tests;
