//! Retries within a deadline, as the Azure SDKs retry managed identity and
//! Key Vault: exponential backoff with jitter, `Retry-After`
//! honoured up to a cap, a 70-second floor after IMDS's 410 ("updating,
//! back within 70 s"), and never a wait that would pass the caller's
//! deadline. What is retryable depends on the peer (`Peer`).

use std::time::Duration;

use crate::error::Error;
use crate::transport::Response;

/// The kind of service a request goes to: it decides which statuses are
/// retried, and what "nothing answered" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// IMDS and the Arc agent: 404 (updating), 410, 429 and 5xx.
    Imds,
    /// App Service, App Service 2017, Cloud Shell: 408, 429, 500, 502, 503, 504.
    Platform,
    /// Service Fabric: as `Platform` (its guidance: never retry 404).
    ServiceFabric,
    /// Key Vault: 408, 429 and 5xx.
    Vault,
    /// Microsoft Entra (workload identity): 408, 429 and 5xx, as MSAL.
    Entra,
}

impl Peer {
    fn retries_status(self, status: u16) -> bool {
        match self {
            Peer::Imds => matches!(status, 404 | 410 | 429 | 500..=599),
            Peer::Platform | Peer::ServiceFabric => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            Peer::Vault | Peer::Entra => matches!(status, 408 | 429 | 500..=599),
        }
    }

    /// A managed-identity endpoint: if nothing answers, managed identity
    /// is unavailable here. (A vault that does not answer is unreachable;
    /// the identity worked.)
    pub(crate) fn is_identity_endpoint(self) -> bool {
        self != Peer::Vault
    }
}

/// The retry settings (`azmi_core::retry`); the host passes its own in
/// `AZMI_RETRY`.
pub(crate) type Policy = azmi_core::retry::RetrySettings;

/// Time, for waiting between attempts. The real one is wasi:clocks; tests
/// use a fake that only records.
pub(crate) trait Clock {
    /// Time since the call started.
    fn elapsed(&self) -> Duration;
    fn sleep(&self, duration: Duration);
    /// A number in [0, 1) for jitter; it needs no quality.
    fn jitter(&self) -> f64;
}

/// Why an attempt failed, and whether another may help.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) retry: Retry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    No,
    /// Try again; `after` is the server's `Retry-After`, `gone` marks a 410.
    Yes {
        after: Option<Duration>,
        gone: bool,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            retry: Retry::No,
        }
    }
}

/// Whether `response`'s status is retryable for `kind`, with its
/// `Retry-After` (seconds, or `retry-after-ms` / `x-ms-retry-after-ms`).
pub(crate) fn retry_for(peer: Peer, response: &Response) -> Retry {
    if !peer.retries_status(response.status) {
        return Retry::No;
    }
    let ms = |name: &str| {
        response
            .header(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let after = ms("retry-after-ms")
        .or_else(|| ms("x-ms-retry-after-ms"))
        .or_else(|| {
            response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        });
    Retry::Yes {
        after,
        gone: peer == Peer::Imds && response.status == 410,
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy or the
/// deadline says stop. The last error is returned, with how many attempts
/// were made when there was more than one.
pub(crate) fn run<T>(
    clock: &dyn Clock,
    policy: &Policy,
    mut attempt: impl FnMut(Duration) -> Result<T, Failure>,
) -> Result<T, Error> {
    let mut retries = 0u32;
    let mut gone = false;
    loop {
        let remaining = policy.deadline.saturating_sub(clock.elapsed());
        let failure = match attempt(remaining) {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let Retry::Yes {
            after,
            gone: this_gone,
        } = failure.retry
        else {
            return Err(failure.error);
        };
        gone |= this_gone;
        let elapsed = clock.elapsed();
        // Unscaled time: the 70 s floor is about the service, not the test.
        let virtual_elapsed = scaled(elapsed, 1.0 / policy.scale);
        let within_floor = gone && virtual_elapsed < policy.gone_min_total;
        if retries >= policy.max_retries && !within_floor {
            return Err(gave_up(failure.error, retries + 1, "retries exhausted"));
        }
        let backoff = policy
            .base_delay
            .saturating_mul(2u32.saturating_pow(retries.min(16)));
        let mut wait = scaled(backoff, 0.8 + 0.4 * clock.jitter()).min(policy.max_delay);
        if within_floor {
            // Land the last tries on the 70 s mark rather than overshoot it.
            let floor_left = policy.gone_min_total.saturating_sub(virtual_elapsed);
            wait = wait.min(floor_left.max(policy.base_delay));
        }
        let wait = scaled(
            after.map_or(wait, |a| a.min(policy.retry_after_cap)),
            policy.scale,
        );
        if elapsed.saturating_add(wait) >= policy.deadline {
            return Err(gave_up(
                failure.error,
                retries + 1,
                "the next retry would pass the deadline",
            ));
        }
        clock.sleep(wait);
        retries += 1;
    }
}

/// `duration × factor`, saturating instead of panicking: the host may set
/// any durations (`Duration::MAX` for "no limit") and any scale in (0, 1].
fn scaled(duration: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(duration.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Notes on the final error how many attempts it took; only messages
/// change, never the case, so callers still act on the kind.
fn gave_up(error: Error, attempts: u32, why: &str) -> Error {
    if attempts <= 1 {
        return error;
    }
    let note = format!(" (after {attempts} attempts; {why})");
    match error {
        Error::Unavailable(m) => Error::Unavailable(m + &note),
        Error::Timeout(m) => Error::Timeout(m + &note),
        Error::Other(m) => Error::Other(m + &note),
        Error::InvalidResponse(m) => Error::InvalidResponse(m + &note),
        Error::Service(mut e) => {
            e.message.push_str(&note);
            Error::Service(e)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests;
