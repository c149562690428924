//! What Entra's refusals of a workload-identity exchange mean, and the fix
//! each one names. Entra answers `{"error": "...", "error_description":
//! "AADSTS700024: ...", "error_codes": [700024], ...}`; the AADSTS code says
//! which check failed.

use serde_json::Value;

use super::Assertion;
use crate::endpoint::{self, service_error};
use crate::error::Error;
use crate::transport::Response;

/// What the refused exchange was, for the messages.
pub(super) struct Exchange<'a> {
    pub(super) what: &'a str,
    pub(super) token_file: &'a str,
    pub(super) client_id: &'a str,
    pub(super) tenant: &'a str,
    pub(super) resource: &'a str,
    pub(super) assertion: &'a Assertion,
}

/// The AADSTS code of an Entra error body: `error_codes[0]`, else the
/// number after `AADSTS` in the description.
pub(crate) fn aadsts_code(body: &[u8]) -> Option<u64> {
    let json: Value = serde_json::from_slice(body).ok()?;
    if let Some(code) = json
        .get("error_codes")
        .and_then(Value::as_array)
        .and_then(|codes| codes.first())
        .and_then(Value::as_u64)
    {
        return Some(code);
    }
    let description = json.get("error_description")?.as_str()?;
    let digits: String = description
        .split_once("AADSTS")?
        .1
        .chars()
        .take_while(char::is_ascii_digit)
        .take(9)
        .collect();
    digits.parse().ok()
}

/// The error for Entra's non-200 `response` to `exchange`.
pub(super) fn explain(response: &Response, exchange: &Exchange<'_>) -> Error {
    if (300..400).contains(&response.status) {
        return endpoint::redirect_refused(exchange.what, response.status);
    }
    // The assertion never appears in what Entra says back.
    let e = service_error(response, Some(exchange.assertion.expose()));
    let said = if e.message.is_empty() {
        format!("HTTP {}", response.status)
    } else {
        e.message.clone()
    };
    let Exchange {
        what,
        token_file,
        client_id,
        tenant,
        resource,
        assertion,
    } = exchange;
    let with = |message: String| e.clone().with_message(message);
    match aadsts_code(&response.body) {
        Some(700024) => {
            let expired = assertion
                .expires
                .map(|exp| format!(" (it says it expires at {exp}, Unix seconds)"))
                .unwrap_or_default();
            Error::Unauthorized(with(format!(
                "{what} refused the service-account token from {token_file} as expired{expired}: kubelet has not rotated the file, or AZURE_FEDERATED_TOKEN_FILE names a copy rather than the projected volume's file; point it at the file kubelet writes, and check the node's clock. Entra said: {said}"
            )))
        }
        Some(70021 | 700211 | 700212 | 700213) => Error::Unauthorized(with(format!(
            "{what} found no federated credential of identity {client_id} that matches the service-account token (issuer `{}`, subject `{}`, audience `{}`): add one with exactly these values (they are case-sensitive; the audience is api://AzureADTokenExchange) to the identity, or give the pod's service account the client id of the identity that has it. Entra said: {said}",
            assertion.issuer, assertion.subject, assertion.audience
        ))),
        Some(700016) => Error::NotFound(with(format!(
            "{what}: tenant {tenant} has no identity with client id {client_id}; check AZURE_CLIENT_ID (or the client id asked for) and AZURE_TENANT_ID. Entra said: {said}"
        ))),
        Some(90002 | 900023) => Error::NotFound(with(format!(
            "{what}: Entra does not know tenant {tenant}; check AZURE_TENANT_ID, and AZURE_AUTHORITY_HOST for a sovereign cloud. Entra said: {said}"
        ))),
        Some(50027 | 5002727 | 700027 | 7000274) => Error::Unauthorized(with(format!(
            "{what} refused the service-account token from {token_file} as not a valid token for Entra; check that the file is the projected service-account token and that the cluster's OIDC issuer is published. Entra said: {said}"
        ))),
        Some(70011 | 1002012) => Error::InvalidArgument(format!(
            "{what} refused the scope {}/.default: {said}; ask for a resource URI such as https://vault.azure.net",
            resource
        )),
        _ => match response.status {
            401 => Error::Unauthorized(e),
            403 => Error::Forbidden(e),
            _ => Error::Service(e),
        },
    }
}
