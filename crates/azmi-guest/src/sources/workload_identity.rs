//! AKS workload identity: the pod's projected service-account token (a JWT
//! kubelet writes and rotates) is exchanged at Microsoft Entra for a token
//! of the user-assigned identity federated to that service account, by the
//! client-credentials grant with the token as the client assertion.
//!
//! The file is read afresh for every exchange: kubelet replaces it before
//! it expires, and a client that keeps the first one fails a day later
//! with AADSTS700024.

mod assertion;
mod entra_error;

use azmi_core::entra::{self, JWT_BEARER};
use azmi_core::{
    AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID,
};

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE};
use crate::env::Env;
use crate::error::{Error, sanitize_message};
use crate::identity::Identity;
use crate::retry::{self, Failure, Peer};
use crate::token::{Token, parse_token_response};
use crate::transport::{Method, Request};
use crate::url::{Scheme, encode_query_value};

pub(crate) use assertion::Assertion;

#[derive(Debug)]
pub(crate) struct WorkloadIdentity {
    /// The projected token file, as this guest sees it.
    token_file: String,
    /// `AZURE_CLIENT_ID`: the identity asked for when the caller names none.
    client_id: String,
    tenant: String,
    /// The Entra authority's host (https, port 443).
    authority: String,
}

impl WorkloadIdentity {
    pub(crate) fn from_env(env: &Env) -> Result<WorkloadIdentity, Error> {
        let invalid = |name: &str, raw: &str, why: String| {
            Error::InvalidArgument(format!("{name}=`{}` {why}", sanitize_message(raw, None)))
        };
        let token_file = super::required(env, AZURE_FEDERATED_TOKEN_FILE)?;
        if !token_file.starts_with('/') {
            return Err(invalid(
                AZURE_FEDERATED_TOKEN_FILE,
                token_file,
                "is not an absolute path; give the projected token's path (/var/run/secrets/azure/tokens/azure-identity-token)".into(),
            ));
        }
        let client_id = super::required(env, AZURE_CLIENT_ID)?;
        entra::check_client_id(client_id)
            .map_err(|why| invalid(AZURE_CLIENT_ID, client_id, why))?;
        let tenant = super::required(env, AZURE_TENANT_ID)?;
        entra::check_tenant(tenant).map_err(|why| invalid(AZURE_TENANT_ID, tenant, why))?;
        let raw = env
            .get(AZURE_AUTHORITY_HOST)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(entra::DEFAULT_AUTHORITY_HOST);
        let authority = entra::parse_authority_host(raw)
            .map_err(|why| invalid(AZURE_AUTHORITY_HOST, raw, why.to_string()))?;
        Ok(WorkloadIdentity {
            token_file: token_file.to_owned(),
            client_id: client_id.to_owned(),
            tenant: tenant.to_owned(),
            authority,
        })
    }

    /// "Microsoft Entra at https://…/token", for messages.
    fn what(&self) -> String {
        format!(
            "Microsoft Entra at https://{}{}",
            self.authority,
            entra::token_path(&self.tenant)
        )
    }

    /// The client id that names `identity`: the pod's own by default, or
    /// another identity federated to the same service account.
    fn client_id<'a>(&'a self, identity: &'a Identity) -> Result<&'a str, Error> {
        match identity {
            Identity::SystemAssigned => Ok(&self.client_id),
            Identity::ClientId(id) => {
                entra::check_client_id(id).map_err(Error::InvalidArgument)?;
                Ok(id)
            }
            Identity::ObjectId(_) | Identity::ResourceId(_) => Err(Error::InvalidArgument(
                "workload identity names an identity by its client id only (Entra's client-credentials grant takes no object or resource id); give its client id".into(),
            )),
        }
    }

    /// The token request: the client-credentials grant with `assertion`.
    fn request(&self, client_id: &str, resource: &str, assertion: &Assertion) -> Request {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("scope", &entra::resource_to_scope(resource)),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion.expose()),
        ]
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_query_value(value)))
        .collect::<Vec<_>>()
        .join("&");
        Request {
            method: Method::Post,
            scheme: Scheme::Https,
            authority: self.authority.clone(),
            path_and_query: entra::token_path(&self.tenant),
            headers: vec![(
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(form.into_bytes()),
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
        let client_id = self.client_id(identity)?;
        let what = self.what();
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            // Every exchange reads the file again: kubelet may have
            // replaced it since the last one.
            let assertion = Assertion::read(&self.token_file)?;
            let request = self
                .request(client_id, resource, &assertion)
                .within(remaining);
            let response = endpoint::attempt(ctx, &request, Peer::Entra)?;
            if response.status == 200 {
                return parse_token_response(&response.body, resource, ctx.now, &what)
                    .map_err(Failure::from);
            }
            Err(Failure {
                error: entra_error::explain(
                    &response,
                    &entra_error::Exchange {
                        what: &what,
                        token_file: &self.token_file,
                        client_id,
                        tenant: &self.tenant,
                        resource,
                        assertion: &assertion,
                    },
                ),
                retry: retry::retry_for(Peer::Entra, &response),
            })
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
