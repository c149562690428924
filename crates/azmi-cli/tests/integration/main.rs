//! azmi's integration suite: the real component, through the host library
//! and the `azmi` binary, against the built-in emulator and small raw
//! servers. Everything listens and connects on loopback only; the tests
//! that need other addresses run in a network namespace of their own
//! (`netns`).
//!
//! One test binary, so the component is compiled once (`support::runtime`).

mod arc;
mod cli;
mod component;
mod faults;
mod grant;
mod hostile;
mod leaks;
mod library;
mod load;
mod mediation;
mod netns;
mod sandbox;
mod serve;
mod shapes;
mod sources;
mod support;
mod tenants;
mod workload_identity;
