//! Resource limits of a call and of each request it makes.

use std::time::Duration;

use azmi_core::retry::RetrySettings;

/// Consuming setters, one per field, so that a limit struct can gain
/// fields without breaking its users (`#[non_exhaustive]` forbids struct
/// literals outside this crate): `CallLimits::default().timeout(d)`.
macro_rules! setters {
    ($ty:ident { $($field:ident: $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("With `", stringify!($field), "` set to `", stringify!($field), "`.")]
                #[must_use]
                pub fn $field(mut self, $field: $t) -> $ty {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

/// Limits on the outgoing requests of a call. Guest-chosen timeouts are
/// clamped to these; a guest that asks for none gets these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestLimits {
    /// Longest wait for name resolution, TCP connect and TLS handshake.
    pub max_connect_timeout: Duration,
    /// Longest wait from sending a request to the response head.
    pub max_first_byte_timeout: Duration,
    /// Longest silence while reading a response body.
    pub max_between_bytes_timeout: Duration,
    /// Largest identity-endpoint response body; token responses are a few KiB.
    pub max_identity_response_bytes: u64,
    /// Largest Key Vault response body; a secret is at most 25 KiB.
    pub max_vault_response_bytes: u64,
    /// Requests in flight at once for one configuration (one tenant); a
    /// request beyond it is refused at once (`resource-limit`). 0: no limit.
    pub max_concurrent_requests: usize,
    /// How long a connection to an identity endpoint or a vault is kept
    /// alive for reuse (per tenant and destination, 8 at most) after its
    /// last response; it is closed within half as long again. Zero: no
    /// reuse, a connection per request.
    pub idle_connection_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            max_connect_timeout: Duration::from_secs(5),
            max_first_byte_timeout: Duration::from_secs(30),
            max_between_bytes_timeout: Duration::from_secs(30),
            max_identity_response_bytes: 64 * 1024,
            max_vault_response_bytes: 1024 * 1024,
            max_concurrent_requests: 64,
            idle_connection_timeout: Duration::from_secs(30),
        }
    }
}

setters!(RequestLimits {
    max_connect_timeout: Duration,
    max_first_byte_timeout: Duration,
    max_between_bytes_timeout: Duration,
    max_identity_response_bytes: u64,
    max_vault_response_bytes: u64,
    max_concurrent_requests: usize,
    idle_connection_timeout: Duration,
});

/// Limits of one call into the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallLimits {
    /// Wall-clock deadline of the whole call, I/O included.
    pub timeout: Duration,
    /// CPU time the component may spend running wasm (checked every
    /// `EPOCH_TICK`); time blocked on I/O does not count.
    pub cpu: Duration,
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> CallLimits {
        CallLimits {
            // Long enough for IMDS's 410 ("back within 70 s") to pass.
            timeout: azmi_core::retry::DEFAULT_DEADLINE,
            cpu: Duration::from_secs(1),
            memory_bytes: 32 << 20,
        }
    }
}

setters!(CallLimits {
    timeout: Duration,
    cpu: Duration,
    memory_bytes: usize,
});

/// How the component retries a request that failed in a way a retry may
/// cure (the defaults are the component's, `azmi_core::retry`): IMDS and
/// the Arc agent on
/// 404, 410, 429 and 5xx, the other identity endpoints on 408, 429, 500,
/// 502, 503 and 504, Key Vault on 408, 429 and 5xx, and any peer after a
/// read timeout or a connection cut mid-response. Nothing answering is not
/// retried. Waits grow exponentially with ±20 % jitter, `Retry-After` is
/// honoured up to `retry_after_cap`, and no wait passes the call's deadline.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first wait; each next one doubles.
    pub base_delay: Duration,
    /// The longest single wait.
    pub max_delay: Duration,
    /// After IMDS answers 410 ("updating"), keep trying this long in total.
    pub gone_min_total: Duration,
    /// The longest `Retry-After` honoured.
    pub retry_after_cap: Duration,
    /// Multiplies every wait, and the 410 floor: 1 in production, smaller
    /// in tests that should not sleep for a minute.
    pub time_scale: f64,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        // The component's own defaults (`azmi_core::retry`).
        let RetrySettings {
            max_retries,
            base_delay,
            max_delay,
            gone_min_total,
            retry_after_cap,
            deadline: _,
            scale,
        } = RetrySettings::default();
        RetryPolicy {
            max_retries,
            base_delay,
            max_delay,
            gone_min_total,
            retry_after_cap,
            time_scale: scale,
        }
    }
}

setters!(RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
    gone_min_total: Duration,
    retry_after_cap: Duration,
    time_scale: f64,
});

impl RetryPolicy {
    /// The `AZMI_RETRY` value that tells the component this policy; the
    /// component stops retrying a little before `timeout`, so that it
    /// reports its own last error rather than being cut off.
    pub(crate) fn encode(&self, timeout: Duration) -> String {
        let margin = (timeout / 10).min(Duration::from_secs(1));
        RetrySettings {
            max_retries: self.max_retries,
            base_delay: self.base_delay,
            max_delay: self.max_delay,
            gone_min_total: self.gone_min_total,
            retry_after_cap: self.retry_after_cap,
            deadline: timeout.saturating_sub(margin),
            scale: self.time_scale,
        }
        .encode()
    }
}

/// How often the engine's epoch advances: the granularity of the CPU limit.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The instant `after` from now, or a far future one when that does not
/// exist (a limit of `Duration::MAX` means "no limit", never a panic).
pub(crate) fn deadline_after(after: Duration) -> tokio::time::Instant {
    // What tokio itself uses for "never": about 30 years.
    const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);
    let now = tokio::time::Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}
