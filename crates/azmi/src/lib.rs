//! azmi: Azure managed-identity credentials from a sandboxed WebAssembly
//! component.
//!
//! The component (`wit/azmi.wit`, built from `crates/azmi-guest` into this crate) asks
//! the managed-identity endpoint for a token and reads Key Vault secrets
//! with it. This crate runs it in wasmtime with nothing but what a
//! [`Config`] allows: requests to the chosen identity source's endpoint and
//! the vaults on its allow-list (checked on the URL, then on the resolved
//! address), that source's variables, no sockets, no files (for Azure Arc,
//! the agent's token directory read-only), and per-call memory, CPU and
//! wall-clock limits. Tokens are cached once per [`Runtime`] for all its
//! credentials, with single-flight fetches and proactive refresh.
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), azmi::Error> {
//! use azmi::{Config, Credential, Identity, Runtime};
//!
//! // Compile the component once per process.
//! let runtime = Runtime::new()?;
//! let config = Config::builder()
//!     .allow_vault("https://myvault.vault.azure.net")
//!     .build()?;
//! let credential = Credential::new(runtime, config);
//! let secret = credential
//!     .get_secret("https://myvault.vault.azure.net", "mysecret", None, &Identity::SystemAssigned)
//!     .await?;
//! # let _ = secret;
//! # Ok(())
//! # }
//! ```
//!
//! Calls need a tokio runtime. The `azmi-emulator` crate serves IMDS, every
//! other identity endpoint and Key Vault on loopback, for tests and demos.
//!
//! # Many tenants
//!
//! Build one [`Runtime`] per process and one [`Credential`] per tenant: each
//! has its own policy (vaults, identity endpoint, Arc directory,
//! environment), default identity ([`ConfigBuilder::identity`], used by
//! [`Credential::token`] and [`Credential::secret`]), limits and, for code
//! the host does not trust, a [`Grant`] ([`ConfigBuilder::grant`]) that
//! says which identities, audiences and secrets it may have; every tenant
//! shares the runtime's token cache, and each can be called from many
//! tasks at once. Tenants that are components themselves import
//! `azmi:identity/credentials` (WIT world `credential-consumer`); link it
//! into their linker with [`add_to_linker_async`], each store handing out
//! its tenant's credential through [`CredentialsView`]
//! (`examples/plugin-host.rs`). Calls run in a pool of instances by
//! default ([`RuntimeBuilder::pooling`] sizes it,
//! [`RuntimeBuilder::on_demand`] is for one-shot processes). `examples/tenants.rs` is a
//! complete program against the emulator
//! (`cargo run -p azmi --example tenants`); `examples/load.rs` drives
//! thousands of tenants.

#![deny(missing_docs)]

mod bindings;
mod cache;
mod config;
mod consumer;
mod credential;
mod egress;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod grant;
mod limits;
mod policy;
mod precompiled;
mod runtime;
mod sandbox;
mod tls;
mod types;
mod upstream;

pub use azmi_core::Source;
pub use cache::CacheStats;
pub use config::{
    ARC_TOKEN_DIR, Config, ConfigBuilder, DEFAULT_IMDS_ENDPOINT, IDENTITY_VARIABLES,
    IMDS_ENDPOINT_VAR, arc_agent_installed,
};
pub use consumer::{CredentialsView, add_to_linker_async};
pub use credential::Credential;
pub use egress::{Resolve, ResolveFuture, StaticResolver, SystemResolver};
pub use error::{ConfigError, Error, MAX_MESSAGE_BYTES, ServiceError, Setting};
pub use grant::{Budget, Grant, GrantBuilder, GrantRule, GrantStats};
pub use limits::{CallLimits, RequestLimits, RetryPolicy};
pub use policy::{ConnectTo, DestinationKind};
pub use precompiled::default_cache_dir;
pub use runtime::{COMPONENT, Pooling, Runtime, RuntimeBuilder};
pub use types::{AccessToken, Identity, Redacted, Secret, VaultChallenge};
pub use upstream::{UpstreamLimit, UpstreamStats};
