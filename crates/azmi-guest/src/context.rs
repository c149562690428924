//! What one call works with: the network, time, the retry policy, and the
//! instance's cache.

use crate::cache::Cache;
use crate::retry::{Clock, Policy};
use crate::transport::Transport;

pub(crate) struct Ctx<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) policy: Policy,
    /// Wall-clock time at the start of the call, Unix seconds.
    pub(crate) now: u64,
    /// Tokens and vault challenges this instance has seen; it lives as long
    /// as the instance (one call in azmi's host, longer in others).
    pub(crate) cache: &'a mut Cache,
}

/// wasi:clocks: monotonic time for waiting, its low bits for jitter.
pub(crate) struct WasiClock {
    start: u64,
}

impl WasiClock {
    pub(crate) fn new() -> WasiClock {
        WasiClock {
            start: wasi::clocks::monotonic_clock::now(),
        }
    }
}

impl Clock for WasiClock {
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(
            wasi::clocks::monotonic_clock::now().saturating_sub(self.start),
        )
    }

    fn sleep(&self, duration: std::time::Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        wasi::clocks::monotonic_clock::subscribe_duration(nanos).block();
    }

    fn jitter(&self) -> f64 {
        // Jitter only spreads retries out; it needs no randomness source,
        // so wasi:random stays unlinked.
        let nanos = wasi::clocks::monotonic_clock::now();
        let mixed = nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        (mixed >> 11) as f64 / (1u64 << 53) as f64
    }
}
