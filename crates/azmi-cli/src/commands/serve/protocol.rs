//! The two managed-identity protocols as the Azure SDKs speak them, with
//! no I/O: which path a request is for, what its query asks, and the
//! bodies of answers and refusals.
//!
//! Paths arrive as each SDK builds them: `//metadata/…` (MSAL Java, and
//! JavaScript with a prefix), `…/token/` (MSAL Node), any case. Queries
//! arrive percent-encoded (JavaScript) or raw (Python). Successes use the
//! one body every SDK's parser accepts: IMDS's, numbers as strings.

use azmi::{AccessToken, Identity};
use serde_json::json;

/// The App Service protocol version served.
pub(crate) const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/metadata/identity/oauth2/token`: IMDS mode.
    Imds,
    /// `/msi/token`: App Service mode.
    AppService,
    Health,
    Metrics,
    /// Anything else, the probes for IMDS v2 included: 404, so that
    /// clients stay on the protocol served.
    Unknown,
}

/// The route of `path`: `//` runs collapsed, one trailing `/` dropped,
/// compared without case.
pub(crate) fn route(path: &str) -> Route {
    let mut normalized = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && normalized.ends_with('/')) {
            normalized.push(c.to_ascii_lowercase());
        }
    }
    if normalized.len() > 1 && normalized.ends_with('/') {
        normalized.pop();
    }
    match normalized.as_str() {
        "/metadata/identity/oauth2/token" => Route::Imds,
        "/msi/token" => Route::AppService,
        "/healthz" => Route::Health,
        "/metrics" => Route::Metrics,
        _ => Route::Unknown,
    }
}

/// What a token request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TokenQuery {
    pub(crate) api_version: Option<String>,
    pub(crate) resource: Option<String>,
    /// `None`: the tenant's default identity.
    pub(crate) identity: Option<Identity>,
}

/// The names that select a user-assigned identity, on either path:
/// App Service's `principal_id` is `object_id`'s alias, and IMDS's
/// `msi_res_id` is App Service's `mi_res_id` (SDKs send either to either).
const IDENTITY_PARAMETERS: [&str; 5] = [
    "client_id",
    "object_id",
    "principal_id",
    "msi_res_id",
    "mi_res_id",
];

/// Parses a token request's query. Names the SDKs send that do not
/// concern the token (`bypass_cache`, `xms_cc`, …) are ignored.
///
/// # Errors
/// The refusal's description: a name given twice (IMDS refuses those
/// too), two identities, a value that is not percent-encoded UTF-8.
pub(crate) fn parse_query(query: &str) -> Result<TokenQuery, String> {
    let mut seen: Vec<String> = Vec::new();
    let mut parsed = TokenQuery::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name)?;
        let value = decode(value)?;
        if seen.contains(&name) {
            return Err(format!("the query names `{}` more than once", shown(&name)));
        }
        seen.push(name.clone());
        let identity = |id: String| {
            if id.is_empty() {
                Err(format!("the query's `{name}` is empty"))
            } else {
                Ok(Some(id))
            }
        };
        let selected = match name.as_str() {
            "api-version" => {
                parsed.api_version = Some(value);
                None
            }
            "resource" => {
                parsed.resource = Some(value);
                None
            }
            "client_id" => identity(value)?.map(Identity::ClientId),
            "object_id" | "principal_id" => identity(value)?.map(Identity::ObjectId),
            "msi_res_id" | "mi_res_id" => identity(value)?.map(Identity::ResourceId),
            _ => None,
        };
        if let Some(identity) = selected {
            if parsed.identity.is_some() {
                return Err(format!(
                    "the query names more than one identity ({}): name at most one",
                    IDENTITY_PARAMETERS.join(", ")
                ));
            }
            parsed.identity = Some(identity);
        }
    }
    Ok(parsed)
}

/// Percent-decoding, `+` as a space (the form encoding SDKs use).
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "the query holds a `%` not followed by two hexadecimal digits in `{}`",
                            shown(text)
                        )
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| format!("the query value `{}` is not UTF-8", shown(text)))
}

/// A value from the request, fit for a message: one line, at most 200
/// characters.
pub(crate) fn shown(value: &str) -> String {
    let mut text: String = value
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if value.chars().count() > 200 {
        text.push('…');
    }
    text
}

/// The success body: IMDS's documented shape, with the real token's
/// expiry, every number a string (Rust's parser insists on it; the others
/// accept it), and `expires_in` (MSAL Python's IMDS parser needs it).
pub(crate) fn token_body(token: &AccessToken, now: u64) -> String {
    body(
        token.token.expose(),
        &token.token_type,
        &token.resource,
        token.expires_on,
        now,
    )
}

fn body(access_token: &str, token_type: &str, resource: &str, expires_on: u64, now: u64) -> String {
    json!({
        "access_token": access_token,
        "refresh_token": "",
        "expires_in": expires_on.saturating_sub(now).to_string(),
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": token_type,
    })
    .to_string()
}

/// An IMDS refusal: `{"error", "error_description"}`.
pub(crate) fn imds_error(error: &str, description: &str) -> String {
    json!({ "error": error, "error_description": description }).to_string()
}

/// An App Service refusal: `{"statusCode", "message"}`.
pub(crate) fn app_service_error(status: u16, message: &str) -> String {
    json!({ "statusCode": status, "message": message }).to_string()
}

#[cfg(test)]
mod tests;
