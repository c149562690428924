//! Azure Key Vault: get-secret over https with a bearer token (reference
//! keyvault.md §1-§5).

mod names;
mod secret;

use std::time::Duration;

pub(crate) use names::{Vault, validate_secret_name, validate_version};
pub(crate) use secret::{Secret, parse_secret};

use crate::endpoint::{self, Peer};
use crate::error::Error;
use crate::transport::{Method, Request, Timeouts, Transport};
use crate::url::{Scheme, query};

/// The newest stable data-plane api-version with a published spec
/// (`stable/2025-07-01/secrets.json`).
pub(crate) const API_VERSION: &str = "2025-07-01";
/// A secret value is at most 25 KiB; a bundle with tags and metadata stays
/// far below this.
pub(crate) const MAX_SECRET_RESPONSE: usize = 1024 * 1024;
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    first_byte: Duration::from_secs(30),
    between_bytes: Duration::from_secs(10),
};

/// The GET for `name` at `version` (latest when `None`). The latest version
/// is `/secrets/<name>/` with a trailing slash, as the SDKs send it.
pub(crate) fn secret_request(
    vault: &Vault,
    name: &str,
    version: Option<&str>,
    token: &str,
) -> Request {
    Request {
        method: Method::Get,
        scheme: Scheme::Https,
        authority: vault.host().to_owned(),
        path_and_query: format!(
            "/secrets/{name}/{}{}",
            version.unwrap_or_default(),
            query(&[("api-version", API_VERSION)])
        ),
        headers: vec![
            ("accept", "application/json".to_owned()),
            ("authorization", format!("Bearer {token}")),
        ],
        body: None,
        timeouts: TIMEOUTS,
        max_response_bytes: MAX_SECRET_RESPONSE,
    }
}

/// Reads the secret with `token`, which must be for `vault.audience()`.
pub(crate) fn get_secret(
    transport: &dyn Transport,
    vault: &Vault,
    name: &str,
    version: Option<&str>,
    token: &str,
) -> Result<Secret, Error> {
    let request = secret_request(vault, name, version, token);
    let url = request.display_url();
    let response = endpoint::send(transport, &request, Peer::Vault)?;
    let service_error = || endpoint::service_error(&response, Some(token));
    match response.status {
        200 => parse_secret(&response.body, vault, name, version)
            .map_err(|why| Error::InvalidResponse(format!("{url} answered 200 but {why}"))),
        300..=399 => Err(endpoint::redirect_refused(&url, response.status)),
        401 => Err(Error::Unauthorized(service_error())),
        403 => Err(Error::Forbidden(service_error())),
        404 => Err(Error::NotFound(service_error())),
        _ => Err(Error::Service(service_error())),
    }
}

#[cfg(test)]
mod tests;
