//! The emulated Instance Metadata Service token endpoint, faithful to what
//! the reference documents (managed-identity.md §3): `Metadata: true`
//! required, `api-version` checked, user-assigned selection by `client_id`,
//! `object_id` or `msi_res_id` (`mi_res_id` too, as IMDS accepts it),
//! numbers sent as strings, 400 for an identity that is not assigned.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::server::{Body, json, query_pairs};
use super::{EmulatedIdentity, State, now};

const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
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

pub(super) fn handle(state: &Arc<State>, request: &http::Request<Bytes>) -> http::Response<Body> {
    state
        .counters
        .imds
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
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
    let selectors: Vec<(&str, &str)> = ["client_id", "object_id", "msi_res_id", "mi_res_id"]
        .into_iter()
        .filter_map(|name| param(name).map(|v| (name, v)))
        .collect();
    let identity = match select_identity(state, &selectors) {
        Ok(identity) => identity,
        Err(description) => return error(400, "invalid_request", description),
    };

    let issued = now();
    let lifetime = state.config.token_lifetime.as_secs();
    let expires_on = issued + lifetime;
    let audience = state
        .config
        .audience_override
        .as_deref()
        .unwrap_or(resource);
    let claims = json!({
        "aud": audience,
        "iss": format!("https://sts.windows.net/{}/", state.config.tenant_id),
        "iat": issued,
        "nbf": issued,
        "exp": expires_on,
        "oid": identity.object_id,
        "sub": identity.object_id,
        "appid": identity.client_id,
        "tid": state.config.tenant_id,
        "idtyp": "app",
        "xms_mirid": identity.resource_id,
    });
    let token = state.signer.issue(&claims);
    // Real IMDS sends every number as a string.
    json(
        200,
        &json!({
            "access_token": token,
            "refresh_token": "",
            "expires_in": lifetime.to_string(),
            "expires_on": expires_on.to_string(),
            "ext_expires_in": lifetime.to_string(),
            "not_before": issued.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }),
        &[],
    )
}

/// The identity a request selects, with IMDS's answers for the rest.
fn select_identity<'a>(
    state: &'a State,
    selectors: &[(&str, &str)],
) -> Result<&'a EmulatedIdentity, &'static str> {
    let config = &state.config;
    match selectors {
        [] => match (&config.system_identity, config.user_assigned.as_slice()) {
            (Some(system), _) => Ok(system),
            // IMDS quirk: with no system identity and exactly one
            // user-assigned one, a system-assigned request gets that one.
            (None, [only]) => Ok(only),
            (None, []) => Err("Identity not found"),
            (None, _) => Err(
                "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
            ),
        },
        [(name, value)] => config
            .user_assigned
            .iter()
            .find(|id| match *name {
                "client_id" => id.client_id.eq_ignore_ascii_case(value),
                "object_id" => id.object_id.eq_ignore_ascii_case(value),
                _ => id
                    .resource_id
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(value)),
            })
            .ok_or("Identity not found"),
        _ => Err("Only one of client_id, object_id or msi_res_id may be specified"),
    }
}
