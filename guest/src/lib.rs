//! azmi's guest: Azure managed-identity tokens and Key Vault secrets as a
//! WebAssembly component (`wit/azmi.wit`, world `credential-provider`).
//!
//! Protocol logic lives in plain modules behind the `Transport` seam and is
//! unit-tested natively; `wasi_http` is the only module that talks to the
//! host, and this file only maps between the WIT types and the guest's own.

mod credentials;
mod endpoint;
mod env;
mod error;
mod expiry;
mod identity;
mod keyvault;
mod scope;
mod sources;
mod token;
mod transport;
mod url;
mod wasi_http;

#[cfg(test)]
mod testing;

mod bindings {
    wit_bindgen::generate!({
        world: "credential-provider",
        path: "../wit",
    });
}

use bindings::exports::azmi::identity::credentials as wit;

struct Component;

impl wit::Guest for Component {
    fn get_token(
        resource: String,
        identity: Option<wit::Identity>,
    ) -> Result<wit::AccessToken, wit::Error> {
        let token = credentials::get_token(
            &wasi_http::WasiHttp,
            &env::Env::from_process(),
            now(),
            &resource,
            &identity_from_wit(identity),
        )?;
        Ok(wit::AccessToken {
            token: token.token,
            token_type: token.token_type,
            resource: token.resource,
            expires_on: token.expires_on,
            refresh_at: token.refresh_at,
        })
    }

    fn get_secret(
        vault_url: String,
        name: String,
        version: Option<String>,
        identity: Option<wit::Identity>,
    ) -> Result<wit::Secret, wit::Error> {
        let secret = credentials::get_secret(
            &wasi_http::WasiHttp,
            &env::Env::from_process(),
            now(),
            &vault_url,
            &name,
            version.as_deref(),
            &identity_from_wit(identity),
        )?;
        Ok(wit::Secret {
            value: secret.value,
            id: secret.id,
            version: secret.version,
            content_type: secret.content_type,
            enabled: secret.enabled,
            created: secret.created,
            updated: secret.updated,
            expires: secret.expires,
            not_before: secret.not_before,
            tags: secret.tags,
        })
    }
}

/// Unix seconds from wasi:clocks/wall-clock. A clock before 1970 reads as 0,
/// which makes every token look expired rather than valid forever.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn identity_from_wit(identity: Option<wit::Identity>) -> identity::Identity {
    match identity {
        None | Some(wit::Identity::SystemAssigned) => identity::Identity::SystemAssigned,
        Some(wit::Identity::ClientId(id)) => identity::Identity::ClientId(id),
        Some(wit::Identity::ObjectId(id)) => identity::Identity::ObjectId(id),
        Some(wit::Identity::ResourceId(id)) => identity::Identity::ResourceId(id),
    }
}

/// The one place guest errors become WIT errors.
impl From<error::Error> for wit::Error {
    fn from(e: error::Error) -> wit::Error {
        use error::Error as E;
        let service = |s: error::ServiceError| wit::ServiceError {
            status: s.status,
            code: s.code,
            message: s.message,
            inner_code: s.inner_code,
        };
        match e {
            E::Unavailable(m) => wit::Error::Unavailable(m),
            E::Denied(m) => wit::Error::Denied(m),
            E::Unauthorized(s) => wit::Error::Unauthorized(service(s)),
            E::Forbidden(s) => wit::Error::Forbidden(service(s)),
            E::NotFound(s) => wit::Error::NotFound(service(s)),
            E::Service(s) => wit::Error::Service(service(s)),
            E::InvalidArgument(m) => wit::Error::InvalidArgument(m),
            E::InvalidResponse(m) => wit::Error::InvalidResponse(m),
            E::Timeout(m) => wit::Error::Timeout(m),
            E::Other(m) => wit::Error::Other(m),
        }
    }
}

// Exported only when building the component: a native cdylib cannot link
// export names containing `:` (rust-lld), and native builds exist only for
// unit tests.
#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
