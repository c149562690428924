//! What identity endpoints and vaults have in common: sending a request and
//! turning transport failures and error bodies into the guest's errors.

use std::time::Duration;

use serde_json::Value;

use crate::context::Ctx;
use crate::error::{Error, ServiceError, sanitize_message};
use crate::identity::Identity;
use crate::retry::{self, Failure, Peer, Retry};
use crate::token::{Token, parse_token_response};
use crate::transport::{Request, Response, Timeouts, TransportError};

/// Token responses are a few KiB; anything near this is not one.
pub(crate) const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Deadlines of one token request. Connect is short as in azure-identity
/// (2 s): off Azure nothing answers and callers should learn that quickly.
pub(crate) const IDENTITY_TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    first_byte: Duration::from_secs(10),
    between_bytes: Duration::from_secs(10),
};

/// Sends `request` once. Transport failures become errors that name the
/// URL and the fix; those a retry may cure (a read timeout, a connection
/// cut mid-response) are marked retryable. Nothing answering is final: off
/// Azure, retrying only delays "unavailable".
pub(crate) fn attempt(ctx: &Ctx<'_>, request: &Request, peer: Peer) -> Result<Response, Failure> {
    ctx.transport.send(request).map_err(|e| {
        let retry = match e {
            TransportError::ReadTimeout(_) | TransportError::Interrupted(_) => Retry::Yes {
                after: None,
                gone: false,
            },
            _ => Retry::No,
        };
        Failure {
            error: transport_error(e, &request.display_url(), peer),
            retry,
        }
    })
}

fn transport_error(err: TransportError, url: &str, peer: Peer) -> Error {
    match (err, peer) {
        (TransportError::Denied, _) => Error::Denied(format!(
            "the sandbox does not allow requests to {url}; add it to the host's egress policy if it is legitimate"
        )),
        (TransportError::AddressProhibited, _) => Error::Denied(format!(
            "the sandbox refused the address that the host of {url} resolved to; pin the address in the host's policy (azmi: --connect-to) if it is legitimate"
        )),
        (TransportError::Unreachable(why) | TransportError::ConnectTimeout(why), Peer::Entra) => {
            Error::Unavailable(format!(
                "Microsoft Entra did not answer at {url} ({why}); check AZURE_AUTHORITY_HOST and that this pod may reach it"
            ))
        }
        (TransportError::Unreachable(why) | TransportError::ConnectTimeout(why), peer)
            if peer.is_identity_endpoint() =>
        {
            Error::Unavailable(format!(
                "no managed-identity endpoint answered at {url} ({why}); run on an Azure resource with a managed identity, or point the endpoint at one (AZURE_POD_IDENTITY_AUTHORITY_HOST, azmi: --imds-endpoint)"
            ))
        }
        (TransportError::Unreachable(why), _) => Error::Other(format!(
            "could not reach {url} ({why}); check the vault URL and the network"
        )),
        (TransportError::ConnectTimeout(why), _) => {
            Error::Timeout(format!("connecting to {url} timed out ({why})"))
        }
        (TransportError::Interrupted(why), _) => Error::Other(format!("{url}: {why}")),
        (TransportError::ReadTimeout(why), _) => Error::Timeout(format!(
            "{url} accepted the connection but did not answer in time ({why})"
        )),
        (TransportError::Tls(why), _) => Error::Other(format!(
            "TLS with {url} failed ({why}); if this is an emulator or a proxy, give the host its CA (azmi: --ca-file)"
        )),
        (TransportError::TooLarge { limit }, _) => Error::InvalidResponse(format!(
            "{url} sent a response larger than {limit} bytes; refused"
        )),
        (TransportError::HeadersTooLarge, _) => Error::InvalidResponse(format!(
            "{url} sent response headers larger than the host accepts; refused"
        )),
        (TransportError::Protocol, _) => Error::InvalidResponse(format!(
            "{url} did not answer with a well-formed HTTP/1.1 response; refused"
        )),
        (TransportError::Other(why), _) => Error::Other(format!("request to {url} failed: {why}")),
    }
}

/// What a token request is about, for its response's errors.
pub(crate) struct TokenCall<'a> {
    pub(crate) peer: Peer,
    /// Names the endpoint in messages ("IMDS at …").
    pub(crate) what: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) identity: &'a Identity,
    /// A credential the request carried (an identity header, an Arc key),
    /// removed from anything the endpoint says back.
    pub(crate) secret: Option<&'a str>,
    pub(crate) now: u64,
}

/// Turns a token endpoint's response into a token, or into the error its
/// status means, retryable as the call's rules say.
pub(crate) fn token_attempt(response: &Response, call: &TokenCall<'_>) -> Result<Token, Failure> {
    if response.status == 200 {
        return parse_token_response(&response.body, call.resource, call.now, call.what)
            .map_err(Failure::from);
    }
    Err(Failure {
        error: status_error(response, call.what, call.identity, call.secret),
        retry: retry::retry_for(call.peer, response),
    })
}

/// The error a token endpoint's non-200 status means.
pub(crate) fn status_error(
    response: &Response,
    what: &str,
    identity: &Identity,
    secret: Option<&str>,
) -> Error {
    match response.status {
        300..=399 => redirect_refused(what, response.status),
        400 => {
            let e = service_error(response, secret);
            if identity.is_user_assigned() {
                Error::NotFound(e)
            } else {
                Error::Unavailable(format!(
                    "{what} has no identity to give: {e}; assign a system-assigned identity to this resource, or name a user-assigned one"
                ))
            }
        }
        401 => Error::Unauthorized(service_error(response, secret)),
        403 => {
            let e = service_error(response, secret);
            // Docker Desktop answers 403 "... unreachable network" on
            // 169.254.169.254: not an identity endpoint at all
            // (azure-sdk-for-go#21417).
            if e.message.to_ascii_lowercase().contains("unreachable") {
                Error::Unavailable(format!("{what} is not a managed-identity endpoint: {e}"))
            } else {
                Error::Forbidden(e)
            }
        }
        _ => Error::Service(service_error(response, secret)),
    }
}

/// Reads `(code, message, inner code)` from an error body in any of the
/// shapes Azure identity endpoints and Key Vault use:
/// `{"error":"code","error_description":"msg"}` (OAuth/IMDS) and
/// `{"error":{"code":"c","message":"m","innererror":{"code":"i"}}}`
/// (Key Vault, Service Fabric). Anything else gives empty strings; the body
/// itself is never quoted, since it is not known to be free of secrets.
pub(crate) fn parse_error_body(
    body: &[u8],
    credential: Option<&str>,
) -> (String, String, Option<String>) {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return (String::new(), String::new(), None);
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| sanitize_message(s, credential))
            .unwrap_or_default()
    };
    match fields.get("error") {
        Some(Value::String(code)) => (
            sanitize_message(code, credential),
            text(fields.get("error_description").or(fields.get("message"))),
            None,
        ),
        Some(Value::Object(error)) => {
            let mut inner = None;
            let mut next = error.get("innererror");
            // Follow the nesting a bounded number of times; the innermost
            // code is the most specific (ForbiddenByRbac, SecretDisabled).
            for _ in 0..8 {
                let Some(Value::Object(e)) = next else { break };
                if let Some(code) = e.get("code").and_then(Value::as_str) {
                    inner = Some(sanitize_message(code, credential));
                }
                next = e.get("innererror");
            }
            (text(error.get("code")), text(error.get("message")), inner)
        }
        _ => (String::new(), text(fields.get("message")), None),
    }
}

/// A `ServiceError` from a response, for any status.
pub(crate) fn service_error(response: &Response, credential: Option<&str>) -> ServiceError {
    let (code, message, inner_code) = parse_error_body(&response.body, credential);
    let message = if message.is_empty() && !response.is_json() && !response.body.is_empty() {
        "the response body is not JSON".to_owned()
    } else {
        message
    };
    ServiceError::new(response.status, code, message, inner_code)
}

/// The error for a redirect: never followed, because a token request or a
/// bearer request must not be replayed to a destination the caller did not
/// name. The `Location` is not quoted.
pub(crate) fn redirect_refused(url: &str, status: u16) -> Error {
    Error::InvalidResponse(format!(
        "{url} answered with redirect {status}; redirects are never followed for credential requests"
    ))
}

#[cfg(test)]
mod tests;
