//! The host's token cache: one per `Runtime`, shared by every tenant.
//!
//! azmi runs each call in a fresh instance, so nothing the component
//! remembers survives a call; the cache that matters therefore lives here,
//! outside the sandbox, keyed by the identity endpoint a configuration
//! reaches (its source and every variable the component is given), the
//! identity and the resource. Tenants whose configurations reach the same
//! endpoint the same way share its tokens, so a thousand tenants with one
//! identity cost the endpoint one request; a tenant's grant is checked
//! before the cache is consulted (`Credential`), so sharing never serves a
//! token to a tenant that may not have it. Each tenant keeps its own
//! counts (`CacheStats`). Hosts that
//! keep an instance alive get the component's own cache instead (see
//! `crates/azmi-guest/src/cache.rs`); both follow the same rules
//! (`azmi_core::freshness`): a token is served while more than five minutes
//! remain, refreshed from its refresh time, and a failed proactive refresh
//! leaves the still-valid token in use.
//!
//! Concurrent callers of one key share one request: the first becomes the
//! leader and the others wait for its result, success or error, so a burst
//! of workers costs the identity endpoint one request, not one each (the
//! retry storms of azure-sdk-for-net#37166).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use azmi_core::freshness::{Freshness, freshness};
use tokio::sync::watch;

use crate::{AccessToken, Error, Identity, Resolve, Source};

/// A cache key: the source, the upstream (a digest of how the
/// configuration reaches the identity endpoint), the identity (ids
/// lower-cased), the resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) source: Source,
    pub(crate) upstream: Upstream,
    pub(crate) resolver: ResolverKey,
    pub(crate) identity: Identity,
    pub(crate) resource: String,
}

/// A configuration's resolver, compared by identity: it decides where
/// `localhost` is, so configurations share tokens only if they share it
/// (the system's is one for the process). A key holds the resolver, so its
/// address cannot be reused by another while the key exists.
#[derive(Clone)]
pub(crate) struct ResolverKey(pub(crate) Arc<dyn Resolve>);

impl PartialEq for ResolverKey {
    fn eq(&self, other: &ResolverKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ResolverKey {}

impl std::hash::Hash for ResolverKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).cast::<()>().hash(state);
    }
}

impl std::fmt::Debug for ResolverKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResolverKey({:p})", Arc::as_ptr(&self.0).cast::<()>())
    }
}

/// SHA-256 of the source, the component's environment and the Arc
/// directory: equal exactly when two configurations ask the same endpoint
/// with the same credentials. A digest, so a key holds no identity header.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Upstream(pub(crate) [u8; 32]);

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Upstream({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// How one tenant (a `Credential` and its clones) has used the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Calls served from the cache.
    pub hits: u64,
    /// Calls that fetched a token because none was usable.
    pub misses: u64,
    /// Calls that waited for another call's fetch instead of fetching.
    pub coalesced: u64,
    /// Proactive refreshes started (the token was still usable).
    pub refreshes: u64,
    /// Proactive refreshes that failed; the still-valid token was served.
    pub refresh_failures: u64,
    /// Tokens held in the runtime's cache, for every tenant.
    pub entries: u64,
}

type Outcome = Option<Result<AccessToken, Error>>;

#[derive(Default)]
struct Slot {
    token: Option<AccessToken>,
    failed_refresh: Option<u64>,
    /// The leader's result, while a fetch is in flight.
    flight: Option<watch::Receiver<Outcome>>,
}

/// The tokens of one runtime.
pub(crate) struct TokenSlots {
    slots: Mutex<HashMap<Key, Slot>>,
    /// When the map grows past this, expired entries are swept.
    sweep_at: AtomicUsize,
}

impl Default for TokenSlots {
    fn default() -> TokenSlots {
        TokenSlots {
            slots: Mutex::default(),
            sweep_at: AtomicUsize::new(MIN_SWEEP),
        }
    }
}

/// The size below which the map is never swept.
const MIN_SWEEP: usize = 1024;

/// Whether those waiting for a fetch share its failure: the endpoint's own
/// answers (the same for every caller of one key) yes; a failure of the
/// fetching caller's own (its deadline, its limits, its sandbox) no.
fn is_upstream_answer(error: &Error) -> bool {
    matches!(
        error,
        Error::Unavailable(_)
            | Error::Unauthorized(_)
            | Error::Forbidden(_)
            | Error::NotFound(_)
            | Error::Service(_)
            | Error::InvalidArgument(_)
            | Error::InvalidResponse(_)
    )
}

/// One tenant's view of the runtime's tokens, with its own counts.
#[derive(Default)]
pub(crate) struct TokenCache {
    shared: Arc<TokenSlots>,
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures: AtomicU64,
}

enum Step {
    Serve(AccessToken),
    Follow(watch::Receiver<Outcome>),
    Lead {
        sender: watch::Sender<Outcome>,
        fallback: Option<AccessToken>,
    },
}

impl TokenCache {
    /// A view of `shared`, counting for itself.
    pub(crate) fn sharing(shared: Arc<TokenSlots>) -> TokenCache {
        TokenCache {
            shared,
            ..TokenCache::default()
        }
    }

    /// The token for `key`: cached, or fetched by `fetch` (by this call or
    /// by a concurrent one). `admit` decides, just before this call would
    /// fetch, whether it may (a tenant's budget; told whether the fetch is
    /// a proactive refresh); a refusal is this caller's alone, never handed
    /// to those waiting for the same key, who then fetch themselves.
    ///
    /// A cached token equal to `stale` (one a vault just refused for this
    /// caller) is not served to it: it fetches anew, and the new token
    /// replaces the old for everyone only once fetched. The old one stays
    /// in use for others meanwhile: one tenant's 401 never evicts what the
    /// others are served.
    pub(crate) async fn get<F, Fut>(
        &self,
        key: Key,
        stale: Option<&str>,
        now: impl Fn() -> u64,
        admit: impl FnOnce(bool) -> Result<(), Error>,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let mut admit = Some(admit);
        let mut fetch = Some(fetch);
        loop {
            match self.step(&key, now(), stale) {
                Step::Serve(token) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(token);
                }
                Step::Follow(mut receiver) => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    if let Ok(outcome) = receiver.wait_for(Option::is_some).await
                        && let Some(result) = outcome.clone()
                        && result.as_ref().err().is_none_or(is_upstream_answer)
                    {
                        return result;
                    }
                    // The leader was cancelled, or failed for a reason of
                    // its own (its deadline, its limits): look again, and
                    // maybe lead under this caller's own.
                }
                Step::Lead { sender, fallback } => {
                    let (Some(fetch), Some(admit)) = (fetch.take(), admit.take()) else {
                        // Only reachable if a lead ended without settling; be safe.
                        return Err(Error::Other("the token cache lost its fetch".into()));
                    };
                    let mut guard = FlightGuard {
                        slots: self.shared.clone(),
                        key: key.clone(),
                        armed: true,
                    };
                    if let Err(refused) = admit(fallback.is_some()) {
                        // The guard clears the flight and the dropped
                        // sender wakes the followers, who look again.
                        drop((guard, sender));
                        return match fallback {
                            Some(still_valid) => {
                                self.hits.fetch_add(1, Ordering::Relaxed);
                                Ok(still_valid)
                            }
                            None => Err(refused),
                        };
                    }
                    if fallback.is_some() {
                        self.refreshes.fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.misses.fetch_add(1, Ordering::Relaxed);
                    }
                    let result = fetch().await;
                    guard.armed = false;
                    let served = self.settle(&key, result, fallback, now());
                    // Followers get what the leader got, errors included.
                    let _ = sender.send(Some(served.clone()));
                    return served;
                }
            }
        }
    }

    fn step(&self, key: &Key, now: u64, stale: Option<&str>) -> Step {
        let mut slots = self.shared.lock();
        let slot = slots.entry(key.clone()).or_default();
        // A flight whose leader went away (cancelled) no longer counts.
        if slot
            .flight
            .as_ref()
            .is_some_and(|r| r.has_changed().is_err())
        {
            slot.flight = None;
        }
        let mut fallback = None;
        if let Some(token) = &slot.token
            && stale.is_none_or(|stale| token.token.expose() != stale)
        {
            match freshness(token.expires_on, token.refresh_at, now, slot.failed_refresh) {
                Freshness::Fresh => return Step::Serve(token.clone()),
                // Someone is refreshing: the current token is still good.
                Freshness::RefreshDue if slot.flight.is_some() => {
                    return Step::Serve(token.clone());
                }
                Freshness::RefreshDue => fallback = Some(token.clone()),
                Freshness::Stale => {}
            }
        }
        if let Some(receiver) = &slot.flight {
            return Step::Follow(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        slot.flight = Some(receiver);
        Step::Lead { sender, fallback }
    }

    /// Stores the leader's result; a failed refresh serves the fallback.
    fn settle(
        &self,
        key: &Key,
        result: Result<AccessToken, Error>,
        fallback: Option<AccessToken>,
        now: u64,
    ) -> Result<AccessToken, Error> {
        let mut slots = self.shared.lock();
        let slot = slots.entry(key.clone()).or_default();
        slot.flight = None;
        match (result, fallback) {
            (Ok(token), _) => {
                slot.token = Some(token.clone());
                slot.failed_refresh = None;
                self.shared.sweep(&mut slots, now);
                Ok(token)
            }
            (Err(error), Some(still_valid)) => {
                tracing::debug!(target: "azmi::cache", "proactive refresh failed, serving the cached token: {}", error.kind());
                self.refresh_failures.fetch_add(1, Ordering::Relaxed);
                // Only the endpoint's answer holds refreshes back for
                // everyone, not this caller's own deadline or limits.
                if is_upstream_answer(&error) {
                    slot.failed_refresh = Some(now);
                }
                Ok(still_valid)
            }
            (Err(error), None) => {
                if slot.token.is_none() {
                    slots.remove(key);
                }
                Err(error)
            }
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let entries = self
            .shared
            .lock()
            .values()
            .filter(|s| s.token.is_some())
            .count();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            refresh_failures: self.refresh_failures.load(Ordering::Relaxed),
            entries: entries as u64,
        }
    }
}

/// Clears the flight if the leader's future is dropped mid-fetch (its
/// caller timed out), so that the next caller leads instead of waiting.
struct FlightGuard {
    slots: Arc<TokenSlots>,
    key: Key,
    armed: bool,
}

impl TokenSlots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops expired tokens nobody is fetching, once the map has doubled
    /// since the last sweep: tenants come and go, and a long-lived runtime
    /// must not keep every key it ever saw.
    fn sweep(&self, slots: &mut HashMap<Key, Slot>, now: u64) {
        if slots.len() < self.sweep_at.load(Ordering::Relaxed) {
            return;
        }
        slots.retain(|_, slot| {
            slot.flight.is_some() || slot.token.as_ref().is_some_and(|t| t.expires_on > now)
        });
        self.sweep_at
            .store((slots.len() * 2).max(MIN_SWEEP), Ordering::Relaxed);
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut slots = self.slots.lock();
        if let Some(slot) = slots.get_mut(&self.key) {
            slot.flight = None;
            if slot.token.is_none() {
                slots.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests;
