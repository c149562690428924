//! Azure Instance Metadata Service (VMs, scale sets, AKS nodes): one GET
//! with `Metadata: true` (reference managed-identity.md §3).

use std::time::Duration;

use crate::endpoint::{self, Peer};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::token::{Token, parse_token_response};
use crate::transport::{Method, Request, Response, Timeouts, Transport};
use crate::url::{Url, query};

pub(crate) const API_VERSION: &str = "2018-02-01";
pub(crate) const DEFAULT_BASE: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
/// The Azure SDKs' override of the IMDS base URL (aad-pod-identity).
pub(crate) const AUTHORITY_HOST_VAR: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
/// Token responses are a few KiB; anything near this is not one.
pub(crate) const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Deadlines per attempt. Connect is short as in azure-identity (2 s): off
/// Azure nothing answers at 169.254.169.254 and callers should learn that
/// quickly.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(2),
    first_byte: Duration::from_secs(10),
    between_bytes: Duration::from_secs(10),
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Imds {
    base: Url,
}

impl Imds {
    /// IMDS at `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set, else at
    /// 169.254.169.254.
    pub(crate) fn from_env(env: &Env) -> Result<Imds, Error> {
        let raw = env.get(AUTHORITY_HOST_VAR).map_or(DEFAULT_BASE, str::trim);
        let base = Url::parse(raw).map_err(|why| {
            Error::InvalidArgument(format!(
                "{AUTHORITY_HOST_VAR}=`{}` {why}; set it to the IMDS base URL, e.g. http://169.254.169.254",
                crate::error::sanitize_message(raw, None)
            ))
        })?;
        Ok(Imds { base })
    }

    pub(crate) fn token_url(&self) -> String {
        format!(
            "{}://{}{}{TOKEN_PATH}",
            self.base.scheme.as_str(),
            self.base.authority(),
            self.base.path
        )
    }

    pub(crate) fn token_request(&self, resource: &str, identity: &Identity) -> Request {
        let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
        match identity {
            Identity::SystemAssigned => {}
            Identity::ClientId(id) => params.push(("client_id", id)),
            Identity::ObjectId(id) => params.push(("object_id", id)),
            // IMDS documents `msi_res_id`; only that one works on ACI too
            // (reference managed-identity.md §3).
            Identity::ResourceId(id) => params.push(("msi_res_id", id)),
        }
        Request {
            method: Method::Get,
            scheme: self.base.scheme,
            authority: self.base.authority(),
            path_and_query: format!("{}{TOKEN_PATH}{}", self.base.path, query(&params)),
            headers: vec![("metadata", "true".to_owned())],
            timeouts: TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        }
    }

    pub(crate) fn get_token(
        &self,
        transport: &dyn Transport,
        resource: &str,
        identity: &Identity,
        now: u64,
    ) -> Result<Token, Error> {
        let request = self.token_request(resource, identity);
        let response = endpoint::send(transport, &request, Peer::IdentityEndpoint)?;
        self.handle_response(&response, resource, identity, now)
    }

    fn handle_response(
        &self,
        response: &Response,
        resource: &str,
        identity: &Identity,
        now: u64,
    ) -> Result<Token, Error> {
        let url = self.token_url();
        let what = format!("IMDS at {url}");
        match response.status {
            200 => parse_token_response(&response.body, resource, now, &what),
            300..=399 => Err(endpoint::redirect_refused(&url, response.status)),
            400 => {
                let e = endpoint::service_error(response, None);
                if identity.is_user_assigned() {
                    Err(Error::NotFound(e))
                } else {
                    Err(Error::Unavailable(format!(
                        "{what} has no identity to give: {e}; assign a system-assigned identity to this resource, or name a user-assigned one"
                    )))
                }
            }
            401 => Err(Error::Unauthorized(endpoint::service_error(response, None))),
            403 => {
                let e = endpoint::service_error(response, None);
                // Docker Desktop answers 403 "... unreachable network" on
                // 169.254.169.254: not IMDS at all (azure-sdk-for-go#21417).
                if e.message.to_ascii_lowercase().contains("unreachable") {
                    Err(Error::Unavailable(format!("{what} is not IMDS: {e}")))
                } else {
                    Err(Error::Forbidden(e))
                }
            }
            _ => Err(Error::Service(endpoint::service_error(response, None))),
        }
    }
}

#[cfg(test)]
mod tests;
