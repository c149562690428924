//! The sandbox one call runs in: the store state, the WASI context built
//! deny-by-default in one function, the linker that provides only what the
//! component needs (no wasi:sockets at all), and the memory limiter.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{RequestOptions, WasiHttp, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::config::{Config, DirGrant};
use crate::egress::{EgressHooks, EgressLog};
use crate::error::Error;
use crate::upstream::UpstreamGate;

/// Bytes of the component's stderr kept for diagnostics (`-v`).
const STDERR_CAPACITY: usize = 4096;

/// Per-call maxima of what a component may be made of. The built-in
/// component has 3 core instances (its module and wit-component's shims),
/// 1 linear memory and 2 tables; the pooling allocator reserves its slots
/// by the same numbers, so both modes admit exactly the same components.
pub(crate) const CORE_INSTANCES_PER_CALL: u32 = 8;
pub(crate) const MEMORIES_PER_CALL: u32 = 1;
pub(crate) const TABLES_PER_CALL: u32 = 4;

/// Elements a table may grow to; the component needs a few hundred.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What a table element costs the call's memory budget: wasmtime stores a
/// function reference as one pointer.
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Host resources (header sets, requests, responses, bodies, streams,
/// pollables, descriptors) a call may hold at once. The built-in component
/// peaks at about 20 (one request in flight, its response and body, the
/// streams std opens); the rest is headroom for other builds.
pub(crate) const MAX_RESOURCES: usize = 64;

/// Component-model handles a call may hold at once (each names a resource).
pub(crate) const MAX_HANDLES: usize = 4 * MAX_RESOURCES;

/// The most a component may pass to the host in one host call, or return
/// from one export, in strings and lists: a request's method or authority,
/// a header set, a secret. Real values are a few KiB (a secret value is at
/// most 25 KB, and 15 tags of 256 characters each way).
pub(crate) const MAX_VALUE_BYTES: usize = 128 * 1024;

/// Largest header section a component may build (`fields`).
pub(crate) const MAX_FIELDS_BYTES: usize = 64 * 1024;

/// Outgoing request bodies are buffered this much at a time (one chunk):
/// the only body the component sends is Cloud Shell's form of a few
/// hundred bytes.
pub(crate) const OUTGOING_BODY_CHUNK: usize = 16 * 1024;

/// Everything a call's `Store` holds.
pub(crate) struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: EgressHooks,
    pub(crate) limiter: Limiter,
    pub(crate) cpu: CpuMeter,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) log: EgressLog,
}

impl State {
    /// The state of one call, of which `remaining` is left until its
    /// deadline.
    pub(crate) fn new(
        config: &Config,
        remaining: Duration,
        upstream: Arc<UpstreamGate>,
    ) -> Result<State, Error> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let log = EgressLog::default();
        // The component stops retrying just before the host's deadline, so
        // its last real error is what the caller sees: it is told what is
        // left of the call now, after any wait for a pool slot.
        let mut env = (*config.guest_env).clone();
        env.insert(
            azmi_core::AZMI_RETRY.to_owned(),
            config.retry.encode(remaining),
        );
        Ok(State {
            wasi: wasi_ctx(&env, config.granted_dir.as_ref(), stderr.clone())?,
            http: {
                // Header sections the component builds stay small too.
                let mut http = WasiHttpCtx::new();
                http.set_field_size_limit(MAX_FIELDS_BYTES);
                http
            },
            table: {
                // Every resource holds host memory for the component; with
                // `MAX_VALUE_BYTES`, `MAX_FIELDS_BYTES` and
                // `OUTGOING_BODY_CHUNK` this bounds what one call can make
                // the host hold (`MAX_HOST_BYTES_PER_CALL`).
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            hooks: EgressHooks {
                policy: config.policy.clone(),
                connector: config.connector.clone(),
                upstream,
                deadline: tokio::time::Instant::now() + remaining,
                log: log.clone(),
            },
            limiter: Limiter::new(config.limits.memory_bytes),
            cpu: CpuMeter::default(),
            stderr,
            log,
        })
    }
}

/// The component's WASI context. Every capability is off unless listed:
///
/// * environment: exactly `env`, which `Config` restricts to the chosen
///   identity source's variables and its name; nothing is inherited;
/// * arguments: none; stdin: closed; stdout: discarded; stderr: kept in a
///   4 KiB buffer, only ever shown with `-v`;
/// * filesystem: nothing, except the one directory the source needs,
///   read-only: for Azure Arc the agent's token directory, at the path the
///   agent names (`/var/opt/azcmagent/tokens`); for workload identity the
///   token file's directory, at its own path; wasmtime confines every
///   path, symbolic links included, to a preopened directory;
/// * sockets: TCP, UDP and name lookup off (and not linked at all, see
///   `linker`); HTTP goes through the egress hooks only;
/// * clocks: the real ones (token expiry needs wall-clock time);
/// * random: not linked.
pub(crate) fn wasi_ctx(
    env: &BTreeMap<String, String>,
    granted_dir: Option<&DirGrant>,
    stderr: MemoryOutputPipe,
) -> Result<WasiCtx, Error> {
    let mut builder = WasiCtxBuilder::new();
    for (name, value) in env {
        builder.env(name, value);
    }
    builder
        .stderr(stderr)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    if let Some(grant) = granted_dir {
        builder
            .preopened_dir(&grant.host, &grant.guest, FsPerms::ReadOnly)
            .map_err(|e| {
                let shown = grant.host.display().to_string();
                Error::config(
                    grant.setting,
                    Some(&shown),
                    format!("cannot grant {} {shown}: {e:#}; {}", grant.what, grant.fix),
                )
            })?;
    }
    Ok(builder.build())
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// A linker with the WASI 0.2 interfaces the component may import: io,
/// clocks, filesystem (with nothing preopened), cli and http. There is no
/// wasi:sockets and no wasi:random, so a component that imports them fails
/// to link rather than getting a network of its own.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem};
    use wasmtime_wasi_io::bindings::wasi::io;

    let mut linker = Linker::new(engine);
    let l = &mut linker;
    io::error::add_to_linker::<State, HasTable>(l, |s| &mut s.table)?;
    io::poll::add_to_linker::<State, HasTable>(l, |s| &mut s.table)?;
    io::streams::add_to_linker::<State, HasTable>(l, |s| &mut s.table)?;
    clocks::wall_clock::add_to_linker::<State, WasiClocks>(l, State::clocks)?;
    clocks::monotonic_clock::add_to_linker::<State, WasiClocks>(l, State::clocks)?;
    filesystem::types::add_to_linker::<State, WasiFilesystem>(l, State::filesystem)?;
    filesystem::preopens::add_to_linker::<State, WasiFilesystem>(l, State::filesystem)?;
    cli::exit::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::environment::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stdin::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stdout::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::stderr::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_input::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_output::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stdin::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stdout::add_to_linker::<State, WasiCli>(l, State::cli)?;
    cli::terminal_stderr::add_to_linker::<State, WasiCli>(l, State::cli)?;
    http::types::add_to_linker::<State, WasiHttp>(l, &Default::default(), State::http)?;
    add_outgoing_handler(l)?;
    Ok(linker)
}

/// wasi-http's `outgoing-handler.handle`, with one fix: wasmtime 48 reads
/// the `request-options` the component hands over (ownership passes to the
/// host) and never deletes them, so every request left an entry in the
/// resource table. With the table's capacity bounded (`MAX_RESOURCES`), a
/// call that retried long enough would run out; here the options are
/// released once the request is on its way.
fn add_outgoing_handler(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    use http::outgoing_handler::Host as _;
    use http::types::{ErrorCode, Host as _};
    type Handled = Result<Resource<HostFutureIncomingResponse>, ErrorCode>;
    linker.instance(OUTGOING_HANDLER)?.func_wrap(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, State>,
         (request, options): (
            Resource<HostOutgoingRequest>,
            Option<Resource<RequestOptions>>,
        )|
         -> wasmtime::Result<(Handled,)> {
            let mut http = store.data_mut().http();
            let release = options
                .as_ref()
                .map(|o| Resource::<RequestOptions>::new_own(o.rep()));
            let sent = http.handle(request, options);
            if let Some(options) = release {
                // Already gone only if a later wasmtime deletes them.
                let _ = http.table.delete(options);
            }
            match sent {
                Ok(future) => Ok((Ok(future),)),
                Err(error) => Ok((Err(http.convert_error_code(error)?),)),
            }
        },
    )?;
    Ok(())
}

/// The interface as wasmtime-wasi-http 48 names it; components importing
/// any 0.2.x are linked to it by semver.
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// The most host memory one call can make the host hold through WASI
/// resources, every one at its largest: an outgoing request holds its
/// method, scheme and authority (each at most `MAX_VALUE_BYTES`), its path
/// (at most 64 KiB, the `http` crate's limit) and its header set; anything
/// else holds less. 32 MiB, against several GB before these limits.
pub(crate) const MAX_HOST_BYTES_PER_CALL: usize =
    MAX_RESOURCES * (3 * MAX_VALUE_BYTES + 64 * 1024 + MAX_FIELDS_BYTES);

/// Caps what a call's component is made of and the memory it uses: the sum
/// of all its linear memories and tables, whatever its shape (wasmtime 48
/// enables multi-memory, and a component may hold several core instances),
/// within one budget, in the on-demand allocator as in the pooling one.
/// Remembers that the budget was hit, so that the trap is reported as a
/// resource limit rather than a crash.
pub(crate) struct Limiter {
    budget: usize,
    used: usize,
    /// The last growth allowed, taken back if wasmtime then fails it.
    last_growth: usize,
    pub(crate) memory_exceeded: bool,
}

impl Limiter {
    pub(crate) fn new(budget: usize) -> Limiter {
        Limiter {
            budget,
            used: 0,
            last_growth: 0,
            memory_exceeded: false,
        }
    }

    fn grow(&mut self, bytes: usize, what: &str) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(bytes);
        if total > self.budget {
            self.memory_exceeded = true;
            return Err(wasmtime::format_err!(
                "the component asked for {total} bytes of {what} in all; the limit is {}",
                self.budget
            ));
        }
        self.used = total;
        self.last_growth = bytes;
        Ok(true)
    }

    fn grow_failed(&mut self) {
        self.used = self.used.saturating_sub(self.last_growth);
        self.last_growth = 0;
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(desired.saturating_sub(current), "memory")
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        tracing::debug!("a memory growth failed: {error:#}");
        self.grow_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        let elements = desired.saturating_sub(current);
        self.grow(
            elements.saturating_mul(TABLE_ELEMENT_BYTES),
            "memory and tables",
        )
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        tracing::debug!("a table growth failed: {error:#}");
        self.grow_failed();
        Ok(())
    }

    fn instances(&self) -> usize {
        CORE_INSTANCES_PER_CALL as usize
    }

    fn memories(&self) -> usize {
        MEMORIES_PER_CALL as usize
    }

    fn tables(&self) -> usize {
        TABLES_PER_CALL as usize
    }
}

/// Counts the epoch ticks during which the component was running wasm.
///
/// The engine's epoch advances every `EPOCH_TICK` whether or not the
/// component runs; the store's deadline is always one tick ahead, and the
/// callback that fires when wasm code notices it passed counts one tick. A
/// component blocked for seconds on a host call notices once when it
/// resumes, so waiting on I/O costs one tick, not its duration: the budget
/// measures CPU, and the wall-clock deadline measures the rest.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    pub(crate) ticks: u64,
    pub(crate) exceeded: bool,
}
