//! Azure Instance Metadata Service (VMs, scale sets, AKS nodes): one GET
//! with `Metadata: true`.

use azmi_core::{AZURE_POD_IDENTITY_AUTHORITY_HOST, IMDS_DEFAULT_BASE, IMDS_TOKEN_PATH};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;
use crate::url::Url;

pub(crate) const API_VERSION: &str = "2018-02-01";

pub(crate) const IMDS: Descriptor = Descriptor {
    describe: "IMDS at",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[("metadata", "true")],
    credential_header: None,
    resource_in: ResourceIn::Query,
    client_id: Selector::Param("client_id"),
    object_id: Selector::Param("object_id"),
    // IMDS documents `msi_res_id`; only that one works on ACI too.
    resource_id: Selector::Param("msi_res_id"),
    peer: Peer::Imds,
};

/// IMDS at `AZURE_POD_IDENTITY_AUTHORITY_HOST` when set, else at
/// 169.254.169.254.
pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    let raw = env
        .get(AZURE_POD_IDENTITY_AUTHORITY_HOST)
        .map_or(IMDS_DEFAULT_BASE, str::trim);
    let mut url = Url::parse(raw).map_err(|why| {
        Error::InvalidArgument(format!(
            "{AZURE_POD_IDENTITY_AUTHORITY_HOST}=`{}` {why}; set it to the IMDS base URL, e.g. http://169.254.169.254",
            crate::error::sanitize_message(raw, None)
        ))
    })?;
    url.path = format!("{}{IMDS_TOKEN_PATH}", url.base_path());
    Ok(TokenEndpoint {
        descriptor: &IMDS,
        url,
        credential: None,
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests;
