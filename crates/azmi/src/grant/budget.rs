//! A tenant's budget of identity-endpoint requests: a token bucket, so a
//! tenant may burst and then spend at a steady rate, and one tenant cannot
//! use up the machine's quota (IMDS throttles at a few requests a second
//! per VM). Only requests that reach the identity endpoint cost; tokens
//! served from the cache, or from another tenant's request in flight, are
//! free.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::Duration;

use tokio::time::Instant;

/// How many identity-endpoint requests a tenant may make: `burst` at once,
/// then one every `refill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    burst: u32,
    refill: Duration,
}

impl Budget {
    /// `burst` requests at once (at least 1), then one more every `refill`
    /// (`Duration::ZERO`: no limit).
    pub fn new(burst: u32, refill: Duration) -> Budget {
        Budget {
            burst: burst.max(1),
            refill,
        }
    }

    /// No limit: for a host's own credential, not for tenants.
    pub fn unlimited() -> Budget {
        Budget::new(u32::MAX, Duration::ZERO)
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Time to earn one more request.
    pub fn refill(&self) -> Duration {
        self.refill
    }
}

impl Default for Budget {
    /// 10 requests at once, then one every 2 s: a tenant's cold start
    /// (a few identities and audiences) passes, and a thousand tenants
    /// cannot turn into a thousand requests a second.
    fn default() -> Budget {
        Budget::new(10, Duration::from_secs(2))
    }
}

/// One tenant's bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    budget: Budget,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Requests available now, in units of `refill` (may be fractional).
    available: f64,
    since: Instant,
}

impl Bucket {
    pub(crate) fn new(budget: Budget) -> Bucket {
        Bucket {
            budget,
            state: Mutex::new(State {
                available: f64::from(budget.burst),
                since: Instant::now(),
            }),
        }
    }

    /// Takes one request from the bucket, or says how long until one is
    /// available.
    pub(crate) fn take(&self) -> Result<(), Duration> {
        if self.budget.refill.is_zero() {
            return Ok(());
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let earned =
            now.duration_since(state.since).as_secs_f64() / self.budget.refill.as_secs_f64();
        state.available = (state.available + earned).min(f64::from(self.budget.burst));
        state.since = now;
        if state.available >= 1.0 {
            state.available -= 1.0;
            Ok(())
        } else {
            // Never `mul_f64`, which panics past `Duration::MAX` (a refill
            // of "never" is a fair way to say "this many, ever").
            let wait = self.budget.refill.as_secs_f64() * (1.0 - state.available);
            Err(Duration::try_from_secs_f64(wait).unwrap_or(self.budget.refill))
        }
    }
}
