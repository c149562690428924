//! The instance's memory of tokens and vault challenges. In azmi's host an
//! instance serves one call, so this only spares a second token request
//! within a call (and the host keeps its own cache); hosts that keep an
//! instance get cached tokens from it for as long as the instance lives.
//! Freshness follows `azmi_core::freshness`.

// BTreeMap, not HashMap: HashMap's random seed would make the component
// import wasi:random, which the sandbox does not provide.
use std::collections::BTreeMap;

use azmi_core::freshness::{Freshness, freshness};

use crate::identity::Identity;
use crate::keyvault::Challenge;
use crate::token::Token;

/// A token's key: the source's name, the identity, the resource.
pub(crate) type TokenKey = (&'static str, Identity, String);

struct Entry {
    token: Token,
    /// When a proactive refresh last failed.
    failed_refresh: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Cache {
    tokens: BTreeMap<TokenKey, Entry>,
    challenges: BTreeMap<String, Challenge>,
}

/// What the cache holds for a key.
pub(crate) enum Lookup {
    /// Serve this.
    Fresh(Token),
    /// Serve this unless a refresh succeeds.
    RefreshDue(Token),
    /// Fetch.
    Missing,
}

impl Cache {
    pub(crate) fn token(&self, key: &TokenKey, now: u64) -> Lookup {
        let Some(entry) = self.tokens.get(key) else {
            return Lookup::Missing;
        };
        match freshness(
            entry.token.expires_on,
            entry.token.refresh_at,
            now,
            entry.failed_refresh,
        ) {
            Freshness::Fresh => Lookup::Fresh(entry.token.clone()),
            Freshness::RefreshDue => Lookup::RefreshDue(entry.token.clone()),
            Freshness::Stale => Lookup::Missing,
        }
    }

    pub(crate) fn put_token(&mut self, key: TokenKey, token: Token) {
        self.tokens.insert(
            key,
            Entry {
                token,
                failed_refresh: None,
            },
        );
    }

    pub(crate) fn refresh_failed(&mut self, key: &TokenKey, now: u64) {
        if let Some(entry) = self.tokens.get_mut(key) {
            entry.failed_refresh = Some(now);
        }
    }

    pub(crate) fn forget_token(&mut self, key: &TokenKey) {
        self.tokens.remove(key);
    }

    pub(crate) fn challenge(&self, vault_host: &str) -> Option<Challenge> {
        self.challenges.get(vault_host).cloned()
    }

    pub(crate) fn put_challenge(&mut self, vault_host: &str, challenge: Challenge) {
        self.challenges.insert(vault_host.to_owned(), challenge);
    }

    pub(crate) fn forget_challenge(&mut self, vault_host: &str) {
        self.challenges.remove(vault_host);
    }
}
