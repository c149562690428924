//! The pure rules azmi's guest and host share, so that both always agree:
//! which managed-identity source serves a machine (`sources`), how a scope
//! becomes a resource (`scope`), and when a cached token is still good
//! (`freshness`). No I/O, no dependencies; everything here is unit-tested
//! natively and fuzzed.

#![deny(missing_docs)]

pub mod freshness;
pub mod scope;
mod sources;

pub use sources::*;
