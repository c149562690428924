//! azmi's guest: Azure managed-identity tokens and Key Vault secrets as a
//! WebAssembly component (`wit/azmi.wit`, world `credential-provider`).
//!
//! Protocol logic lives in plain modules behind the `Transport` seam and is
//! unit-tested natively; `wasi_http` is the only module that talks to the
//! host, and this file only maps between the WIT types and the guest's own.

mod cache;
mod context;
mod endpoint;
mod env;
mod error;
mod expiry;
mod identity;
mod keyvault;
mod operations;
mod retry;
mod sources;
mod token;
mod transport;
mod url;
mod wasi_http;

#[cfg(test)]
mod testing;

#[cfg(feature = "fuzzing")]
pub mod fuzzing;

mod bindings {
    wit_bindgen::generate!({
        world: "credential-provider",
        path: "../../wit",
    });
}

use bindings::exports::azmi::identity::credentials as wit;

struct Component;

/// Tokens and challenges, for as long as this instance lives.
static CACHE: std::sync::LazyLock<std::sync::Mutex<cache::Cache>> =
    std::sync::LazyLock::new(Default::default);

/// Runs `operation` with a fresh call context: the instance's cache, the
/// wasi:http transport, the retry policy the host set (`AZMI_RETRY`).
fn with_ctx<T>(
    operation: impl FnOnce(&mut context::Ctx<'_>, &env::Env) -> Result<T, error::Error>,
) -> Result<T, wit::Error> {
    let env = env::Env::from_process();
    let policy = match env.get(azmi_core::AZMI_RETRY) {
        None => retry::Policy::default(),
        Some(text) => retry::Policy::parse(text).map_err(|why| {
            error::Error::InvalidArgument(format!("{}: {why}", azmi_core::AZMI_RETRY))
        })?,
    };
    let clock = context::WasiClock::new();
    // A poisoned lock only means an earlier call panicked mid-update; the
    // entries are still whole, so keep using them.
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut ctx = context::Ctx {
        transport: &wasi_http::WasiHttp,
        clock: &clock,
        policy,
        now: now(),
        cache: &mut cache,
    };
    Ok(operation(&mut ctx, &env)?)
}

impl wit::Guest for Component {
    fn get_token(
        resource: String,
        identity: Option<wit::Identity>,
    ) -> Result<wit::AccessToken, wit::Error> {
        let identity = identity_from_wit(identity);
        let token = with_ctx(|ctx, env| operations::get_token(ctx, env, &resource, &identity))?;
        Ok(wit::AccessToken {
            token: token.token.into_inner(),
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
        let identity = identity_from_wit(identity);
        with_ctx(|ctx, env| {
            operations::get_secret(ctx, env, &vault_url, &name, version.as_deref(), &identity)
        })
        .map(secret_to_wit)
    }

    fn discover_vault(
        vault_url: String,
        name: String,
        version: Option<String>,
    ) -> Result<wit::VaultChallenge, wit::Error> {
        let challenge = with_ctx(|ctx, _| {
            operations::discover_vault(ctx, &vault_url, &name, version.as_deref())
        })?;
        Ok(wit::VaultChallenge {
            resource: challenge.resource,
            tenant: challenge.tenant,
        })
    }

    fn get_secret_with_token(
        vault_url: String,
        name: String,
        version: Option<String>,
        token: String,
    ) -> Result<wit::Secret, wit::Error> {
        with_ctx(|ctx, _| {
            operations::get_secret_with_token(ctx, &vault_url, &name, version.as_deref(), &token)
        })
        .map(secret_to_wit)
    }
}

fn secret_to_wit(secret: keyvault::Secret) -> wit::Secret {
    wit::Secret {
        value: secret.value.into_inner(),
        id: secret.id,
        version: secret.version,
        content_type: secret.content_type,
        enabled: secret.enabled,
        created: secret.created,
        updated: secret.updated,
        expires: secret.expires,
        not_before: secret.not_before,
        tags: secret.tags,
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
