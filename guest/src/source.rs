//! Which managed-identity source serves this machine, decided from the
//! environment alone.

use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::imds::Imds;
use crate::token::Token;
use crate::transport::Transport;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Imds(Imds),
}

/// Picks the source for `env`. Only IMDS is implemented so far; the other
/// sources' variables are ignored.
pub(crate) fn detect(env: &Env) -> Result<Source, Error> {
    Ok(Source::Imds(Imds::from_env(env)?))
}

impl Source {
    pub(crate) fn get_token(
        &self,
        transport: &dyn Transport,
        resource: &str,
        identity: &Identity,
        now: u64,
    ) -> Result<Token, Error> {
        match self {
            Source::Imds(imds) => imds.get_token(transport, resource, identity, now),
        }
    }
}
