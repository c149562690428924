//! The library's error type: what the component reported (the WIT `error`
//! cases) and what the host itself enforced (deadlines, limits, traps,
//! configuration). Messages name the value at fault and the fix, and never
//! contain a token or a secret value.

/// The longest message a component (or a service, through it) can put
/// into an `Error`: longer ones are cut, and every message is one line.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// `text` as one line (control characters become spaces) of at most
/// `MAX_MESSAGE_BYTES`, cut at a character boundary and marked with `…`.
pub(crate) fn one_line(text: String) -> String {
    let limit = MAX_MESSAGE_BYTES - '…'.len_utf8();
    let mut line = String::with_capacity(text.len().min(MAX_MESSAGE_BYTES));
    for c in text.chars() {
        if line.len() + c.len_utf8() > limit {
            line.push('…');
            return line;
        }
        line.push(if c.is_control() { ' ' } else { c });
    }
    line
}

pub use azmi_core::ServiceError;

/// Which setting a configuration error is about, so that a caller (the
/// CLI names its flag) can point at it without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// An identity variable (`IDENTITY_ENDPOINT`, `MSI_ENDPOINT`,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`, …; `ConfigBuilder::imds_endpoint`
    /// sets the last one).
    Variable(&'static str),
    /// The identity source, chosen or detected.
    Source,
    /// A vault to allow (`ConfigBuilder::allow_vault`).
    Vault,
    /// A connect-to pin (`ConfigBuilder::connect_to`).
    ConnectTo,
    /// The Arc token directory (`ConfigBuilder::arc_token_dir`).
    ArcTokenDir,
    /// Extra trust roots (`ConfigBuilder::add_root_certificates_pem`).
    TrustRoots,
    /// A limit of `CallLimits`, `RequestLimits`, `RetryPolicy` or `Pooling`.
    Limits,
    /// The component to run (`RuntimeBuilder::component_file`, …).
    Component,
    /// The wasm engine and the sandbox around it.
    Engine,
    /// A tenant's grant (`GrantBuilder`, `ConfigBuilder::grant`).
    Grant,
}

/// A configuration that cannot work, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// What the error is about.
    pub setting: Setting,
    /// The value at fault, when there is one (never a credential).
    pub value: Option<String>,
    /// What is wrong and what to do, one line; names the value.
    pub message: String,
}

impl ConfigError {
    /// An error about `setting`, whose value was `value`.
    pub(crate) fn new(setting: Setting, value: Option<&str>, message: String) -> ConfigError {
        ConfigError {
            setting,
            value: value.map(|v| one_line(v.chars().take(200).collect())),
            message: one_line(message),
        }
    }
}

impl Error {
    /// `Error::Config` about `setting`.
    pub(crate) fn config(setting: Setting, value: Option<&str>, message: String) -> Error {
        Error::Config(ConfigError::new(setting, value, message))
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No managed-identity endpoint answered, or it has no identity for
    /// this resource.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The sandbox refused a request of the component (egress policy or
    /// address check), or the tenant's grant refused the call. The message
    /// says which destination or which grant rule, and why.
    #[error("denied: {0}")]
    Denied(String),
    /// A service answered 401.
    #[error("unauthorized: {0}")]
    Unauthorized(ServiceError),
    /// A service answered 403.
    #[error("forbidden: {0}")]
    Forbidden(ServiceError),
    /// A secret or a user-assigned identity was not found.
    #[error("not found: {0}")]
    NotFound(ServiceError),
    /// A service answered another error status (400, 429, 5xx).
    #[error("service error: {0}")]
    Service(ServiceError),
    /// An argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A service answered something its protocol does not allow.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// A request or the whole call ran out of time.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The component exceeded its memory or CPU limit; it was stopped.
    #[error("resource limit: {0}")]
    ResourceLimit(String),
    /// The component trapped (crashed); it was stopped.
    #[error("component failed: {0}")]
    Trap(String),
    /// The configuration or the component file is not usable.
    #[error("configuration: {0}")]
    Config(ConfigError),
    /// Anything else, such as a TLS failure.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// Whether the same call may succeed later without any change: the
    /// service was throttled or failing (408, 429, 5xx, after the retries
    /// the policy allowed), or a deadline passed. `unavailable`,
    /// `unauthorized`, `forbidden`, `not-found` and `invalid-*` need a fix,
    /// not a retry.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout(_) => true,
            Error::Service(e) => matches!(e.status, 408 | 429 | 500..=599),
            _ => false,
        }
    }

    /// The rule of a tenant's grant that refused the call, when a grant
    /// did (`Denied` by the sandbox's egress policy names none).
    pub fn denied_by(&self) -> Option<crate::GrantRule> {
        match self {
            Error::Denied(message) => crate::grant::rule_named_in(message),
            _ => None,
        }
    }

    /// A short, stable name for the kind of error (`unavailable`,
    /// `not-found`, …), as in the WIT `error` variant.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Unavailable(_) => "unavailable",
            Error::Denied(_) => "denied",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not-found",
            Error::Service(_) => "service",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::InvalidResponse(_) => "invalid-response",
            Error::Timeout(_) => "timeout",
            Error::ResourceLimit(_) => "resource-limit",
            Error::Trap(_) => "trap",
            Error::Config(_) => "configuration",
            Error::Other(_) => "other",
        }
    }
}
