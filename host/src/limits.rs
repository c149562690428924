//! Resource limits of a call and of each request it makes.

use std::time::Duration;

/// Limits on the outgoing requests of a call. Guest-chosen timeouts are
/// clamped to these; a guest that asks for none gets these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl Default for RequestLimits {
    fn default() -> RequestLimits {
        RequestLimits {
            max_connect_timeout: Duration::from_secs(5),
            max_first_byte_timeout: Duration::from_secs(30),
            max_between_bytes_timeout: Duration::from_secs(30),
            max_identity_response_bytes: 64 * 1024,
            max_vault_response_bytes: 1024 * 1024,
        }
    }
}

/// Limits of one call into the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            timeout: Duration::from_secs(30),
            cpu: Duration::from_secs(1),
            memory_bytes: 32 << 20,
        }
    }
}

/// How often the engine's epoch advances: the granularity of the CPU limit.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);
