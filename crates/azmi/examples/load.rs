//! Load and soak against the built-in emulator: many tenants in one
//! process, concurrent token calls, a share of faulty answers, and the
//! process's resident memory before and after.
//!
//! ```text
//! cargo run --release -p azmi --example load -- --tenants 1000 --calls 20 --faults 10 --soak 100000
//! cargo run --release -p azmi --example load -- --cold-start 1000
//! ```
//!
//! `--cold-start N` measures instead what N tenants with one identity cost
//! the identity endpoint when they all start at once: with the runtime's
//! shared token cache, and, side by side, with caches that cannot share.
//!
//! Exits non-zero if any call panicked or failed in a way no injected
//! fault explains. Loopback only: the emulator listens on 127.0.0.1.

use std::process::ExitCode;

use azmi::{Pooling, Runtime};
use azmi_emulator::{Emulator, EmulatorConfig};
use azmi_testkit::load::{Load, Outcome, cold_start, round};

const USAGE: &str = "usage: load [--tenants N] [--calls N] [--faults PERCENT] [--soak CALLS] [--pool SLOTS] [--keep-resident BYTES] | load --cold-start TENANTS [--pool SLOTS]";

struct Args {
    load: Load,
    soak: usize,
    pool: u32,
    keep_resident: usize,
    cold_start: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        load: Load {
            tenants: 1000,
            calls_per_tenant: 20,
            fault_percent: 10,
        },
        soak: 100_000,
        pool: 256,
        keep_resident: Pooling::default().keep_resident_bytes,
        cold_start: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag} {value}: not a number\n{USAGE}"))
        };
        match flag.as_str() {
            "--tenants" => args.load.tenants = number()?,
            "--calls" => args.load.calls_per_tenant = number()?,
            "--faults" => {
                args.load.fault_percent = u32::try_from(number()?)
                    .ok()
                    .filter(|p| *p <= 100)
                    .ok_or_else(|| format!("--faults {value}: a percentage, 0 to 100"))?;
            }
            "--soak" => args.soak = number()?,
            "--pool" => {
                args.pool = u32::try_from(number()?)
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("--pool {value}: at least 1"))?;
            }
            "--keep-resident" => args.keep_resident = number()?,
            "--cold-start" => args.cold_start = Some(number()?),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.load.calls() == 0 {
        return Err(format!("--tenants and --calls must be at least 1\n{USAGE}"));
    }
    Ok(args)
}

fn report(label: &str, outcome: &Outcome) {
    let per_second = outcome.calls() as f64 / outcome.elapsed.as_secs_f64();
    println!(
        "{label}: {} calls in {:.2?} ({per_second:.0}/s), {} requests on {} connections; ok {}, expected errors {:?}, unexpected {}; RSS {} KiB",
        outcome.calls(),
        outcome.elapsed,
        outcome.requests,
        outcome.connections,
        outcome.succeeded,
        outcome.expected_errors,
        outcome.unexpected.len(),
        rss_kib().map_or("?".into(), |k| k.to_string()),
    );
    for error in outcome.unexpected.iter().take(5) {
        println!("  unexpected: {error}");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(EmulatorConfig::demo()).await {
        Ok(emulator) => emulator,
        Err(e) => {
            eprintln!("the emulator did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match Runtime::builder()
        .pooling(
            Pooling::default()
                .instances(args.pool)
                .keep_resident_bytes(args.keep_resident),
        )
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(tenants) = args.cold_start {
        for (share, label) in [(true, "one shared cache"), (false, "a cache per tenant")] {
            let cost = cold_start(&runtime, &emulator, tenants, share, 1).await;
            println!(
                "cold start, {tenants} tenants, one identity, {label}: {} served, {} identity-endpoint requests, {:.2?}",
                cost.served, cost.requests, cost.elapsed
            );
            if cost.served != tenants {
                return ExitCode::FAILURE;
            }
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "{} tenants x {} calls, {} % faults, pool of {} instances ({} KiB kept resident each); RSS at start {} KiB",
        args.load.tenants,
        args.load.calls_per_tenant,
        args.load.fault_percent,
        args.pool,
        args.keep_resident >> 10,
        rss_kib().map_or("?".into(), |k| k.to_string()),
    );
    let mut failed = false;
    let mut seed = 0x5eed_u64;
    let first = round(&runtime, &emulator, args.load, seed).await;
    report("round 1", &first);
    failed |= !first.unexpected.is_empty();
    let rss_before = rss_kib();

    let mut soaked = 0;
    let mut rounds = 1;
    while soaked < args.soak {
        rounds += 1;
        seed += 1;
        let outcome = round(&runtime, &emulator, args.load, seed).await;
        report(&format!("round {rounds}"), &outcome);
        failed |= !outcome.unexpected.is_empty();
        soaked += args.load.calls();
    }
    if let (Some(before), Some(after)) = (rss_before, rss_kib()) {
        println!(
            "soak of {soaked} calls: RSS {before} KiB after round 1, {after} KiB at the end ({:+.1} %)",
            (after as f64 - before as f64) * 100.0 / before as f64
        );
    }
    if failed {
        println!("FAILED: a call panicked, went missing or failed unexpectedly");
        ExitCode::FAILURE
    } else {
        println!("ok");
        ExitCode::SUCCESS
    }
}

/// This process's resident set size in KiB (Linux; `None` elsewhere).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}
