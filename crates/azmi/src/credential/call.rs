//! One call into the component: a pool slot, a fresh store and instance
//! under the configured limits, the call by its deadline, and the outcome
//! read with what the host itself saw (a denial, a limit, a refusal, a
//! trap) before what the component said.

use tokio::time::Instant;
use wasmtime::Store;

use super::Credential;
use crate::Error;
use crate::bindings::{self, CredentialProvider};
use crate::config::Config;
use crate::sandbox::State;

pub(super) type WitResult<T> = Result<T, bindings::exports::azmi::identity::credentials::Error>;
pub(super) type CallResult<T> = wasmtime::Result<WitResult<T>>;

/// How often an instantiation that lost a race for a pool slot is retried
/// (see `Credential::call`).
const POOL_RACE_RETRIES: u32 = 8;

/// Whether instantiation failed because the pooling allocator found no free
/// slot of some kind (memories, tables, instances, fiber stacks).
fn is_pool_race(error: &wasmtime::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
}

impl Credential {
    /// The error of a call that ran out of time.
    pub(super) fn timed_out(&self) -> Error {
        Error::Timeout(format!(
            "the call did not finish within {:?}; the component was stopped (raise the timeout, or check that the endpoints answer)",
            self.config.limits.timeout
        ))
    }

    /// Runs `invoke` on a fresh instance in a fresh store, under the
    /// configured limits, by `deadline`.
    pub(super) async fn call<T>(
        &self,
        deadline: Instant,
        invoke: impl AsyncFnOnce(&CredentialProvider, &mut Store<State>) -> CallResult<T>,
    ) -> Result<T, Error> {
        // Waiting for a pool slot counts against the call's deadline; the
        // slot is held until the store (and its memory) is gone.
        let Ok(slot) = tokio::time::timeout_at(deadline, self.runtime.slot()).await else {
            return Err(Error::Timeout(format!(
                "no instance slot was free within {:?}: every slot of the runtime's pool was busy (raise Pooling::instances, or the timeout)",
                self.config.limits.timeout
            )));
        };
        let pre = self.runtime.pre().clone();
        let mut races = 0;
        let (mut store, instantiated) = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let mut store = self.runtime.store(&self.config, remaining)?;
            let instantiated =
                tokio::time::timeout_at(deadline, pre.instantiate_async(&mut store)).await;
            match instantiated {
                // Our slot guarantees the pool has room, but wasmtime's
                // sharded slot allocator probes its shards one lock at a
                // time, and while other threads free and take slots it can
                // find every shard full in passing and give up (seen once
                // in ~100,000 calls with every slot busy). Nothing of the
                // component ran yet: try again in a fresh store.
                Ok(Err(e)) if races < POOL_RACE_RETRIES && is_pool_race(&e) => {
                    races += 1;
                    tracing::debug!("instantiation lost a race for a pool slot ({e}); retrying");
                    drop(store);
                    tokio::task::yield_now().await;
                }
                other => break (store, other),
            }
        };
        let result = match instantiated {
            Ok(Ok(instance)) => {
                tokio::time::timeout_at(deadline, invoke(&instance, &mut store)).await
            }
            Ok(Err(trap)) => Ok(Err(trap)),
            Err(elapsed) => Err(elapsed),
        };
        let outcome = self.finish(result, &store);
        drop(store);
        drop(slot);
        outcome
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
            Err(_) => Err(self.timed_out()),
            Ok(Err(trap)) => {
                let stderr = state.stderr.contents();
                if !stderr.is_empty() {
                    tracing::debug!("component stderr: {}", String::from_utf8_lossy(&stderr));
                }
                Err(classify_trap(&trap, state, &self.config))
            }
            Ok(Ok(Err(error))) => Err(
                match (
                    Error::from(error),
                    state.log.first_denial(),
                    state.log.first_limit(),
                    state.log.first_refusal(),
                ) {
                    // The host knows exactly which destination it refused and
                    // why; what the component made of the refusal (ours
                    // reports `denied`, another may say `other` or
                    // `unavailable`) is replaced by it. An answer from a
                    // service (a 401 after the component moved on) stands.
                    (
                        Error::Denied(_) | Error::Other(_) | Error::Unavailable(_),
                        Some(reason),
                        _,
                        _,
                    ) => Error::Denied(reason),
                    // Likewise a request the tenant's limit refused.
                    (Error::Other(_) | Error::Unavailable(_), None, Some(limit), _) => {
                        Error::ResourceLimit(limit)
                    }
                    // And a response the host refused for its size or
                    // shape: final, whatever another component made of it.
                    (
                        Error::InvalidResponse(_)
                        | Error::Other(_)
                        | Error::Unavailable(_)
                        | Error::Timeout(_),
                        None,
                        None,
                        Some(refusal),
                    ) => Error::InvalidResponse(refusal),
                    (other, _, _, _) => other,
                },
            ),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

fn classify_trap(trap: &wasmtime::Error, state: &State, config: &Config) -> Error {
    if state.limiter.memory_exceeded {
        return Error::ResourceLimit(format!(
            "the component exceeded its memory limit of {} bytes (its linear memories and tables together) and was stopped",
            config.limits.memory_bytes
        ));
    }
    if state.cpu.exceeded {
        return Error::ResourceLimit(format!(
            "the component ran for more than {:?} of CPU time and was stopped",
            config.limits.cpu
        ));
    }
    if let Some(limit) = host_limit(trap) {
        return Error::ResourceLimit(limit);
    }
    Error::Trap(crate::error::one_line(format!("{trap:#}")))
}

/// Which of the host's own limits a trap came from, if any. wasmtime
/// reports two of them only as text (its types are private): those strings
/// are pinned with wasmtime itself, and the hostile-guest tests would see a
/// change as `Trap` instead of `ResourceLimit`.
fn host_limit(trap: &wasmtime::Error) -> Option<String> {
    use crate::sandbox::{
        CORE_INSTANCES_PER_CALL, MAX_HOST_BYTES_PER_CALL, MAX_RESOURCES, MAX_VALUE_BYTES,
        MEMORIES_PER_CALL, TABLES_PER_CALL,
    };
    let table_full = trap.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<wasmtime::component::ResourceTableError>(),
            Some(wasmtime::component::ResourceTableError::Full)
        )
    });
    if table_full {
        return Some(format!(
            "the component held more than {MAX_RESOURCES} host resources at once (header sets, requests, bodies, streams; {} MiB at most) and was stopped",
            MAX_HOST_BYTES_PER_CALL >> 20
        ));
    }
    let text = format!("{trap:#}");
    if text.contains("fuel allocated for hostcalls has been exhausted") {
        return Some(format!(
            "the component passed more than {} KiB to the host in one value (a string or list in one call, or its result) and was stopped",
            MAX_VALUE_BYTES >> 10
        ));
    }
    if text.contains("resource limit exceeded:") && text.contains("count too high") {
        return Some(format!(
            "the component is made of more than the sandbox admits ({CORE_INSTANCES_PER_CALL} core instances, {MEMORIES_PER_CALL} linear memory, {TABLES_PER_CALL} tables per call): {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    None
}

#[cfg(test)]
mod tests;
