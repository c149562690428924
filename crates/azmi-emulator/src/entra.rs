//! Microsoft Entra's token endpoint, for workload identity: the
//! client-credentials grant with a service-account token as the client
//! assertion, checked as Entra checks it (the signature of the cluster's
//! issuer, not expired, and an issuer, subject and audience that match a
//! federated credential on the identity the client id names), with Entra's
//! `AADSTS` errors.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;

use super::server::{Body, json};
use super::{Shared, now, tokens};
use azmi_core::entra::JWT_BEARER;

/// Entra's error body, as it words them (trace and correlation ids are
/// fixed: nothing here is traced).
fn refuse(status: u16, error: &str, code: u64, description: &str) -> http::Response<Body> {
    json(
        status,
        &json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description} Trace ID: 00000000-0000-0000-0000-000000000000 Correlation ID: 00000000-0000-0000-0000-000000000000 Timestamp: {}",
                now()
            ),
            "error_codes": [code],
            "timestamp": now().to_string(),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
        &[],
    )
}

pub(super) fn handle(state: &Arc<Shared>, request: &http::Request<Bytes>) -> http::Response<Body> {
    let config = &state.config;
    let path = request.uri().path();
    let Some(tenant) = path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/oauth2/v2.0/token"))
    else {
        return json(404, &json!({"error": "not_found"}), &[]);
    };
    if request.method() != http::Method::POST {
        return refuse(
            400,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        );
    }
    if !tenant.eq_ignore_ascii_case(&config.tenant_id) {
        return refuse(
            400,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let form = super::platforms::form_pairs(request.body());
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    for name in [
        "grant_type",
        "client_id",
        "scope",
        "client_assertion_type",
        "client_assertion",
    ] {
        if field(name).is_none_or(str::is_empty) {
            return refuse(
                400,
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{name}'."),
            );
        }
    }
    if field("grant_type") != Some("client_credentials") {
        return refuse(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_assertion_type") != Some(JWT_BEARER) {
        return refuse(
            400,
            "invalid_request",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        );
    }
    let scope = field("scope").unwrap_or_default();
    let Some(resource) = scope.strip_suffix("/.default").filter(|r| !r.is_empty()) else {
        return refuse(
            400,
            "invalid_scope",
            70011,
            &format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        );
    };
    let client_id = field("client_id").unwrap_or_default();
    let Some(identity) = config
        .user_assigned
        .iter()
        .find(|id| id.client_id.eq_ignore_ascii_case(client_id))
    else {
        return refuse(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                config.tenant_id
            ),
        );
    };
    let Some(assertion) = state
        .issuer
        .verify(field("client_assertion").unwrap_or_default())
    else {
        return refuse(
            401,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed.",
        );
    };
    let time = now();
    if assertion.expires <= time || assertion.not_before > time + 300 {
        return refuse(
            401,
            "invalid_client",
            700024,
            &format!(
                "Client assertion is not within its valid time range. Current time: {time}, assertion valid from {}, expiry time of assertion {}.",
                assertion.not_before, assertion.expires
            ),
        );
    }
    let matches = config.workload_identity.federated.iter().any(|f| {
        f.client_id.eq_ignore_ascii_case(&identity.client_id)
            && f.issuer.as_deref().unwrap_or(&state.issuer.url) == assertion.issuer
            && f.subject == assertion.subject
            && assertion.audiences.contains(&f.audience)
    });
    if !matches {
        return refuse(
            400,
            "invalid_request",
            70021,
            &format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
                assertion.issuer,
                assertion.subject,
                assertion.audiences.join(",")
            ),
        );
    }
    state.record_assertion(&assertion.id);
    let issued = tokens::issue(state, identity, resource);
    json(
        200,
        &json!({
            "token_type": "Bearer",
            "expires_in": issued.lifetime,
            "ext_expires_in": issued.lifetime,
            "access_token": issued.token,
        }),
        &[],
    )
}
