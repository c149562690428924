//! The components azmi's sandbox tests run, for tests only:
//!
//! * `HOSTILE_COMPONENT`: implements azmi's world and tries what a
//!   malicious credential component would (`crates/azmi-hostile-guest`,
//!   whose documentation lists its commands);
//! * `SOCKETS_COMPONENT`: imports `wasi:sockets`, which the sandbox does
//!   not provide, so it must fail to load;
//! * `TENANT_COMPONENT`: a tenant's component, a `wasi:cli` command that
//!   imports `azmi:identity/credentials` (`crates/azmi-tenant-guest`), for
//!   hosts that link azmi into their tenants;
//! * `shapes`: components of shapes Rust does not produce, from
//!   WebAssembly text.
//!
//! To add a test guest: a crate `crates/azmi-<name>-guest` (a `cdylib`
//! built from the workspace's WIT), its name in `build.rs`'s `GUESTS`, a
//! constant here, and the tests that use it.

pub mod shapes;

/// The hostile component's `.wasm`.
pub const HOSTILE_COMPONENT: &str = concat!(env!("OUT_DIR"), "/azmi_hostile_guest.wasm");

/// The tenant's component (imports `azmi:identity/credentials`).
pub const TENANT_COMPONENT: &str = concat!(env!("OUT_DIR"), "/azmi_tenant_guest.wasm");

/// The component that imports `wasi:sockets`.
pub const SOCKETS_COMPONENT: &str = concat!(env!("OUT_DIR"), "/azmi_sockets_guest.wasm");
