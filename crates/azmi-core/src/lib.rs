//! The pure rules azmi's guest and host share, so that both always agree:
//! which managed-identity source serves a machine (`sources`), how a scope
//! becomes a resource (`scope`), when a cached token is still good
//! (`freshness`), how an authority is read (`authority`), which addresses
//! identity endpoints and vaults may be at (`address`), Key Vault's names,
//! request paths and audiences (`vault`), and the retry settings a host
//! gives the component (`retry`). No I/O, no dependencies; everything here is unit-tested
//! natively and fuzzed.

#![deny(missing_docs)]

pub mod address;
pub mod authority;
pub mod entra;
pub mod freshness;
mod redacted;
pub mod retry;
pub mod scope;
mod sources;
pub mod vault;

pub use redacted::{Redacted, ServiceError};
pub use sources::*;
