//! Service Fabric: an https GET to `IDENTITY_ENDPOINT` with the `Secret`
//! header. The endpoint's certificate is
//! self-signed and trusted by its SHA-1 thumbprint
//! (`IDENTITY_SERVER_THUMBPRINT`); a component cannot see TLS, so the host
//! pins it for exactly this endpoint. User-assigned identities are the
//! cluster's configuration, not the caller's choice.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;
use crate::url::Scheme;

pub(crate) const API_VERSION: &str = "2019-07-01-preview";

const CLUSTER_DECIDES: &str = "Service Fabric does not take a user-assigned identity per request; the cluster's configuration decides the identity";

pub(crate) const SERVICE_FABRIC: Descriptor = Descriptor {
    describe: "the Service Fabric identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[("accept", "application/json")],
    credential_header: Some("secret"),
    resource_in: ResourceIn::Query,
    client_id: Selector::Refused(CLUSTER_DECIDES),
    object_id: Selector::Refused(CLUSTER_DECIDES),
    resource_id: Selector::Refused(CLUSTER_DECIDES),
    // Its guidance: as the platforms, and never retry a 404.
    peer: Peer::ServiceFabric,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    let url = super::parse_endpoint(IDENTITY_ENDPOINT, super::required(env, IDENTITY_ENDPOINT)?)?;
    if url.scheme != Scheme::Https {
        return Err(Error::InvalidArgument(format!(
            "{IDENTITY_ENDPOINT} must be https for Service Fabric (its certificate is pinned by {IDENTITY_SERVER_THUMBPRINT})"
        )));
    }
    super::required(env, IDENTITY_SERVER_THUMBPRINT)?;
    Ok(TokenEndpoint {
        descriptor: &SERVICE_FABRIC,
        url,
        credential: Some(super::required(env, IDENTITY_HEADER)?.to_owned()),
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests;
