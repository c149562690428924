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
use super::{ArcBehavior, Shared};

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

/// A reply that ends a request early (boxed: responses are large).
type Refusal = Box<http::Response<Body>>;

fn respond(result: Result<http::Response<Body>, Refusal>) -> http::Response<Body> {
    result.unwrap_or_else(|refusal| *refusal)
}

/// The App Service family's error shape.
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

    /// IMDS's and Arc's answer to a request without `Metadata: true`.
    fn without_metadata_header(&self) -> Option<http::Response<Body>> {
        let present = self
            .header("metadata")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        (!present).then(|| {
            oauth_error(
                400,
                "invalid_request",
                "Required metadata header not specified",
            )
        })
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

pub(super) fn arc(state: &Arc<Shared>, request: &http::Request<Bytes>) -> http::Response<Body> {
    respond(arc_token(state, request))
}

fn arc_token(
    state: &Arc<Shared>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(request, TOKEN_PATH, http::Method::GET, None)?;
    if let Some(refused) = checked.without_metadata_header() {
        return Ok(refused);
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

/// How one emulated platform endpoint behaves: everything that differs
/// between App Service, App Service 2017, Service Fabric and Cloud Shell,
/// as data, over one handler (`answer`).
pub(super) struct Platform {
    path: &'static str,
    method: http::Method,
    api_version: Option<&'static str>,
    /// What a request must carry besides its parameters.
    gate: Gate,
    resource_in: ResourceIn,
    /// The query parameters that name a user-assigned identity.
    selectors: &'static [(&'static str, SelectorKind)],
    /// Whose token it issues.
    identity: Choose,
    /// The 200 body, in the platform's shape.
    body: fn(&tokens::Issued, &str, &super::EmulatedIdentity) -> Value,
}

/// What a request must carry to be answered.
enum Gate {
    /// `Metadata: true`.
    Metadata,
    /// This header, with the platform's credential.
    Credential {
        header: &'static str,
        secret: fn(&Shared) -> &str,
        refusal: fn() -> http::Response<Body>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ResourceIn {
    Query,
    Form,
}

#[derive(Clone, Copy)]
enum SelectorKind {
    Client,
    Object,
    Resource,
}

enum Choose {
    /// The identity the selectors name, or the default one (IMDS's rules).
    Select,
    /// The system identity, else the first user-assigned one: the cluster
    /// decides (Service Fabric).
    SystemOrFirst,
    /// The signed-in user, whose stand-in is the system identity (Cloud
    /// Shell).
    System,
}

pub(super) const APP_SERVICE: Platform = Platform {
    path: APP_SERVICE_PATH,
    method: http::Method::GET,
    api_version: Some("2019-08-01"),
    gate: Gate::Credential {
        header: "x-identity-header",
        secret: |s| &s.identity_header,
        refusal: || platform_error(401, "The X-IDENTITY-HEADER is missing or wrong"),
    },
    resource_in: ResourceIn::Query,
    // App Service honours `mi_res_id` and ignores `msi_res_id`.
    selectors: &[
        ("client_id", SelectorKind::Client),
        ("object_id", SelectorKind::Object),
        ("principal_id", SelectorKind::Object),
        ("mi_res_id", SelectorKind::Resource),
    ],
    identity: Choose::Select,
    // No expires_in; expires_on is epoch seconds as a string.
    body: |issued, resource, identity| {
        json!({
            "access_token": issued.token,
            "expires_on": issued.expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        })
    },
};

pub(super) const APP_SERVICE_2017: Platform = Platform {
    path: APP_SERVICE_PATH,
    method: http::Method::GET,
    api_version: Some("2017-09-01"),
    gate: Gate::Credential {
        header: "secret",
        secret: |s| &s.msi_secret,
        refusal: || platform_error(401, "The secret header is missing or wrong"),
    },
    resource_in: ResourceIn::Query,
    selectors: &[("clientid", SelectorKind::Client)],
    identity: Choose::Select,
    // Expiry as a date, as this API version sends it.
    body: |issued, resource, _| {
        json!({
            "access_token": issued.token,
            "expires_on": tokens::us_date(issued.expires_on),
            "resource": resource,
            "token_type": "Bearer",
        })
    },
};

pub(super) const SERVICE_FABRIC: Platform = Platform {
    path: TOKEN_PATH,
    method: http::Method::GET,
    api_version: Some("2019-07-01-preview"),
    gate: Gate::Credential {
        header: "secret",
        secret: |s| &s.identity_header,
        refusal: || {
            let error = json!({"error": {"code": "SecretHeaderNotFound", "message": "Secret is not found in the request headers."}});
            json(401, &error, &[])
        },
    },
    resource_in: ResourceIn::Query,
    selectors: &[],
    identity: Choose::SystemOrFirst,
    body: |issued, resource, _| {
        json!({
            "access_token": issued.token,
            "expires_on": issued.expires_on,
            "resource": resource,
            "token_type": "Bearer",
        })
    },
};

pub(super) const CLOUD_SHELL: Platform = Platform {
    path: CLOUD_SHELL_PATH,
    method: http::Method::POST,
    api_version: None,
    gate: Gate::Metadata,
    resource_in: ResourceIn::Form,
    selectors: &[],
    identity: Choose::System,
    body: |issued, resource, _| {
        json!({
            "access_token": issued.token,
            "expires_in": issued.lifetime.to_string(),
            "expires_on": issued.expires_on.to_string(),
            "not_before": issued.issued.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        })
    },
};

/// `platform`'s handler, as the service table takes it.
pub(super) fn handle(
    platform: &Platform,
    state: &Arc<Shared>,
    request: &http::Request<Bytes>,
) -> http::Response<Body> {
    respond(answer(platform, state, request))
}

/// `platform`'s answer to `request`: checked as the real endpoint checks
/// it, then a token for the identity it names.
fn answer(
    platform: &Platform,
    state: &Arc<Shared>,
    request: &http::Request<Bytes>,
) -> Result<http::Response<Body>, Refusal> {
    let checked = check(
        request,
        platform.path,
        platform.method.clone(),
        platform.api_version,
    )?;
    match &platform.gate {
        Gate::Metadata => {
            if let Some(refused) = checked.without_metadata_header() {
                return Ok(refused);
            }
        }
        Gate::Credential {
            header,
            secret,
            refusal,
        } => {
            if checked.header(header) != Some(secret(state)) {
                return Ok(refusal());
            }
        }
    }
    let form;
    let resource = match platform.resource_in {
        ResourceIn::Query => resource(&checked)?,
        ResourceIn::Form => {
            form = form_pairs(request.body());
            match form
                .iter()
                .find(|(k, _)| k == "resource")
                .map(|(_, v)| v.as_str())
                .filter(|r| !r.is_empty())
            {
                Some(resource) => resource,
                None => {
                    return Ok(oauth_error(
                        400,
                        "invalid_request",
                        "The form field 'resource' is missing",
                    ));
                }
            }
        }
    };
    let config = &state.config;
    let identity = match platform.identity {
        Choose::Select => {
            let selectors: Vec<Selector<'_>> = platform
                .selectors
                .iter()
                .filter_map(|(name, kind)| {
                    checked.param(name).map(|v| match kind {
                        SelectorKind::Client => Selector::Client(v),
                        SelectorKind::Object => Selector::Object(v),
                        SelectorKind::Resource => Selector::Resource(v),
                    })
                })
                .collect();
            match tokens::select(state, &selectors) {
                Ok(identity) => identity,
                Err(description) => return Ok(platform_error(400, description)),
            }
        }
        Choose::SystemOrFirst => match config
            .system_identity
            .as_ref()
            .or(config.user_assigned.first())
        {
            Some(identity) => identity,
            None => {
                let error = json!({"error": {"code": "ManagedIdentityNotFound", "message": "No identity is configured."}});
                return Ok(json(400, &error, &[]));
            }
        },
        Choose::System => match config.system_identity.as_ref() {
            Some(identity) => identity,
            None => return Ok(oauth_error(400, "invalid_request", "No user is signed in")),
        },
    };
    let issued = tokens::issue(state, identity, resource);
    Ok(json(
        200,
        &(platform.body)(&issued, resource, identity),
        &[],
    ))
}

/// A form body's pairs, values percent-decoded.
pub(super) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), super::server::percent_decode(v)))
        .collect()
}
