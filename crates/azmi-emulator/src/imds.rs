//! The emulated Instance Metadata Service token endpoint, faithful to what
//! the service documents: `Metadata: true`
//! required, `api-version` checked, user-assigned selection by `client_id`,
//! `object_id` or `msi_res_id` (`mi_res_id` too, as IMDS accepts it),
//! numbers sent as strings, 400 for an identity that is not assigned.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::Shared;
use super::server::{Body, json, query_pairs};
use super::tokens::{self, Selector};

use azmi_core::IMDS_TOKEN_PATH as TOKEN_PATH;
/// api-versions the emulated IMDS accepts for the token endpoint.
const API_VERSIONS: &[&str] = &[
    "2018-02-01",
    "2019-03-11",
    "2019-06-01",
    "2019-08-01",
    "2020-06-01",
    "2021-02-01",
];

fn error(status: u16, code: &str, description: &str) -> http::Response<Body> {
    json(
        status,
        &json!({"error": code, "error_description": description}),
        &[],
    )
}

pub(super) fn handle(state: &Arc<Shared>, request: &http::Request<Bytes>) -> http::Response<Body> {
    if request.uri().path() != TOKEN_PATH {
        return error(404, "not_found", "The requested path was not found");
    }
    if request.method() != http::Method::GET {
        return error(405, "method_not_allowed", "Only GET is supported");
    }
    let metadata = request
        .headers()
        .get("metadata")
        .and_then(|v| v.to_str().ok());
    if !metadata.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return error(
            400,
            "bad_request_102",
            "Required metadata header not specified",
        );
    }
    let query = query_pairs(request.uri());
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match param("api-version") {
        None => {
            return error(
                400,
                "invalid_request",
                "Required query variable 'api-version' is missing",
            );
        }
        Some(v) if !API_VERSIONS.contains(&v) => {
            return error(
                400,
                "invalid_request",
                &format!("Invalid api-version '{v}'"),
            );
        }
        Some(_) => {}
    }
    let Some(resource) = param("resource").filter(|r| !r.is_empty()) else {
        return error(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let selectors: Vec<Selector<'_>> = [
        param("client_id").map(Selector::Client),
        param("object_id").map(Selector::Object),
        param("msi_res_id").map(Selector::Resource),
        param("mi_res_id").map(Selector::Resource),
    ]
    .into_iter()
    .flatten()
    .collect();
    let identity = match tokens::select(state, &selectors) {
        Ok(identity) => identity,
        Err(description) => return error(400, "invalid_request", description),
    };
    let issued = tokens::issue(state, identity, resource);
    // Real IMDS sends every number as a string.
    json(
        200,
        &json!({
            "access_token": issued.token,
            "refresh_token": "",
            "expires_in": issued.lifetime.to_string(),
            "expires_on": issued.expires_on.to_string(),
            "ext_expires_in": issued.lifetime.to_string(),
            "not_before": issued.issued.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }),
        &[],
    )
}
