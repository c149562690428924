//! App Service api-version 2017-09-01 and Azure ML: `MSI_ENDPOINT` with the
//! `secret` header; a user-assigned identity only by client id, as
//! `clientid`. Expiry may come as a
//! date string.

use azmi_core::{DEFAULT_IDENTITY_CLIENT_ID, MSI_ENDPOINT, MSI_SECRET};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;

pub(crate) const API_VERSION: &str = "2017-09-01";

const CLIENT_ID_ONLY: &str = "App Service 2017-09-01 and Azure ML select a user-assigned identity by client id only; pass its client id";

pub(crate) const APP_SERVICE_2017: Descriptor = Descriptor {
    describe: "the App Service 2017 identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[],
    credential_header: Some("secret"),
    resource_in: ResourceIn::Query,
    // `clientid`, without the underscore: with `client_id` this API
    // silently returns another identity's token (azure-sdk-for-net#8834).
    client_id: Selector::Param("clientid"),
    object_id: Selector::Refused(CLIENT_ID_ONLY),
    resource_id: Selector::Refused(CLIENT_ID_ONLY),
    peer: Peer::Platform,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    Ok(TokenEndpoint {
        descriptor: &APP_SERVICE_2017,
        url: super::parse_endpoint(MSI_ENDPOINT, super::required(env, MSI_ENDPOINT)?)?,
        credential: Some(super::required(env, MSI_SECRET)?.to_owned()),
        // Azure ML compute's default identity.
        default_client_id: env.get(DEFAULT_IDENTITY_CLIENT_ID).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests;
