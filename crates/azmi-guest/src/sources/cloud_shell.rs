//! Azure Cloud Shell: a form POST of `resource=` to `MSI_ENDPOINT` with
//! `Metadata: true`. Cloud Shell ignores
//! identity selectors and returns the signed-in user's token, so a
//! user-assigned identity is refused rather than silently replaced.

use azmi_core::MSI_ENDPOINT;

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;

const SIGNED_IN_USER: &str =
    "Cloud Shell issues tokens for the signed-in user only; it cannot use a user-assigned identity";

pub(crate) const CLOUD_SHELL: Descriptor = Descriptor {
    describe: "the Cloud Shell identity endpoint",
    method: Method::Post,
    api_version: None,
    headers: &[
        ("metadata", "true"),
        ("content-type", "application/x-www-form-urlencoded"),
    ],
    credential_header: None,
    resource_in: ResourceIn::Form,
    client_id: Selector::Refused(SIGNED_IN_USER),
    object_id: Selector::Refused(SIGNED_IN_USER),
    resource_id: Selector::Refused(SIGNED_IN_USER),
    peer: Peer::Platform,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    Ok(TokenEndpoint {
        descriptor: &CLOUD_SHELL,
        url: super::parse_endpoint(MSI_ENDPOINT, super::required(env, MSI_ENDPOINT)?)?,
        credential: None,
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests;
