//! The compiled component, built once per process and shared: engine,
//! component, linker and pre-instantiation. Each call instantiates it in a
//! fresh `Store` (tens of microseconds), so no state survives between calls.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use wasmtime::component::Component;
use wasmtime::{Engine, Store};

use crate::Error;
use crate::bindings::CredentialProviderPre;
use crate::config::Config;
use crate::limits::EPOCH_TICK;
use crate::sandbox::{self, State};

/// The component built into this binary (compiled from `guest/` by
/// `build.rs`).
pub(crate) const EMBEDDED_COMPONENT: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/azmi_guest.wasm"));

/// A loaded component, ready to instantiate. Cheap to clone; build one per
/// process.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

struct Inner {
    engine: Engine,
    component: Component,
    pre: CredentialProviderPre<State>,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Loads the component built into this binary.
    ///
    /// # Errors
    /// `Error::Config` if the engine cannot be created (not expected).
    pub fn new() -> Result<Runtime, Error> {
        Runtime::from_component_bytes(EMBEDDED_COMPONENT, "the built-in component")
    }

    /// Loads another build of a component implementing the
    /// `azmi:identity/credentials` world, from a `.wasm` file.
    ///
    /// # Errors
    /// `Error::Config` naming the file if it cannot be read, is not a
    /// component, or imports something the sandbox does not provide.
    pub fn from_component_file(path: &Path) -> Result<Runtime, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Config(format!("cannot read the component {}: {e}", path.display()))
        })?;
        Runtime::from_component_bytes(&bytes, &path.display().to_string())
    }

    /// Loads a component from its bytes; `source` names it in errors.
    ///
    /// # Errors
    /// As `from_component_file`.
    pub fn from_component_bytes(wasm: &[u8], source: &str) -> Result<Runtime, Error> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        let engine = Engine::new(&config)
            .map_err(|e| Error::Config(format!("cannot create the wasm engine: {e}")))?;
        let component = Component::new(&engine, wasm).map_err(|e| {
            Error::Config(format!(
                "{source} is not a valid WebAssembly component: {e:#}"
            ))
        })?;
        let linker = sandbox::linker(&engine)
            .map_err(|e| Error::Config(format!("cannot set up the sandbox: {e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(CredentialProviderPre::new)
            .map_err(|e| {
                Error::Config(format!(
                    "{source} cannot run in the sandbox (it must export azmi:identity/credentials and import only wasi:io, clocks, filesystem, cli and http): {e:#}"
                ))
            })?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), stop_ticker.clone());
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                component,
                pre,
                stop_ticker,
            }),
        })
    }

    /// The component's imports, as `namespace:package/interface@version`.
    pub fn imports(&self) -> Vec<String> {
        self.inner
            .component
            .component_type()
            .imports(&self.inner.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    pub(crate) fn pre(&self) -> &CredentialProviderPre<State> {
        &self.inner.pre
    }

    /// A fresh store for one call, with its limits armed.
    pub(crate) fn store(&self, config: &Config) -> Result<Store<State>, Error> {
        let mut store = Store::new(&self.inner.engine, State::new(config)?);
        store.limiter(|state| &mut state.limiter);
        let budget = u64::try_from(config.limits.cpu.as_millis() / EPOCH_TICK.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut context| {
            let cpu = &mut context.data_mut().cpu;
            cpu.ticks += 1;
            if cpu.ticks > budget {
                cpu.exceeded = true;
                return Err(wasmtime::format_err!(
                    "the component exceeded its CPU budget"
                ));
            }
            // Yield to other tasks at every tick: a busy component cannot
            // starve the calls of other tenants.
            Ok(wasmtime::UpdateDeadline::Yield(1))
        });
        Ok(store)
    }
}

/// Advances the engine's epoch every `EPOCH_TICK`, which is what makes the
/// CPU limit fire. Stops when the runtime is dropped.
fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    let spawned = thread::Builder::new()
        .name("azmi-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        });
    if let Err(e) = spawned {
        // Without the ticker the CPU limit cannot fire; the wall-clock
        // deadline still bounds every call.
        tracing::warn!("cannot start the epoch ticker, the CPU limit is not enforced: {e}");
    }
}
