//! The load run shared by `cargo run --release -p azmi --example load`
//! (full size, with a soak) and the integration test `load::` (scaled for
//! CI): many
//! tenants in one process, each making concurrent token calls against the
//! emulator while a share of the identity endpoint's answers are faults.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use azmi::{Credential, Error, Identity, RetryPolicy, Runtime};
use azmi_emulator::{Emulator, Fault, Service};

/// The size of one round.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Tenants, each with its own `Credential` (policy, cache, connections).
    pub tenants: usize,
    /// Token calls per tenant, all started at once, each for a resource of
    /// its own in this round (so that each reaches the identity endpoint,
    /// though the tenants share the runtime's cache).
    pub calls_per_tenant: usize,
    /// Share of the identity endpoint's answers that are faults, in percent.
    pub fault_percent: u32,
}

impl Load {
    /// Calls in a round.
    pub fn calls(&self) -> usize {
        self.tenants * self.calls_per_tenant
    }
}

/// What a round's calls came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Calls that returned a token.
    pub succeeded: u64,
    /// Calls that failed the way an injected fault explains, by kind.
    pub expected_errors: BTreeMap<&'static str, u64>,
    /// Anything else: a panic, or an error no fault explains.
    pub unexpected: Vec<String>,
    /// Requests the identity endpoint answered (retries included).
    pub requests: u64,
    /// Connections it accepted.
    pub connections: u64,
    /// Wall time of the round.
    pub elapsed: Duration,
}

impl Outcome {
    /// Calls that came back, one way or another.
    pub fn calls(&self) -> u64 {
        self.succeeded + self.expected_errors.values().sum::<u64>() + self.unexpected.len() as u64
    }
}

/// The faults injected, in turn, into a round's identity answers.
const FAULTS: [&str; 7] = [
    "500",
    "503",
    "429:retry-after=1",
    "delay=20",
    "truncated",
    "malformed-json",
    "oversized=100000",
];

/// Runs one round: creates `load.tenants` tenants, starts every call at
/// once, waits for all, and drops the tenants (their caches and pooled
/// connections with them).
pub async fn round(runtime: &Runtime, emulator: &Emulator, load: Load, seed: u64) -> Outcome {
    emulator.inject(Service::Imds, fault_plan(load, seed));
    let requests_before = emulator.imds_requests();
    let connections_before = emulator.connections(Service::Imds);
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for tenant_index in 0..load.tenants {
        let config = emulator
            .config_builder()
            .expect("the emulator's CA parses")
            .retry_policy(quick_retries())
            .build()
            .expect("the emulator's configuration is valid");
        let tenant = Credential::new(runtime.clone(), config);
        for call in 0..load.calls_per_tenant {
            let tenant = tenant.clone();
            calls.spawn(async move {
                let resource = format!("https://load-{seed}-{tenant_index}-{call}.example");
                let token = tenant
                    .get_token(&resource, &Identity::SystemAssigned)
                    .await?;
                // Each call gets its own answer, not a neighbour's.
                if token.resource == resource {
                    Ok(())
                } else {
                    Err(Error::Other(format!(
                        "asked for {resource}, got a token for {}",
                        token.resource
                    )))
                }
            });
        }
    }
    let mut outcome = Outcome::default();
    while let Some(joined) = calls.join_next().await {
        match joined {
            Ok(Ok(())) => outcome.succeeded += 1,
            Ok(Err(error)) => match explained(&error) {
                Some(kind) => *outcome.expected_errors.entry(kind).or_default() += 1,
                None => outcome.unexpected.push(error.to_string()),
            },
            Err(join) => outcome
                .unexpected
                .push(format!("the call's task failed: {join}")),
        }
    }
    outcome.elapsed = started.elapsed();
    outcome.requests = emulator.imds_requests() - requests_before;
    outcome.connections = emulator.connections(Service::Imds) - connections_before;
    outcome
}

/// Retries as in production, with the waits scaled to 1 %: the run
/// measures the host, not the backoff.
fn quick_retries() -> RetryPolicy {
    RetryPolicy::default().time_scale(0.01)
}

/// One entry per call: `fault_percent` of them faults (spread by a seeded
/// generator), the rest normal answers. Retries take further entries, so
/// the plan is used up within the round.
fn fault_plan(load: Load, seed: u64) -> Vec<Fault> {
    // splitmix64 of the seed, so neighbouring seeds give unrelated plans.
    let mut state = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    state = (state ^ (state >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    state = (state ^ (state >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    state = (state ^ (state >> 31)) | 1;
    (0..load.calls())
        .map(|_| {
            // xorshift64: deterministic, dependency-free.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % 100 < u64::from(load.fault_percent) {
                let pick = FAULTS[(state / 100) as usize % FAULTS.len()];
                pick.parse().expect("the fault specs parse")
            } else {
                Fault::Normal
            }
        })
        .collect()
}

/// The kind of an error an injected fault explains, if one does: a
/// 5xx/429 still failing after the retries, or a malformed, truncated or
/// oversized answer.
fn explained(error: &Error) -> Option<&'static str> {
    match error {
        Error::Service(e) if matches!(e.status, 429 | 500 | 503) => Some("service"),
        Error::InvalidResponse(_) => Some("invalid-response"),
        _ => None,
    }
}

/// What a cold start of many tenants with one identity cost.
#[derive(Debug)]
pub struct ColdStart {
    /// Tenants that got their token.
    pub served: usize,
    /// Requests the identity endpoint answered.
    pub requests: u64,
    /// Wall time until every tenant had its token.
    pub elapsed: Duration,
}

/// `tenants` tenants, each with its own `Credential` and a grant for one
/// identity and one audience, all asking at once. With `share`, their
/// configurations are alike, so the runtime's cache serves them all from
/// one request; without, each has a resolver of its own, so no two share
/// a token (what a cache per tenant would cost).
pub async fn cold_start(
    runtime: &Runtime,
    emulator: &Emulator,
    tenants: usize,
    share: bool,
    seed: u64,
) -> ColdStart {
    let resource = format!("https://cold-start-{seed}-{share}.example");
    let requests_before = emulator.imds_requests();
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..tenants {
        let grant = azmi::Grant::builder(format!("tenant-{i}"))
            .identity(Identity::SystemAssigned)
            .resource(resource.clone())
            .hand_out_tokens(true)
            .build()
            .expect("the grant is valid");
        let mut config = emulator
            .config_builder()
            .expect("the emulator's CA parses")
            .grant(grant);
        if !share {
            config = config.resolver(std::sync::Arc::new(azmi::SystemResolver));
        }
        let config = config
            .build()
            .expect("the emulator's configuration is valid");
        let tenant = Credential::new(runtime.clone(), config);
        let resource = resource.clone();
        calls.spawn(async move { tenant.token(&resource).await });
    }
    let mut served = 0;
    while let Some(joined) = calls.join_next().await {
        if matches!(joined, Ok(Ok(_))) {
            served += 1;
        }
    }
    ColdStart {
        served,
        requests: emulator.imds_requests() - requests_before,
        elapsed: started.elapsed(),
    }
}
