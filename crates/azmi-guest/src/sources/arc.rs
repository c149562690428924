//! Azure Arc-enabled servers: the agent (`himds`) answers a first request
//! with 401 and the path of a key file only privileged users can read; the
//! second request carries the file's contents as `Authorization: Basic`.

pub(crate) mod challenge;

use std::time::Duration;

use azmi_core::{ARC_DEFAULT_ENDPOINT, ARC_TOKEN_DIR, IDENTITY_ENDPOINT};
use serde_json::Value;

use super::descriptor::{Descriptor, TokenEndpoint};
use crate::context::Ctx;
use crate::endpoint;
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Failure, Peer};
use crate::token::Token;
use crate::url::Url;

pub(crate) const API_VERSION: &str = "2020-06-01";

/// As IMDS (the same selectors, `Metadata: true`, the same retry rules),
/// at the agent's api-version, with its key added per request from the
/// challenge. New agents honour and echo the selectors; `mi_res_id` would
/// be ignored silently, so it is never sent.
pub(crate) const ARC: Descriptor = Descriptor {
    describe: "the Arc agent at",
    api_version: Some(API_VERSION),
    ..super::imds::IMDS
};

#[derive(Debug)]
pub(crate) struct Arc {
    endpoint: TokenEndpoint,
    /// The agent's token directory, as this guest sees it.
    token_dir: String,
}

impl Arc {
    /// The agent at `IDENTITY_ENDPOINT`, or at its default address when the
    /// variable is unset (servers found through the agent binary).
    pub(crate) fn from_env(env: &Env) -> Result<Arc, Error> {
        let raw = env
            .get(IDENTITY_ENDPOINT)
            .unwrap_or(ARC_DEFAULT_ENDPOINT)
            .trim();
        let endpoint = super::parse_endpoint(IDENTITY_ENDPOINT, raw)?;
        Ok(Arc::new(endpoint, ARC_TOKEN_DIR))
    }

    pub(crate) fn new(url: Url, token_dir: &str) -> Arc {
        Arc {
            endpoint: TokenEndpoint {
                descriptor: &ARC,
                url,
                credential: None,
                default_client_id: None,
            },
            token_dir: token_dir.to_owned(),
        }
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        let what = self.endpoint.what();
        // Each attempt is the whole dance: a key file is good for one try.
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            self.attempt(ctx, resource, identity, &what, remaining)
        })
    }

    fn attempt(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
        what: &str,
        remaining: Duration,
    ) -> Result<Token, Failure> {
        let first = self
            .endpoint
            .request(resource, identity, None)?
            .within(remaining);
        let challenge = endpoint::attempt(ctx, &first, Peer::Imds)?;
        match challenge.status {
            401 => {}
            // Refused before any challenge (an identity it does not have, a
            // failure): the status says why.
            400..=599 => {
                return Err(Failure {
                    error: endpoint::status_error(&challenge, what, identity, None),
                    retry: retry::retry_for(Peer::Imds, &challenge),
                });
            }
            status => {
                return Err(Error::InvalidResponse(format!(
                    "{what} answered {status} instead of its 401 challenge; a real Arc agent always asks for its key first"
                ))
                .into());
            }
        }
        let path = challenge::realm_path(challenge.header("www-authenticate"))?;
        let path = challenge::validate_key_path(&path, &self.token_dir)?;
        let key = challenge::read_key(&path)?;

        let second = self
            .endpoint
            .request(
                resource,
                identity,
                Some(("authorization", format!("Basic {key}"))),
            )?
            .within(remaining);
        let response = endpoint::attempt(ctx, &second, Peer::Imds)?;
        if response.status == 401 {
            let e = endpoint::service_error(&response, Some(&key));
            let refused = format!("{what} refused the key from {}", path.display());
            let message = if e.message.is_empty() {
                refused
            } else {
                format!("{refused}: {}", e.message)
            };
            return Err(Error::Unauthorized(e.with_message(message)).into());
        }
        let token =
            self.endpoint
                .token_from(ctx, &response, what, resource, identity, Some(&key))?;
        check_echo(&response.body, identity, what)?;
        Ok(token)
    }
}

/// For a user-assigned identity, the agent must say it used that identity:
/// agents too old to know user-assigned identities ignore the parameter and
/// answer with the system-assigned one (fail closed, as azure-identity 1.26+
/// and MSAL do).
fn check_echo(body: &[u8], identity: &Identity, what: &str) -> Result<(), Error> {
    let (fields, wanted): (&[&str], &str) = match identity {
        Identity::SystemAssigned => return Ok(()),
        Identity::ClientId(id) => (&["client_id"], id),
        Identity::ObjectId(id) => (&["object_id"], id),
        Identity::ResourceId(id) => (&["msi_res_id", "mi_res_id"], id),
    };
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let echoed = fields
        .iter()
        .filter_map(|f| json.get(f).and_then(Value::as_str))
        .any(|v| v.eq_ignore_ascii_case(wanted));
    if echoed {
        Ok(())
    } else {
        Err(Error::InvalidResponse(format!(
            "{what} did not confirm that it used the user-assigned identity {wanted} (it may be too old to support user-assigned identities); the token was discarded"
        )))
    }
}

#[cfg(test)]
mod tests;
