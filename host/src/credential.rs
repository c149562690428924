//! `Credential`: a runtime plus a configuration, and the two calls. Each
//! call gets a fresh sandbox, bounded by the wall-clock deadline (I/O), the
//! epoch deadline (CPU) and the memory limit; the store is dropped after.

use wasmtime::Store;

use crate::bindings::{CredentialProvider, WitIdentity, identity_to_wit};
use crate::config::Config;
use crate::runtime::Runtime;
use crate::sandbox::State;
use crate::types::{AccessToken, Identity, Secret};
use crate::{Error, bindings};

/// Fetches tokens and secrets through the sandboxed component, as its
/// `Config` allows. Cheap to clone; calls may run concurrently.
#[derive(Clone, Debug)]
pub struct Credential {
    runtime: Runtime,
    config: Config,
}

type CallResult<T> =
    wasmtime::Result<Result<T, bindings::exports::azmi::identity::credentials::Error>>;

impl Credential {
    /// A credential that runs `runtime`'s component under `config`.
    pub fn new(runtime: Runtime, config: Config) -> Credential {
        Credential { runtime, config }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Gets an access token for `resource` (a resource URI, or one scope
    /// ending in `/.default`).
    ///
    /// # Errors
    /// Any `Error` case; see its documentation.
    pub async fn get_token(
        &self,
        resource: &str,
        identity: &Identity,
    ) -> Result<AccessToken, Error> {
        let identity = wit_identity(identity);
        self.call(async |instance, store| {
            instance
                .azmi_identity_credentials()
                .call_get_token(store, resource, identity.as_ref())
                .await
        })
        .await
        .map(AccessToken::from)
    }

    /// Reads secret `name` (at `version`, or the latest) from the vault at
    /// `vault_url`, which the configuration must allow.
    ///
    /// # Errors
    /// Any `Error` case; see its documentation.
    pub async fn get_secret(
        &self,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
        identity: &Identity,
    ) -> Result<Secret, Error> {
        let identity = wit_identity(identity);
        self.call(async |instance, store| {
            instance
                .azmi_identity_credentials()
                .call_get_secret(store, vault_url, name, version, identity.as_ref())
                .await
        })
        .await
        .map(Secret::from)
    }

    /// Runs `invoke` on a fresh instance in a fresh store, under the
    /// configured deadline and limits.
    async fn call<T>(
        &self,
        invoke: impl AsyncFnOnce(&CredentialProvider, &mut Store<State>) -> CallResult<T>,
    ) -> Result<T, Error> {
        let mut store = self.runtime.store(&self.config)?;
        let pre = self.runtime.pre().clone();
        let call = async {
            let instance = pre.instantiate_async(&mut store).await?;
            invoke(&instance, &mut store).await
        };
        let result = tokio::time::timeout(self.config.limits.timeout, call).await;
        self.finish(result, &store)
    }

    /// Turns the outcome of a call into the library's result: deadline,
    /// limit and trap first (the host's view), then the component's answer.
    fn finish<T>(
        &self,
        result: Result<CallResult<T>, tokio::time::error::Elapsed>,
        store: &Store<State>,
    ) -> Result<T, Error> {
        let state = store.data();
        match result {
            Err(_) => Err(Error::Timeout(format!(
                "the call did not finish within {:?}; the component was stopped (raise the timeout, or check that the endpoints answer)",
                self.config.limits.timeout
            ))),
            Ok(Err(trap)) => {
                let stderr = state.stderr.contents();
                if !stderr.is_empty() {
                    tracing::debug!("component stderr: {}", String::from_utf8_lossy(&stderr));
                }
                Err(classify_trap(&trap, state, &self.config))
            }
            Ok(Ok(Err(error))) => Err(match (Error::from(error), state.denials.first()) {
                // The host knows exactly which destination it refused and why.
                (Error::Denied(_), Some(reason)) => Error::Denied(reason),
                (other, _) => other,
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

fn wit_identity(identity: &Identity) -> Option<WitIdentity> {
    match identity {
        Identity::SystemAssigned => None,
        other => Some(identity_to_wit(other)),
    }
}

fn classify_trap(trap: &wasmtime::Error, state: &State, config: &Config) -> Error {
    if state.limiter.memory_exceeded {
        return Error::ResourceLimit(format!(
            "the component exceeded its memory limit of {} bytes and was stopped",
            config.limits.memory_bytes
        ));
    }
    if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
        return Error::ResourceLimit(format!(
            "the component ran for more than {:?} of CPU time and was stopped",
            config.limits.cpu
        ));
    }
    Error::Trap(format!("{trap:#}"))
}
