//! App Service, Functions and Container Apps (api-version 2019-08-01): a GET
//! to `IDENTITY_ENDPOINT` with the platform's `X-IDENTITY-HEADER`.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;

pub(crate) const API_VERSION: &str = "2019-08-01";

pub(crate) const APP_SERVICE: Descriptor = Descriptor {
    describe: "the App Service identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[],
    credential_header: Some("x-identity-header"),
    resource_in: ResourceIn::Query,
    client_id: Selector::Param("client_id"),
    object_id: Selector::Param("object_id"),
    // App Service honours only `mi_res_id` (azure-sdk-for-rust#2407).
    resource_id: Selector::Param("mi_res_id"),
    peer: Peer::Platform,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    Ok(TokenEndpoint {
        descriptor: &APP_SERVICE,
        url: super::parse_endpoint(IDENTITY_ENDPOINT, super::required(env, IDENTITY_ENDPOINT)?)?,
        credential: Some(super::required(env, IDENTITY_HEADER)?.to_owned()),
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests;
