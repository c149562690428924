//! The sandbox one call runs in: the store state, the WASI context built
//! deny-by-default in one function, the linker that provides only what the
//! component needs (no wasi:sockets at all), and the memory limiter.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::Error;
use crate::config::{ARC_TOKEN_DIR, Config};
use crate::egress::{EgressHooks, EgressLog};

/// Bytes of the component's stderr kept for diagnostics (`-v`).
const STDERR_CAPACITY: usize = 4096;

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
    pub(crate) fn new(config: &Config, remaining: Duration) -> Result<State, Error> {
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
            wasi: wasi_ctx(&env, config.arc_token_dir.as_deref(), stderr.clone())?,
            http: {
                // Header sections the component builds stay small too.
                let mut http = WasiHttpCtx::new();
                http.set_field_size_limit(64 * 1024);
                http
            },
            table: ResourceTable::new(),
            hooks: EgressHooks {
                policy: config.policy.clone(),
                connector: config.connector.clone(),
                log: log.clone(),
            },
            limiter: Limiter {
                memory_bytes: config.limits.memory_bytes,
                memory_exceeded: false,
            },
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
/// * filesystem: nothing, except for Azure Arc the agent's token directory
///   `arc_token_dir`, read-only, at the path the agent names
///   (`/var/opt/azcmagent/tokens`); wasmtime confines every path, symbolic
///   links included, to a preopened directory;
/// * sockets: TCP, UDP and name lookup off (and not linked at all, see
///   `linker`); HTTP goes through the egress hooks only;
/// * clocks: the real ones (token expiry needs wall-clock time);
/// * random: not linked.
pub(crate) fn wasi_ctx(
    env: &BTreeMap<String, String>,
    arc_token_dir: Option<&Path>,
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
    if let Some(dir) = arc_token_dir {
        builder.preopened_dir(dir, ARC_TOKEN_DIR, FsPerms::ReadOnly).map_err(|e| {
            Error::Config(format!(
                "cannot grant the Arc token directory {}: {e:#}; run as root or as a member of the himds group, or point --arc-token-dir at the agent's directory",
                dir.display()
            ))
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
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(l)?;
    Ok(linker)
}

/// Caps linear memory; remembers that the cap was hit so the trap can be
/// reported as a resource limit rather than a crash.
pub(crate) struct Limiter {
    memory_bytes: usize,
    pub(crate) memory_exceeded: bool,
}

/// Table elements allowed; the component needs a few hundred.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_exceeded = true;
            return Err(wasmtime::format_err!(
                "the component asked for {desired} bytes of memory; the limit is {}",
                self.memory_bytes
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
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
