//! The emulated identity endpoints of the other platforms, each checking
//! what the real one checks: the Arc
//! agent's key-file challenge, App Service's `X-IDENTITY-HEADER`, App
//! Service 2017's `secret` header and date-form expiry, Service Fabric's
//! `Secret` header behind a self-signed certificate, Cloud Shell's form
//! POST.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::server::{Body, json, query_pairs};
use super::tokens::{self, Selector};
use super::{ArcBehavior, State};

pub(super) use azmi_core::IMDS_TOKEN_PATH as TOKEN_PATH;
pub(super) const APP_SERVICE_PATH: &str = "/msi/token";
pub(super) const CLOUD_SHELL_PATH: &str = "/oauth2/token";

fn oauth_error(status: u16, code: &str, description: &str) -> http::Response<Body> {
    json(
        status,
        &json!({"error": code, "error_description": description}),
        &[],
    )
}

/// The App Service family's error shape.
/// A reply that ends a request early (boxed: responses are large).
type Refusal = Box<http::Response<Body>>;

fn respond(result: Result<http::Response<Body>, Refusal>) -> http::Response<Body> {
    result.unwrap_or_else(|refusal| *refusal)
}

fn platform_error(status: u16, message: &str) -> http::Response<Body> {
    json(
        status,
        &json!({"statusCode": status, "message": message}),
        &[],
    )
}

struct Checked<'r> {
    query: Vec<(String, String)>,
    request: &'r http::Request<Bytes>,
}

impl Checked<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
}

/// Path, method and api-version, checked the same way everywhere.
fn check<'r>(
    request: &'r http::Request<Bytes>,
    path: &str,
    method: http::Method,
    api_version: Option<&str>,
) -> Result<Checked<'r>, Refusal> {
    if request.uri().path() != path {
        return Err(Box::new(platform_error(
            404,
            "The requested path was not found",
        )));
    }
    if request.method() != method {
        return Err(Box::new(platform_error(
            405,
            &format!("Only {method} is supported"),
        )));
    }
    let checked = Checked {
        query: query_pairs(request.uri()),
        request,
    };
    if let Some(expected) = api_version
        && checked.param("api-version") != Some(expected)
    {
        return Err(Box::new(oauth_error(
            400,
            "invalid_request",
            &format!("api-version {expected} is required"),
        )));
    }
    Ok(checked)
}

fn resource<'c>(checked: &'c Checked<'_>) -> Result<&'c str, Refusal> {
    checked
        .param("resource")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Box::new(oauth_error(
                400,
                "invalid_request",
                "Required query variable 'resource' is missing",
            ))
        })
}

pub(super) fn arc(state: &Arc<State>, request: &http::Request<Bytes>) -> http::Response<Body> {
    respond(arc_token(state, request))
}

fn arc_token(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(request, TOKEN_PATH, http::Method::GET, None)?;
    if !checked
        .header("metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(oauth_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    let resource = resource(&checked)?;
    let behavior = &state.config.arc;
    let Some(key) = checked
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return Ok(match behavior {
            ArcBehavior::FirstStatus(status) => oauth_error(
                *status,
                "unexpected",
                "the emulator was told to answer this",
            ),
            ArcBehavior::Challenge(header) => challenge(header.as_deref()),
            _ => match state.arc_keys.issue() {
                Ok(realm) => challenge(Some(&format!("Basic realm={realm}"))),
                Err(e) => oauth_error(500, "internal_error", &e.to_string()),
            },
        });
    };
    if *behavior == ArcBehavior::RejectKey || !state.arc_keys.redeem(key) {
        return Ok(oauth_error(
            401,
            "unauthorized",
            "The key in the Authorization header is not valid",
        ));
    }
    let legacy = *behavior == ArcBehavior::Legacy;
    let selectors: Vec<Selector<'_>> = if legacy {
        Vec::new()
    } else {
        [
            checked.param("client_id").map(Selector::Client),
            checked.param("object_id").map(Selector::Object),
            checked.param("msi_res_id").map(Selector::Resource),
        ]
        .into_iter()
        .flatten()
        .collect()
    };
    let identity = match tokens::select(state, &selectors) {
        Ok(identity) => identity,
        Err(description) => return Ok(oauth_error(400, "invalid_request", description)),
    };
    let issued = tokens::issue(state, identity, resource);
    let mut body = json!({
        "access_token": issued.token,
        "expires_in": issued.lifetime.to_string(),
        "expires_on": issued.expires_on.to_string(),
        "not_before": issued.issued.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    });
    if !legacy && !selectors.is_empty() {
        // New agents echo the identity they used.
        body["client_id"] = Value::String(identity.client_id.clone());
        body["object_id"] = Value::String(identity.object_id.clone());
        if let Some(id) = &identity.resource_id {
            body["msi_res_id"] = Value::String(id.clone());
        }
    }
    Ok(json(200, &body, &[]))
}

fn challenge(header: Option<&str>) -> http::Response<Body> {
    let headers: Vec<(&str, String)> = header
        .map(|h| ("www-authenticate", h.to_owned()))
        .into_iter()
        .collect();
    json(
        401,
        &json!({"error": "unauthorized", "error_description": "Authorization header missing"}),
        &headers,
    )
}

pub(super) fn app_service(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> http::Response<Body> {
    respond(app_service_token(state, request))
}

fn app_service_token(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(
        request,
        APP_SERVICE_PATH,
        http::Method::GET,
        Some("2019-08-01"),
    )?;
    if checked.header("x-identity-header") != Some(state.identity_header.as_str()) {
        return Ok(platform_error(
            401,
            "The X-IDENTITY-HEADER is missing or wrong",
        ));
    }
    let resource = resource(&checked)?;
    // App Service honours `mi_res_id` and ignores `msi_res_id`.
    let selectors: Vec<Selector<'_>> = [
        checked.param("client_id").map(Selector::Client),
        checked
            .param("object_id")
            .or(checked.param("principal_id"))
            .map(Selector::Object),
        checked.param("mi_res_id").map(Selector::Resource),
    ]
    .into_iter()
    .flatten()
    .collect();
    let identity = match tokens::select(state, &selectors) {
        Ok(identity) => identity,
        Err(description) => return Ok(platform_error(400, description)),
    };
    let issued = tokens::issue(state, identity, resource);
    // No expires_in; expires_on is epoch seconds as a string.
    Ok(json(
        200,
        &json!({
            "access_token": issued.token,
            "expires_on": issued.expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }),
        &[],
    ))
}

pub(super) fn app_service_2017(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> http::Response<Body> {
    respond(app_service_2017_token(state, request))
}

fn app_service_2017_token(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(
        request,
        APP_SERVICE_PATH,
        http::Method::GET,
        Some("2017-09-01"),
    )?;
    if checked.header("secret") != Some(state.msi_secret.as_str()) {
        return Ok(platform_error(401, "The secret header is missing or wrong"));
    }
    let resource = resource(&checked)?;
    let selectors: Vec<Selector<'_>> = checked
        .param("clientid")
        .map(Selector::Client)
        .into_iter()
        .collect();
    let identity = match tokens::select(state, &selectors) {
        Ok(identity) => identity,
        Err(description) => return Ok(platform_error(400, description)),
    };
    let issued = tokens::issue(state, identity, resource);
    Ok(json(
        200,
        &json!({
            "access_token": issued.token,
            "expires_on": tokens::us_date(issued.expires_on),
            "resource": resource,
            "token_type": "Bearer",
        }),
        &[],
    ))
}

pub(super) fn service_fabric(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> http::Response<Body> {
    respond(service_fabric_token(state, request))
}

fn service_fabric_token(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(
        request,
        TOKEN_PATH,
        http::Method::GET,
        Some("2019-07-01-preview"),
    )?;
    if checked.header("secret") != Some(state.identity_header.as_str()) {
        let error = json!({"error": {"code": "SecretHeaderNotFound", "message": "Secret is not found in the request headers."}});
        return Ok(json(401, &error, &[]));
    }
    let resource = resource(&checked)?;
    let Some(identity) = state
        .config
        .system_identity
        .as_ref()
        .or(state.config.user_assigned.first())
    else {
        let error = json!({"error": {"code": "ManagedIdentityNotFound", "message": "No identity is configured."}});
        return Ok(json(400, &error, &[]));
    };
    let issued = tokens::issue(state, identity, resource);
    Ok(json(
        200,
        &json!({
            "access_token": issued.token,
            "expires_on": issued.expires_on,
            "resource": resource,
            "token_type": "Bearer",
        }),
        &[],
    ))
}

pub(super) fn cloud_shell(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> http::Response<Body> {
    respond(cloud_shell_token(state, request))
}

fn cloud_shell_token(
    state: &Arc<State>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(request, CLOUD_SHELL_PATH, http::Method::POST, None)?;
    if !checked
        .header("metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return Ok(oauth_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        ));
    }
    let form: Vec<(String, String)> = String::from_utf8_lossy(request.body())
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), super::server::percent_decode(v)))
        .collect();
    let Some(resource) = form
        .iter()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .filter(|r| !r.is_empty())
    else {
        return Ok(oauth_error(
            400,
            "invalid_request",
            "The form field 'resource' is missing",
        ));
    };
    // Cloud Shell answers for the signed-in user; the emulator's stand-in
    // is the system identity.
    let Some(identity) = state.config.system_identity.as_ref() else {
        return Ok(oauth_error(400, "invalid_request", "No user is signed in"));
    };
    let issued = tokens::issue(state, identity, resource);
    Ok(json(
        200,
        &json!({
            "access_token": issued.token,
            "expires_in": issued.lifetime.to_string(),
            "expires_on": issued.expires_on.to_string(),
            "not_before": issued.issued.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
        &[],
    ))
}
