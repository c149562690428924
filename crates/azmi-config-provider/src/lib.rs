//! azmi's `wasi:config/store` provider (`wit/azmi.wit`, world
//! `config-provider`): an app that reads configuration gets Key Vault
//! secrets, with no secret and no SDK of its own.
//!
//! It imports `azmi:identity/credentials` and holds no protocol code:
//! `wac plug azmi_config_provider.wasm --plug azmi_guest.wasm` joins it to
//! azmi's component, which does the managed-identity and Key Vault work,
//! and the result imports only WASI. It exports the store twice, once per
//! version platforms import (`0.2.0-rc.1` for wasmtime, the 2024-09-27
//! draft for Spin), both served by the same [`store::Store`].
//!
//! Configuration, from the environment (`wasi:cli/environment`):
//!
//! * `AZMI_VAULT_URL`: the vault, `https://<name>.vault.azure.net`.
//! * `AZMI_CONFIG_KEYS`: the keys `get-all` returns, comma-separated.
//! * `AZMI_CONFIG_TTL`: how long, in seconds, an instance keeps a value
//!   (`store::DEFAULT_TTL_SECONDS` without it).
//! * `AZMI_CLIENT_ID`: a user-assigned identity's client id; without it
//!   the system-assigned identity reads the vault.

mod store;

mod bindings {
    wit_bindgen::generate!({
        world: "config-provider",
        path: "../../wit",
    });
}

use bindings::azmi::identity::credentials;
use bindings::exports::wasi::config0_2_0_draft_2024_09_27::store as draft;
use bindings::exports::wasi::config0_2_0_rc_1::store as rc1;

struct Component;

/// Values and absences, for as long as this instance lives.
static STORE: std::sync::LazyLock<std::sync::Mutex<store::Store>> =
    std::sync::LazyLock::new(Default::default);

/// Runs `operation` on the instance's store with the configuration the
/// environment gives now and azmi's component as the vault.
fn with_store<T>(
    operation: impl FnOnce(&mut store::Store, &store::Settings) -> Result<T, store::Error>,
) -> Result<T, store::Error> {
    let settings = store::Settings::from_vars(std::env::vars())?;
    // A poisoned lock only means an earlier call panicked mid-update; the
    // entries are still whole.
    let mut store = STORE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    operation(&mut store, &settings)
}

/// Key Vault through the imported `credentials`.
struct Credentials;

impl store::Vault for Credentials {
    fn read(
        &self,
        vault_url: &str,
        name: &str,
        client_id: Option<&str>,
    ) -> Result<Option<String>, store::Error> {
        let identity = client_id.map(|id| credentials::Identity::ClientId(id.to_owned()));
        match credentials::get_secret(vault_url, name, None, identity.as_ref()) {
            Ok(secret) => Ok(Some(secret.value)),
            Err(e) => store::outcome_of_failure(&failure(e)),
        }
    }
}

fn failure(e: credentials::Error) -> store::Failure {
    use credentials::Error as E;
    use store::Failure as F;
    let service = |s: credentials::ServiceError| store::ServiceFailure {
        status: s.status,
        code: s.code,
        message: s.message,
        inner_code: s.inner_code,
    };
    match e {
        E::Unavailable(m) => F::Unavailable(m),
        E::Denied(m) => F::Denied(m),
        E::Unauthorized(s) => F::Unauthorized(service(s)),
        E::Forbidden(s) => F::Forbidden(service(s)),
        E::NotFound(s) => F::NotFound(service(s)),
        E::Service(s) => F::Service(service(s)),
        E::InvalidArgument(m) => F::InvalidArgument(m),
        E::InvalidResponse(m) => F::InvalidResponse(m),
        E::Timeout(m) => F::Timeout(m),
        E::Other(m) => F::Other(m),
    }
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// One export per version; the bodies are the same store's.
macro_rules! export_store {
    ($version:ident) => {
        impl $version::Guest for Component {
            fn get(key: String) -> Result<Option<String>, $version::Error> {
                with_store(|store, settings| store.get(&Credentials, settings, &key, now()))
                    .map_err(Into::into)
            }

            fn get_all() -> Result<Vec<(String, String)>, $version::Error> {
                with_store(|store, settings| store.get_all(&Credentials, settings, now()))
                    .map_err(Into::into)
            }
        }

        /// The one place the store's errors become this version's.
        impl From<store::Error> for $version::Error {
            fn from(e: store::Error) -> $version::Error {
                match e {
                    store::Error::Upstream(m) => $version::Error::Upstream(m),
                    store::Error::Io(m) => $version::Error::Io(m),
                }
            }
        }
    };
}

export_store!(rc1);
export_store!(draft);

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
