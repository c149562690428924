//! Azure Key Vault: get-secret over https, with the challenge flow the SDKs
//! use: the first request carries no token;
//! the vault's 401 names the audience it wants, which is verified against
//! the vault's host before any token is asked for.

mod challenge;
mod names;
mod secret;

use std::time::Duration;

pub(crate) use challenge::Challenge;
#[cfg(feature = "fuzzing")]
pub(crate) use challenge::{parse as challenge_parse, verify as challenge_verify};
pub(crate) use names::{Vault, validate_secret_name, validate_version};
pub(crate) use secret::{Secret, parse_secret};

use crate::context::Ctx;
use crate::endpoint;
use crate::error::Error;
use crate::retry::{self, Failure, Peer};
use crate::transport::{Method, Request, Timeouts};
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

/// The GET for `name` at `version` (latest when `None`), with `token` when
/// given. The latest version is `/secrets/<name>/` with a trailing slash,
/// as the SDKs send it.
pub(crate) fn secret_request(
    vault: &Vault,
    name: &str,
    version: Option<&str>,
    token: Option<&str>,
) -> Request {
    let mut headers = vec![("accept", "application/json".to_owned())];
    if let Some(token) = token {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    Request {
        method: Method::Get,
        scheme: Scheme::Https,
        authority: vault.host().to_owned(),
        path_and_query: format!(
            "{}{}",
            azmi_core::vault::secret_path(name, version),
            query(&[("api-version", API_VERSION)])
        ),
        headers,
        body: None,
        timeouts: TIMEOUTS,
        max_response_bytes: MAX_SECRET_RESPONSE,
    }
}

/// The error a vault's status means (`token` is redacted from messages).
fn status_failure(
    response: &crate::transport::Response,
    url: &str,
    token: Option<&str>,
) -> Failure {
    let service_error = || endpoint::service_error(response, token);
    let error = match response.status {
        300..=399 => endpoint::redirect_refused(url, response.status),
        401 => Error::Unauthorized(service_error()),
        403 => Error::Forbidden(service_error()),
        404 => Error::NotFound(service_error()),
        _ => Error::Service(service_error()),
    };
    Failure {
        error,
        retry: retry::retry_for(Peer::Vault, response),
    }
}

/// Asks for the secret without a token and returns the vault's verified
/// challenge.
pub(crate) fn discover(
    ctx: &Ctx<'_>,
    vault: &Vault,
    name: &str,
    version: Option<&str>,
) -> Result<Challenge, Error> {
    retry::run(ctx.clock, &ctx.policy, |remaining| {
        let request = secret_request(vault, name, version, None).within(remaining);
        let url = request.display_url();
        let response = endpoint::attempt(ctx, &request, Peer::Vault)?;
        match response.status {
            401 => {
                let challenge = challenge::parse(response.header("www-authenticate"))?;
                challenge::verify(&challenge, vault)?;
                Ok(challenge)
            }
            200..=299 => Err(Error::InvalidResponse(format!(
                "{url} answered {} without asking for a token; Key Vault always does, so this is not Key Vault",
                response.status
            ))
            .into()),
            _ => Err(status_failure(&response, &url, None)),
        }
    })
}

/// Reads the secret with `token`, which must be for the challenge's
/// resource.
pub(crate) fn read(
    ctx: &Ctx<'_>,
    vault: &Vault,
    name: &str,
    version: Option<&str>,
    token: &str,
) -> Result<Secret, Error> {
    retry::run(ctx.clock, &ctx.policy, |remaining| {
        let request = secret_request(vault, name, version, Some(token)).within(remaining);
        let url = request.display_url();
        let response = endpoint::attempt(ctx, &request, Peer::Vault)?;
        match response.status {
            200 => parse_secret(&response.body, vault, name, version).map_err(|why| {
                Error::InvalidResponse(format!("{url} answered 200 but {why}")).into()
            }),
            _ => Err(status_failure(&response, &url, Some(token))),
        }
    })
}

#[cfg(test)]
mod tests;
