//! Azure Instance Metadata Service (VMs, scale sets, AKS nodes): one GET
//! with `Metadata: true`.

use azmi_core::{AZURE_POD_IDENTITY_AUTHORITY_HOST, IMDS_DEFAULT_BASE};

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer, TokenCall};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Kind};
use crate::token::Token;
use crate::transport::{Method, Request};
use crate::url::{Url, query};

pub(crate) const API_VERSION: &str = "2018-02-01";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Imds {
    base: Url,
}

impl Imds {
    /// IMDS at `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set, else at
    /// 169.254.169.254.
    pub(crate) fn from_env(env: &Env) -> Result<Imds, Error> {
        let raw = env
            .get(AZURE_POD_IDENTITY_AUTHORITY_HOST)
            .map_or(IMDS_DEFAULT_BASE, str::trim);
        let base = Url::parse(raw).map_err(|why| {
            Error::InvalidArgument(format!(
                "{AZURE_POD_IDENTITY_AUTHORITY_HOST}=`{}` {why}; set it to the IMDS base URL, e.g. http://169.254.169.254",
                crate::error::sanitize_message(raw, None)
            ))
        })?;
        Ok(Imds { base })
    }

    fn token_url(&self) -> String {
        format!(
            "{}://{}{}{TOKEN_PATH}",
            self.base.scheme.as_str(),
            self.base.authority(),
            self.base.base_path()
        )
    }

    fn request(&self, resource: &str, identity: &Identity) -> Request {
        let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
        match identity {
            Identity::SystemAssigned => {}
            Identity::ClientId(id) => params.push(("client_id", id)),
            Identity::ObjectId(id) => params.push(("object_id", id)),
            // IMDS documents `msi_res_id`; only that one works on ACI too
            //.
            Identity::ResourceId(id) => params.push(("msi_res_id", id)),
        }
        Request {
            method: Method::Get,
            scheme: self.base.scheme,
            authority: self.base.authority(),
            path_and_query: format!("{}{TOKEN_PATH}{}", self.base.base_path(), query(&params)),
            headers: vec![("metadata", "true".to_owned())],
            body: None,
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        }
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        let what = format!("IMDS at {}", self.token_url());
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            let request = self.request(resource, identity).within(remaining);
            let response = endpoint::attempt(ctx, &request, Peer::IdentityEndpoint)?;
            endpoint::token_attempt(
                &response,
                &TokenCall {
                    kind: Kind::Imds,
                    what: &what,
                    resource,
                    identity,
                    secret: None,
                    now: ctx.now,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests;
