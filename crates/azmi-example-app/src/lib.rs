//! An example HTTP app for Wasm platforms, written against azmi's WIT
//! alone (world `credential-http-app`): it exports
//! `wasi:http/incoming-handler` and imports `azmi:identity/credentials`,
//! which `wac plug` satisfies with azmi's component. It never answers a
//! token or a secret value, only what a caller needs to see it worked.
//!
//! * `GET /token?resource=R[&client-id=ID]`: `get-token`; answers the
//!   token's audience, type and expiry.
//! * `GET /secret/NAME[?vault=URL]`: `get-secret` from `URL`, or from the
//!   vault `AZMI_VAULT_URL` names; answers whether it was read, and its
//!   version.
//!
//! A failure answers `{"error": KIND, "message": …}` with a status that
//! says whose fault it is (400 the caller's, 403 a refusal, 404 not
//! found, 503 no identity endpoint, 504 a deadline, 502 anything else
//! upstream).

mod http;

mod bindings {
    wit_bindgen::generate!({
        world: "credential-http-app",
        path: "../../wit",
        generate_all,
    });
}

use bindings::azmi::identity::credentials::{self, Error, Identity};
use bindings::exports::wasi::http::incoming_handler::Guest;
use bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use serde_json::{Value, json};

struct App;

impl Guest for App {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        http::handle(&request, out, answer);
    }
}

fn answer(request: &http::Request) -> (u16, Value) {
    let identity = request
        .param("client-id")
        .map(|id| Identity::ClientId(id.to_owned()));
    match request.segments.as_slice() {
        [token] if token == "token" => {
            let Some(resource) = request.param("resource") else {
                return (
                    400,
                    json!({"error": "usage", "message": "GET /token?resource=https://vault.azure.net"}),
                );
            };
            match credentials::get_token(resource, identity.as_ref()) {
                Ok(token) => (
                    200,
                    json!({
                        "resource": token.resource,
                        "token_type": token.token_type,
                        "expires_on": token.expires_on,
                        "refresh_at": token.refresh_at,
                    }),
                ),
                Err(e) => failed(&e),
            }
        }
        [secret, name] if secret == "secret" => {
            let vault = request
                .param("vault")
                .map(str::to_owned)
                .or_else(|| std::env::var("AZMI_VAULT_URL").ok());
            let Some(vault) = vault else {
                return (
                    400,
                    json!({"error": "usage", "message": "name the vault: GET /secret/NAME?vault=https://<vault>.vault.azure.net, or set AZMI_VAULT_URL"}),
                );
            };
            match credentials::get_secret(&vault, name, None, identity.as_ref()) {
                Ok(secret) => (
                    200,
                    json!({"name": name, "read": true, "version": secret.version, "vault": vault}),
                ),
                Err(e) => {
                    let (status, mut body) = failed(&e);
                    body["name"] = json!(name);
                    body["read"] = json!(false);
                    (status, body)
                }
            }
        }
        _ => (
            404,
            json!({"error": "route", "message": "GET /token?resource=… or /secret/NAME"}),
        ),
    }
}

/// A failure's status and body: the case, azmi's message, and the
/// service's status and code when a service refused.
fn failed(error: &Error) -> (u16, Value) {
    let plain =
        |status, kind: &str, message: &str| (status, json!({"error": kind, "message": message}));
    let service = |status, kind: &str, e: &credentials::ServiceError| {
        (
            status,
            json!({"error": kind, "message": e.message, "status": e.status, "code": e.code}),
        )
    };
    match error {
        Error::InvalidArgument(m) => plain(400, "invalid-argument", m),
        Error::Denied(m) => plain(403, "denied", m),
        Error::Unavailable(m) => plain(503, "unavailable", m),
        Error::Timeout(m) => plain(504, "timeout", m),
        Error::InvalidResponse(m) => plain(502, "invalid-response", m),
        Error::Other(m) => plain(502, "other", m),
        Error::NotFound(e) => service(404, "not-found", e),
        Error::Unauthorized(e) => service(502, "unauthorized", e),
        Error::Forbidden(e) => service(502, "forbidden", e),
        Error::Service(e) => service(502, "service", e),
    }
}

// Exported only when building the component (native builds exist only for
// clippy).
#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{App, bindings};
    bindings::export!(App with_types_in bindings);
}
