//! The emulated Key Vault secrets endpoint: TLS
//! only, the 401 challenge without a token, bearer tokens checked for
//! signature, audience, issuer and lifetime, per-secret readers (403
//! `ForbiddenByRbac`), disabled secrets (403 `SecretDisabled`), and
//! `SecretNotFound` 404s, with the bodies and headers the service sends.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::server::{Body, json, query_pairs};
use super::{Shared, now};

/// api-versions the emulated vault accepts.
const API_VERSIONS: &[&str] = &[
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
];
/// The audience of Key Vault tokens in the public cloud.
const AUDIENCE: &str = "https://vault.azure.net";

fn error(
    state: &Shared,
    status: u16,
    code: &str,
    message: &str,
    inner: Option<&str>,
) -> http::Response<Body> {
    let mut error = json!({"code": code, "message": message});
    if let Some(inner) = inner {
        error["innererror"] = json!({"code": inner});
    }
    let mut headers = Vec::new();
    if status == 401 {
        headers.push((
            "www-authenticate",
            format!(
                "Bearer authorization=\"https://login.windows.net/{}\", resource=\"{AUDIENCE}\"",
                state.config.tenant_id
            ),
        ));
    }
    json(status, &json!({ "error": error }), &headers)
}

pub(super) fn handle(state: &Arc<Shared>, request: &http::Request<Bytes>) -> http::Response<Body> {
    let mut response = answer(state, request);
    service_headers(response.headers_mut(), request);
    response
}

/// The headers every answer of the service carries: its own request id, the client's `x-ms-client-request-id` echoed
/// (the SDKs send one so that a failure can be traced on both sides),
/// the service's version and region, and HSTS.
fn service_headers(headers: &mut http::HeaderMap, request: &http::Request<Bytes>) {
    use http::HeaderValue;
    if let Ok(hex) = super::random_hex(16) {
        let uuid = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        if let Ok(value) = HeaderValue::from_str(&uuid) {
            headers.insert("x-ms-request-id", value);
        }
    }
    if let Some(id) = request.headers().get("x-ms-client-request-id") {
        headers.insert("x-ms-client-request-id", id.clone());
    }
    headers.insert(
        "x-ms-keyvault-service-version",
        HeaderValue::from_static("1.9.0.0"),
    );
    headers.insert("x-ms-keyvault-region", HeaderValue::from_static("emulator"));
    headers.insert(
        "strict-transport-security",
        HeaderValue::from_static("max-age=31536000;includeSubDomains"),
    );
}

fn answer(state: &Arc<Shared>, request: &http::Request<Bytes>) -> http::Response<Body> {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.trim_end_matches(":443").to_ascii_lowercase());
    if host.as_deref() != Some(state.config.vault_host.as_str()) {
        return error(
            state,
            404,
            "NotFound",
            "This vault emulator does not serve the requested host",
            None,
        );
    }
    let segments: Vec<&str> = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .collect();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] | ["secrets", name, ""] => (*name, None),
        ["secrets", name, version] => (*name, Some(*version)),
        _ => {
            return error(
                state,
                404,
                "NotFound",
                "The requested resource was not found",
                None,
            );
        }
    };
    if request.method() != http::Method::GET {
        return error(
            state,
            405,
            "MethodNotAllowed",
            "The emulator serves get-secret only",
            None,
        );
    }
    let query = query_pairs(request.uri());
    match query
        .iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v.as_str())
    {
        None => {
            return error(
                state,
                400,
                "BadParameter",
                "The api-version query parameter is required",
                None,
            );
        }
        Some(v) if !API_VERSIONS.contains(&v) => {
            return error(
                state,
                400,
                "BadParameter",
                &format!(
                    "The specified version ({v}) is not recognized. Consider using the latest supported version (7.6)."
                ),
                None,
            );
        }
        Some(_) => {}
    }

    let bearer = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(bearer) = bearer else {
        return error(
            state,
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
            None,
        );
    };
    let Some(claims) = state.signer.verify(bearer) else {
        return error(
            state,
            401,
            "Unauthorized",
            "AKV10013: Invalid token: the signature could not be validated.",
            None,
        );
    };
    if claims.aud.trim_end_matches('/') != AUDIENCE {
        return error(
            state,
            401,
            "Unauthorized",
            &format!(
                "AKV10022: Invalid audience. Expected {AUDIENCE}, found: {}.",
                claims.aud
            ),
            None,
        );
    }
    let issuer = format!("https://sts.windows.net/{}/", state.config.tenant_id);
    if claims.iss != issuer {
        return error(
            state,
            401,
            "Unauthorized",
            &format!(
                "AKV10032: Invalid issuer. Expected one of {issuer}, found {}.",
                claims.iss
            ),
            None,
        );
    }
    let now = now();
    if claims.exp <= now || claims.nbf > now + 300 {
        return error(
            state,
            401,
            "Unauthorized",
            "AKV10021: Token is expired or not yet valid.",
            None,
        );
    }

    let secret = state
        .config
        .secrets
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name));
    let readers = secret
        .and_then(|s| s.readers.as_ref())
        .unwrap_or(&state.config.vault_readers);
    if !readers.iter().any(|r| r.eq_ignore_ascii_case(&claims.oid)) {
        let message = format!(
            "Caller is not authorized to perform action on resource. If role assignments, deny assignments or role definitions were changed recently, please observe propagation time. Caller: appid=;oid={};iss={} Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' Resource: '/secrets/{name}' DecisionReason: 'DeniedWithNoValidRBAC'",
            claims.oid, claims.iss
        );
        return error(state, 403, "Forbidden", &message, Some("ForbiddenByRbac"));
    }
    let not_found = |what: &str| {
        error(
            state,
            404,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
            None,
        )
    };
    let Some(secret) = secret else {
        return not_found(name);
    };
    let found = match version {
        None => secret.versions.last(),
        Some(v) => secret
            .versions
            .iter()
            .find(|sv| sv.version.eq_ignore_ascii_case(v)),
    };
    let Some(found) = found else {
        return not_found(&format!("{name}/{}", version.unwrap_or_default()));
    };
    if !found.enabled {
        return error(
            state,
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }

    let mut bundle = Map::new();
    bundle.insert("value".into(), Value::String(found.value.clone()));
    bundle.insert(
        "id".into(),
        Value::String(format!(
            "https://{}/secrets/{}/{}",
            state.config.vault_host, secret.name, found.version
        )),
    );
    if let Some(ct) = &found.content_type {
        bundle.insert("contentType".into(), Value::String(ct.clone()));
    }
    bundle.insert(
        "attributes".into(),
        json!({"enabled": true, "created": found.created, "updated": found.created, "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}),
    );
    if !found.tags.is_empty() {
        let tags: Map<String, Value> = found
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        bundle.insert("tags".into(), Value::Object(tags));
    }
    json(
        200,
        &Value::Object(bundle),
        &[("cache-control", "no-cache".to_owned())],
    )
}

#[cfg(test)]
mod tests;
