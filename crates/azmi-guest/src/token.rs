//! Token responses of managed-identity endpoints, parsed tolerantly: IMDS
//! sends numbers as strings, App Service sends `expires_on` but no
//! `expires_in`, App Service 2017 sends dates, emulators send integers (the forms are in `expiry`).

use azmi_core::Redacted;
use serde_json::Value;

use crate::error::Error;
use crate::expiry::{seconds, timestamp};

/// An access token. `Debug` never prints the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) token: Redacted,
    pub(crate) token_type: String,
    pub(crate) resource: String,
    pub(crate) expires_on: u64,
    pub(crate) refresh_at: Option<u64>,
}

/// Parses a 200 body from a token endpoint. `endpoint` names the source in
/// messages; `now` is Unix seconds. Messages never quote the body: it holds
/// the token.
pub(crate) fn parse_token_response(
    body: &[u8],
    requested_resource: &str,
    now: u64,
    endpoint: &str,
) -> Result<Token, Error> {
    let invalid =
        |what: &str| Error::InvalidResponse(format!("{endpoint} answered 200 but {what}"));
    let json: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("the body is not JSON; is something other than a managed-identity endpoint listening there?"))?;
    let Value::Object(fields) = json else {
        return Err(invalid("the body is not a JSON object"));
    };
    let token = match fields.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        _ => return Err(invalid("the response has no access_token")),
    };
    let token_type = match fields.get("token_type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        None | Some(Value::Null) => "Bearer".to_owned(),
        Some(_) => return Err(invalid("token_type is not a string")),
    };
    let resource = match fields.get("resource") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        _ => requested_resource.to_owned(),
    };

    // `expires_on` wins over `expires_in` when both are present (Python
    // azure-identity; test vector "expires_in 0, expires_on 42 ⇒ 42").
    let expires_on = match (fields.get("expires_on"), fields.get("expires_in")) {
        (Some(on), _) if !on.is_null() => {
            timestamp(on).map_err(|e| invalid(&format!("expires_on {e}")))?
        }
        (_, Some(inn)) if !inn.is_null() => {
            let lifetime = seconds(inn).map_err(|e| invalid(&format!("expires_in {e}")))?;
            now.checked_add(lifetime)
                .ok_or_else(|| invalid("expires_in is out of range"))?
        }
        _ => {
            return Err(invalid(
                "the response has neither expires_on nor expires_in",
            ));
        }
    };
    if expires_on <= now {
        return Err(invalid(&format!(
            "the token expired at {expires_on} (Unix seconds) and it is now {now}; check this machine's clock"
        )));
    }

    let refresh_in = match fields.get("refresh_in") {
        Some(v) if !v.is_null() => {
            Some(seconds(v).map_err(|e| invalid(&format!("refresh_in {e}")))?)
        }
        _ => None,
    };
    let refresh_at = azmi_core::freshness::refresh_at(now, expires_on - now, refresh_in);

    Ok(Token {
        token: token.into(),
        token_type,
        resource,
        expires_on,
        refresh_at,
    })
}

#[cfg(test)]
mod tests;
