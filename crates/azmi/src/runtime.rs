//! The compiled component, built once per process and shared: engine,
//! component, linker and pre-instantiation. Each call instantiates it in a
//! fresh `Store` (tens of microseconds), so no state survives between calls.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::Component;
use wasmtime::{Engine, Store};

use crate::bindings::CredentialProviderPre;
use crate::cache::TokenSlots;
use crate::config::Config;
use crate::error::{Error, Setting};
use crate::limits::EPOCH_TICK;
use crate::sandbox::{self, CORE_INSTANCES_PER_CALL, MEMORIES_PER_CALL, State, TABLES_PER_CALL};
use crate::upstream::{UpstreamGate, UpstreamLimit, UpstreamStats};

/// The component this build of azmi runs by default (compiled from
/// `crates/azmi-guest` by `build.rs`): a WebAssembly component of the
/// `azmi:identity/credentials` world, for hosts that run it elsewhere (jco,
/// `wasmtime serve`) or inspect it.
pub const COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/azmi_guest.wasm"));

/// `precompiled::component_digest(COMPONENT)`, computed by `build.rs`.
pub(crate) const COMPONENT_DIGEST: &str = env!("AZMI_COMPONENT_DIGEST");

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
    /// With the pooling allocator: its size, and one permit per slot, so a
    /// call beyond the pool waits for a slot instead of failing.
    instance_slots: Option<InstanceSlots>,
    /// The token cache every `Credential` of this runtime shares.
    tokens: Arc<TokenSlots>,
    /// The gate every identity-endpoint request of this runtime passes.
    upstream: Arc<UpstreamGate>,
    stop_ticker: Arc<AtomicBool>,
}

struct InstanceSlots {
    permits: Arc<Semaphore>,
    memory_bytes: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Builds a `Runtime`: which component, where compiled components are
/// cached, how calls get their memory.
pub struct RuntimeBuilder {
    component: Option<(Vec<u8>, String)>,
    cache_dir: Option<PathBuf>,
    pooling: Option<Pooling>,
    /// Whether the host chose `pooling` or `on_demand` itself.
    pooling_chosen: bool,
    upstream: UpstreamLimit,
}

impl Default for RuntimeBuilder {
    /// The built-in component, no disk cache, pooled instances
    /// (`Pooling::default()`), the identity endpoints counted but not paced.
    fn default() -> RuntimeBuilder {
        RuntimeBuilder {
            component: None,
            cache_dir: None,
            pooling: Some(Pooling::default()),
            pooling_chosen: false,
            upstream: UpstreamLimit::default(),
        }
    }
}

/// Sizes wasmtime's pooling allocator: memory and stacks for `instances`
/// concurrent calls are reserved once, and each call reuses a slot instead
/// of mapping fresh memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pooling {
    /// Calls that can run at once across every tenant of the runtime; a
    /// call beyond them waits for a free slot (within its deadline).
    pub instances: u32,
    /// Size of each memory slot: the most any tenant's
    /// `CallLimits::memory_bytes` may be.
    pub memory_bytes: usize,
    /// Dirtied memory kept mapped per slot between calls (default 1 MiB),
    /// where the kernel has Linux's `PAGEMAP_SCAN` (6.7+). When a call
    /// ends, wasmtime finds the pages it dirtied and resets the first this
    /// many bytes of them in place to the component's initial image; only
    /// the rest is unmapped. The next call then takes no page faults there,
    /// and the process sends no TLB-shootdown interrupts for them.
    /// Isolation is unchanged: every call starts from the initial image
    /// (the hostile-guest tests check it). Costs what a call
    /// dirties, up to this much, per slot that has run a call: about 60 KiB
    /// for the built-in component (256 slots kept 12-18 MiB more resident
    /// under `examples/load`, which ran 1.5-1.9x more calls per second).
    /// Without `PAGEMAP_SCAN` this setting is ignored and everything is
    /// unmapped after each call: wasmtime would otherwise reset and keep
    /// the whole prefix, dirty or not. 0 unmaps everything everywhere.
    pub keep_resident_bytes: usize,
}

crate::limits::setters!(Pooling {
    instances: u32,
    memory_bytes: usize,
    keep_resident_bytes: usize,
});

impl Default for Pooling {
    fn default() -> Pooling {
        Pooling {
            instances: 1000,
            memory_bytes: crate::CallLimits::default().memory_bytes,
            keep_resident_bytes: 1 << 20,
        }
    }
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field(
                "component",
                &self.component.as_ref().map(|(_, source)| source),
            )
            .field("cache_dir", &self.cache_dir)
            .field("pooling", &self.pooling)
            .field("upstream", &self.upstream)
            .finish()
    }
}

impl RuntimeBuilder {
    /// Runs another build of a component implementing the
    /// `azmi:identity/credentials` world, read from `path`.
    ///
    /// # Errors
    /// `Error::Config` naming the file when it cannot be read.
    pub fn component_file(mut self, path: &Path) -> Result<RuntimeBuilder, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            let shown = path.display().to_string();
            Error::config(
                Setting::Component,
                Some(&shown),
                format!("cannot read the component {shown}: {e}"),
            )
        })?;
        self.component = Some((bytes, path.display().to_string()));
        Ok(self)
    }

    /// Runs the component in `wasm`; `source` names it in errors.
    pub fn component_bytes(mut self, wasm: &[u8], source: &str) -> RuntimeBuilder {
        self.component = Some((wasm.to_vec(), source.to_owned()));
        self
    }

    /// Caches the compiled component in `dir` (created with mode 0700 if
    /// missing), so later processes skip compilation. Entries are trusted
    /// only when this user owns them and nobody else can write them. By
    /// default nothing is written to disk.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> RuntimeBuilder {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sizes wasmtime's pooling allocator, which every runtime uses unless
    /// told `on_demand`: each call takes a slot reserved once instead of
    /// mapping memory of its own, and starts from the component's initial
    /// image all the same (an uncached call costs less than half as much
    /// on one thread: BENCHMARKS.md), and the slots bound the calls, so the
    /// memory, in flight. The default is `Pooling::default()`; where its
    /// address space cannot be reserved (a `ulimit -v`), a runtime that was
    /// not given a pool here maps memory per call instead, with a warning.
    pub fn pooling(mut self, pooling: Pooling) -> RuntimeBuilder {
        self.pooling = Some(pooling);
        self.pooling_chosen = true;
        self
    }

    /// Maps memory for each call instead of pooling it: for a process that
    /// makes a call or two and exits (the `azmi` CLI's `token`, `secret`
    /// and `demo`), where a pool's reservation buys nothing. Only the
    /// per-call limits bound memory then.
    pub fn on_demand(mut self) -> RuntimeBuilder {
        self.pooling = None;
        self.pooling_chosen = true;
        self
    }

    /// Paces the identity-endpoint requests of every call of this runtime
    /// (see `UpstreamLimit`); by default they are only counted
    /// (`Runtime::upstream_stats`).
    pub fn upstream_limit(mut self, limit: UpstreamLimit) -> RuntimeBuilder {
        self.upstream = limit;
        self
    }

    /// Compiles (or loads) the component and links it against the sandbox.
    ///
    /// # Errors
    /// `Error::Config` when the component is not valid, or imports
    /// something the sandbox does not provide.
    pub fn build(self) -> Result<Runtime, Error> {
        let (wasm, source, digest) = match self.component {
            Some((bytes, source)) => (Cow::Owned(bytes), source, None),
            None => (
                Cow::Borrowed(COMPONENT),
                "the built-in component".to_owned(),
                Some(COMPONENT_DIGEST),
            ),
        };
        let engine_with = |pooling: Option<Pooling>| -> Result<Engine, Error> {
            let mut config = wasmtime::Config::new();
            config.epoch_interruption(true);
            config.wasm_component_model(true);
            if let Some(pooling) = pooling {
                config.allocation_strategy(pooling_config(pooling)?);
            }
            Engine::new(&config).map_err(|e| {
                Error::config(
                    Setting::Engine,
                    None,
                    format!("cannot create the wasm engine: {e}"),
                )
            })
        };
        let mut pooling = self.pooling;
        let engine = match engine_with(pooling) {
            // The default pool's address space cannot be reserved here (a
            // `ulimit -v`, a small virtual address space): calls map their
            // own memory instead, as `on_demand` would. A pool the host
            // sized itself is never replaced.
            Err(e) if !self.pooling_chosen && pooling.is_some() => {
                tracing::warn!(target: "azmi::runtime", "{e}; the default instance pool does not fit this process's address space, so each call maps its own memory (RuntimeBuilder::pooling sizes a smaller pool)");
                pooling = None;
                engine_with(None)?
            }
            engine => engine?,
        };
        let component =
            crate::precompiled::load_or_compile(&engine, &wasm, digest, self.cache_dir.as_deref())
                .map_err(|e| {
                    let fix = if pooling.is_some() {
                        format!(
                            " (or it does not fit the pooling allocator's limits: {CORE_INSTANCES_PER_CALL} core instances, {MEMORIES_PER_CALL} memory and {TABLES_PER_CALL} tables per instance, Pooling::memory_bytes of memory)"
                        )
                    } else {
                        String::new()
                    };
                    Error::config(
                        Setting::Component,
                        Some(&source),
                        format!("{source} is not a valid WebAssembly component{fix}: {e:#}"),
                    )
                })?;
        let linker = sandbox::linker(&engine).map_err(|e| {
            Error::config(
                Setting::Engine,
                None,
                format!("cannot set up the sandbox: {e:#}"),
            )
        })?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(CredentialProviderPre::new)
            .map_err(|e| {
                Error::config(
                    Setting::Component,
                    Some(&source),
                    format!(
                        "{source} cannot run in the sandbox (it must export azmi:identity/credentials and import only wasi:io, clocks, filesystem, cli and http): {e:#}"
                    ),
                )
            })?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        spawn_epoch_ticker(engine.clone(), stop_ticker.clone());
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                component,
                pre,
                instance_slots: pooling.map(|p| InstanceSlots {
                    permits: Arc::new(Semaphore::new(p.instances as usize)),
                    memory_bytes: p.memory_bytes,
                }),
                tokens: Arc::default(),
                upstream: Arc::new(UpstreamGate::new(self.upstream)),
                stop_ticker,
            }),
        })
    }
}

impl Runtime {
    /// Configures a runtime; see `RuntimeBuilder`.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Loads the component built into this binary, compiling it in memory.
    ///
    /// # Errors
    /// `Error::Config` if the engine cannot be created (not expected).
    pub fn new() -> Result<Runtime, Error> {
        Runtime::builder().build()
    }

    /// Loads another build of a component implementing the
    /// `azmi:identity/credentials` world, from a `.wasm` file.
    ///
    /// # Errors
    /// `Error::Config` naming the file if it cannot be read, is not a
    /// component, or imports something the sandbox does not provide.
    pub fn from_component_file(path: &Path) -> Result<Runtime, Error> {
        Runtime::builder().component_file(path)?.build()
    }

    /// Loads a component from its bytes; `source` names it in errors.
    ///
    /// # Errors
    /// As `from_component_file`.
    pub fn from_component_bytes(wasm: &[u8], source: &str) -> Result<Runtime, Error> {
        Runtime::builder().component_bytes(wasm, source).build()
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

    /// How the identity endpoint has been used by every call so far.
    pub fn upstream_stats(&self) -> UpstreamStats {
        self.inner.upstream.stats()
    }

    /// The runtime's token cache.
    pub(crate) fn tokens(&self) -> Arc<TokenSlots> {
        self.inner.tokens.clone()
    }

    pub(crate) fn pre(&self) -> &CredentialProviderPre<State> {
        &self.inner.pre
    }

    /// Waits for a pool slot, when the runtime pools instances; the slot is
    /// free again when the permit and the call's store are dropped.
    pub(crate) async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        let slots = self.inner.instance_slots.as_ref()?;
        // The semaphore is never closed.
        slots.permits.clone().acquire_owned().await.ok()
    }

    /// A fresh store for one call, with its limits armed.
    pub(crate) fn store(
        &self,
        config: &Config,
        remaining: Duration,
    ) -> Result<Store<State>, Error> {
        if let Some(slots) = &self.inner.instance_slots
            && config.limits.memory_bytes > slots.memory_bytes
        {
            return Err(Error::config(
                Setting::Limits,
                Some(&config.limits.memory_bytes.to_string()),
                format!(
                    "the call's memory limit ({} bytes) is larger than the runtime's pool slots ({} bytes): lower CallLimits::memory_bytes, raise Pooling::memory_bytes (RuntimeBuilder::pooling), or build the runtime with RuntimeBuilder::on_demand()",
                    config.limits.memory_bytes, slots.memory_bytes
                ),
            ));
        }
        let mut store = Store::new(
            &self.inner.engine,
            State::new(config, remaining, self.inner.upstream.clone())?,
        );
        store.limiter(|state| &mut state.limiter);
        // What the component hands the host in one call (a path, a header
        // set, its result) is copied into host memory: bound it, and the
        // handles it may hold.
        store.set_hostcall_fuel(sandbox::MAX_VALUE_BYTES);
        store.set_max_component_handles(sandbox::MAX_HANDLES);
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
            // starve the calls of other tenants. tokio's own yield (which
            // wasmtime recommends for tokio) lets the I/O driver run too;
            // the generic `Yield` re-polled the spinning task at once, and
            // on a single-threaded runtime a neighbour waiting on a socket
            // waited for the spinner to finish.
            Ok(wasmtime::UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        Ok(store)
    }
}

/// The pooling allocator sized for `pooling.instances` concurrent calls,
/// with the per-call maxima the on-demand limiter enforces too
/// (`sandbox::CORE_INSTANCES_PER_CALL` and its siblings); a component that
/// needs more fails at load time with wasmtime's explanation, not one call
/// in n under load.
/// Each memory slot reserves address space (4 GiB plus guards on 64-bit),
/// so 1,000 instances reserve about 4 TiB of it, unbacked.
fn pooling_config(pooling: Pooling) -> Result<wasmtime::PoolingAllocationConfig, Error> {
    if pooling.instances == 0 {
        return Err(Error::config(
            Setting::Limits,
            Some("0"),
            "Pooling::instances is 0: no call could ever run; use at least 1".into(),
        ));
    }
    let n = pooling.instances;
    let mut p = wasmtime::PoolingAllocationConfig::default();
    p.total_component_instances(n)
        .total_core_instances(n.saturating_mul(CORE_INSTANCES_PER_CALL))
        .total_memories(n.saturating_mul(MEMORIES_PER_CALL))
        .total_tables(n.saturating_mul(TABLES_PER_CALL))
        .total_stacks(n)
        .max_core_instances_per_component(CORE_INSTANCES_PER_CALL)
        .max_memories_per_component(MEMORIES_PER_CALL)
        .max_tables_per_component(TABLES_PER_CALL)
        .table_elements(crate::sandbox::MAX_TABLE_ELEMENTS)
        // Decommits are not batched (`decommit_batch_size` stays 1): a
        // batch left freed slots unusable until flushed, and under load
        // (examples/load, 256 slots) calls failed with "maximum concurrent
        // limit of 256 for memory stripe 0 reached" although the slot
        // semaphore had let them in.
        .max_memory_size(pooling.memory_bytes);
    // Keeping dirtied pages mapped (`Pooling::keep_resident_bytes`) measured
    // 1.5-1.9x the calls per second under examples/load (BENCHMARKS.md), as
    // concurrent calls stop waiting on each other's unmapping. It needs
    // PAGEMAP_SCAN to find the dirty pages: without it wasmtime would copy
    // the whole kept prefix back after every call and keep it resident.
    let keep = if pooling.keep_resident_bytes > 0
        && wasmtime::PoolingAllocationConfig::is_pagemap_scan_available()
    {
        pooling.keep_resident_bytes
    } else {
        0
    };
    p.pagemap_scan(if keep > 0 {
        wasmtime::Enabled::Yes
    } else {
        wasmtime::Enabled::No
    })
    .linear_memory_keep_resident(keep)
    .table_keep_resident(keep.min(TABLE_KEEP_RESIDENT));
    Ok(p)
}

/// The built-in component's tables hold a few hundred entries: 64 KiB
/// covers them with room to spare.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

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
