//! The emulator's errors.

use std::net::SocketAddr;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A service could not listen where it was told to.
    #[error("the emulator cannot listen on {addr} for {service}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The service (`IMDS`, `Key Vault`, …).
        service: &'static str,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Something the services need could not be made.
    #[error("the emulator cannot make {what}: {why}")]
    Setup {
        /// What could not be made (`the vault's certificate`, …).
        what: &'static str,
        /// Why.
        why: String,
    },
}

impl Error {
    pub(crate) fn setup(what: &'static str, why: String) -> Error {
        Error::Setup { what, why }
    }
}

/// A `--fault` list that does not follow the grammar (`FAULTS_SHOWN`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FaultSyntaxError(pub(crate) String);
