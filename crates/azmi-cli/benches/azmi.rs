//! azmi's benchmarks: `cargo bench -p azmi-cli` (criterion; BENCHMARKS.md
//! reports the figures beside their targets). Everything runs against the
//! built-in emulator on loopback.
//!
//! * `engine_start`: a `Runtime` from the embedded component, compiled by
//!   Cranelift, and loaded from the disk cache;
//! * `instantiate`: one tenant's store + instance, on-demand and pooled;
//! * `get_token/cached`; `get_token/uncached` (the default configuration:
//!   pooled), `uncached_pooled` (a 64-slot pool) and `uncached_on_demand`
//!   beside `get_token/native_hyper`, the same IMDS request from a plain
//!   hyper client in the same run; `get_token_1ms_service/*` the same
//!   against an IMDS that answers 1 ms late;
//! * `get_secret`: a secret read with the token and challenge cached;
//! * `throughput`: N tenants making uncached calls at once, with the
//!   default (pooled), a 64-slot pool and on-demand instances;
//! * `process`: the whole `azmi token` process, compiled component cached;
//! * memory per idle tenant, printed before the timings (an RSS delta, not
//!   a criterion measurement).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use azmi::{Credential, Identity, Pooling, Runtime};
use azmi_emulator::{Emulator, EmulatorConfig, Fault, Service};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

struct Fixture {
    rt: tokio::runtime::Runtime,
    emulator: Emulator,
    /// The default configuration.
    runtime: Runtime,
    /// Memory mapped per call (`RuntimeBuilder::on_demand`).
    on_demand: Runtime,
    cache_dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        // AZMI_BENCH_CURRENT_THREAD=1: everything on one thread (no
        // cross-thread wake-ups), as a host running a runtime per core would.
        let rt = if std::env::var_os("AZMI_BENCH_CURRENT_THREAD").is_some() {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        }
        .expect("a tokio runtime");
        let emulator = rt
            .block_on(Emulator::start(EmulatorConfig::demo()))
            .expect("the emulator starts");
        let cache_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-component-cache");
        let runtime = Runtime::builder()
            .cache_dir(&cache_dir)
            .build()
            .expect("the component loads");
        let on_demand = Runtime::builder()
            .cache_dir(&cache_dir)
            .on_demand()
            .build()
            .expect("the component loads");
        Fixture {
            rt,
            emulator,
            runtime,
            on_demand,
            cache_dir,
        }
    }

    fn tenant(&self, runtime: &Runtime) -> Credential {
        let config = self
            .emulator
            .config_builder()
            .expect("the emulator's CA parses")
            .build()
            .expect("a valid configuration");
        Credential::new(runtime.clone(), config)
    }
}

/// A resource no call has asked for yet: every uncached call reaches IMDS.
fn fresh_resource() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("https://r{}.example", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn engine_start(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("engine_start");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter(|| Runtime::builder().build().expect("compiles"));
    });
    group.bench_function("precompiled", |b| {
        b.iter(|| {
            Runtime::builder()
                .cache_dir(&f.cache_dir)
                .build()
                .expect("loads")
        });
    });
    group.finish();
}

fn pooled_runtime(f: &Fixture) -> Runtime {
    Runtime::builder()
        .cache_dir(&f.cache_dir)
        .pooling(Pooling::default().instances(64))
        .build()
        .expect("the component loads")
}

fn instantiate(c: &mut Criterion, f: &Fixture) {
    let pooled = pooled_runtime(f);
    let mut group = c.benchmark_group("instantiate");
    for (name, runtime) in [("on_demand", &f.on_demand), ("pooled", &pooled)] {
        let tenant = f.tenant(runtime);
        group.bench_function(name, |b| {
            b.to_async(&f.rt)
                .iter(|| async { tenant.check().await.expect("instantiates") });
        });
    }
    group.finish();
}

fn get_token(c: &mut Criterion, f: &Fixture) {
    let tenant = f.tenant(&f.runtime);
    f.rt.block_on(tenant.get_token("https://vault.azure.net", &Identity::SystemAssigned))
        .expect("a token");
    c.bench_function("get_token/cached", |b| {
        b.to_async(&f.rt).iter(|| async {
            tenant
                .get_token("https://vault.azure.net", &Identity::SystemAssigned)
                .await
                .expect("a token")
        });
    });
    uncached_vs_native(c, f, &f.emulator, "get_token");
    // The same with every IMDS answer 1 ms late: a service that does some
    // work, as the real one does, rather than an in-process emulator.
    let slow =
        f.rt.block_on(Emulator::start(EmulatorConfig::demo()))
            .expect("the emulator starts");
    slow.inject(
        Service::Imds,
        std::iter::repeat_n(Fault::Delay(Duration::from_millis(1)), 100_000),
    );
    uncached_vs_native(c, f, &slow, "get_token_1ms_service");
}

/// Uncached token calls through the sandbox (on-demand and pooled
/// instances) and the same request from a plain hyper client, against
/// `emulator`.
fn uncached_vs_native(c: &mut Criterion, f: &Fixture, emulator: &Emulator, name: &str) {
    let mut group = c.benchmark_group(name);
    let tenant_of = |runtime: &Runtime| {
        let config = emulator
            .config_builder()
            .expect("the emulator's CA parses")
            .build()
            .expect("a valid configuration");
        Credential::new(runtime.clone(), config)
    };
    let default = tenant_of(&f.runtime);
    let pooled = tenant_of(&pooled_runtime(f));
    // Memory mapped and unmapped for every call.
    let on_demand = tenant_of(&f.on_demand);
    for (label, tenant) in [
        ("uncached", &default),
        ("uncached_pooled", &pooled),
        ("uncached_on_demand", &on_demand),
    ] {
        group.bench_function(label, |b| {
            b.to_async(&f.rt).iter(|| async {
                tenant
                    .get_token(&fresh_resource(), &Identity::SystemAssigned)
                    .await
                    .expect("a token")
            });
        });
    }
    // The same request, with no sandbox: a hyper client on a kept-alive
    // connection, as the sandbox's sender keeps one.
    let imds = emulator.imds_endpoint();
    let authority = imds.trim_start_matches("http://").to_owned();
    let sender = f.rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connects to the emulator");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("an HTTP/1.1 connection");
        tokio::spawn(connection);
        tokio::sync::Mutex::new(sender)
    });
    group.bench_function("native_hyper", |b| {
        b.to_async(&f.rt).iter(|| async {
            let request = hyper::Request::get(format!(
                "{imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
                fresh_resource()
            ))
            .header("Metadata", "true")
            .header("Host", &authority)
            .body(Empty::<Bytes>::new())
            .expect("a request");
            let mut sender = sender.lock().await;
            sender.ready().await.expect("the connection is ready");
            let response = sender.send_request(request).await.expect("a response");
            assert!(response.status().is_success());
            let body = response.into_body().collect().await.expect("a body");
            let json: serde_json::Value = serde_json::from_slice(&body.to_bytes()).expect("JSON");
            assert!(json["access_token"].is_string());
        });
    });
    group.finish();
}

fn get_secret(c: &mut Criterion, f: &Fixture) {
    let tenant = f.tenant(&f.runtime);
    let vault = f.emulator.vault_url();
    f.rt.block_on(tenant.get_secret(&vault, "mysecret", None, &Identity::SystemAssigned))
        .expect("the secret");
    c.bench_function("get_secret/token_cached", |b| {
        b.to_async(&f.rt).iter(|| async {
            tenant
                .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
                .await
                .expect("the secret")
        });
    });
}

fn throughput(c: &mut Criterion, f: &Fixture) {
    const CALLS_PER_TENANT: usize = 10;
    let mut group = c.benchmark_group("throughput");
    group.sample_size(10);
    let pooled = pooled_runtime(f);
    for (label, runtime, tenants) in [
        ("tenants", &f.runtime, 1),
        ("tenants", &f.runtime, 10),
        ("tenants", &f.runtime, 100),
        ("pooled_tenants", &pooled, 10),
        ("pooled_tenants", &pooled, 100),
        ("on_demand_tenants", &f.on_demand, 10),
        ("on_demand_tenants", &f.on_demand, 100),
    ] {
        let credentials: Vec<Credential> = (0..tenants).map(|_| f.tenant(runtime)).collect();
        group.throughput(Throughput::Elements((tenants * CALLS_PER_TENANT) as u64));
        group.bench_with_input(
            BenchmarkId::new(label, tenants),
            &credentials,
            |b, tenants| {
                b.to_async(&f.rt).iter(|| async {
                    let mut calls = tokio::task::JoinSet::new();
                    for tenant in tenants {
                        for _ in 0..CALLS_PER_TENANT {
                            let tenant = tenant.clone();
                            calls.spawn(async move {
                                tenant
                                    .get_token(&fresh_resource(), &Identity::SystemAssigned)
                                    .await
                                    .map(drop)
                            });
                        }
                    }
                    while let Some(call) = calls.join_next().await {
                        call.expect("the task ran").expect("a token");
                    }
                });
            },
        );
    }
    group.finish();
}

fn process(c: &mut Criterion, f: &Fixture) {
    let imds = f.emulator.imds_endpoint();
    // Waited for on the fixture's runtime, which serves the emulator too
    // (on one thread, a blocking wait would leave the emulator stopped).
    let run = || async {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_azmi"))
            .args([
                "token",
                "--resource",
                "https://vault.azure.net",
                "--imds-endpoint",
                &imds,
            ])
            .env_clear()
            .env("AZMI_CACHE_DIR", &f.cache_dir)
            .output()
            .await
            .expect("azmi runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    f.rt.block_on(run()); // fills the compiled-component cache for this binary
    let mut group = c.benchmark_group("process");
    group.sample_size(20);
    group.bench_function("azmi_token", |b| b.to_async(&f.rt).iter(run));
    group.finish();
}

/// Resident memory of an idle tenant: the RSS grown by creating `N`
/// tenants and letting each fetch one token for a resource of its own (so
/// each holds a cache entry and a kept-alive connection), divided by `N`.
fn idle_tenant_memory(f: &Fixture) {
    const N: usize = 2000;
    let rss = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
    };
    // Warm up allocator arenas and the runtime's lazy state.
    let warm: Vec<Credential> = (0..100).map(|_| f.tenant(&f.runtime)).collect();
    f.rt.block_on(async {
        for t in &warm {
            t.get_token("https://vault.azure.net", &Identity::SystemAssigned)
                .await
                .expect("a token");
        }
    });
    let Some(before) = rss() else {
        println!("idle tenant memory: /proc/self/status not available");
        return;
    };
    let tenants: Vec<Credential> = (0..N).map(|_| f.tenant(&f.runtime)).collect();
    let created = rss().unwrap_or(before);
    // A resource of its own for each: tenants share the runtime's token
    // cache, so with one resource only the first would fetch (and open a
    // connection).
    f.rt.block_on(async {
        for t in &tenants {
            t.get_token(&fresh_resource(), &Identity::SystemAssigned)
                .await
                .expect("a token");
        }
    });
    let used = rss().unwrap_or(created);
    println!(
        "idle tenant memory ({N} tenants): {:.1} KiB each when created, {:.1} KiB after one token call (cache entry, kept-alive connection on both ends)",
        (created - before) as f64 / N as f64,
        (used - before) as f64 / N as f64,
    );
    drop((warm, tenants));
}

fn benches(c: &mut Criterion) {
    let fixture = Fixture::new();
    idle_tenant_memory(&fixture);
    engine_start(c, &fixture);
    instantiate(c, &fixture);
    get_token(c, &fixture);
    get_secret(c, &fixture);
    throughput(c, &fixture);
    process(c, &fixture);
}

criterion_group! {
    name = azmi;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(azmi);
