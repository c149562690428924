//! When a cached token may be served, and when it should be refreshed, as
//! the Azure SDKs decide: a token is
//! served while more than five minutes remain; one that lives two hours or
//! more is refreshed from half its life (or from the service's
//! `refresh_in`); a failed proactive refresh is retried no sooner than 30
//! seconds later, the still-valid token being served meanwhile.

/// A token closer to expiry than this is not served.
pub const EXPIRY_MARGIN_SECS: u64 = 300;
/// Tokens living at least this long get a half-life refresh time.
pub const HALF_LIFE_REFRESH_MIN_LIFETIME_SECS: u64 = 2 * 60 * 60;
/// After a failed proactive refresh, the next attempt waits this long.
pub const REFRESH_RETRY_SECS: u64 = 30;

/// What to do with a cached token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Serve it.
    Fresh,
    /// Serve it, and refresh it in the background of this call.
    RefreshDue,
    /// Do not serve it: fetch a new one.
    Stale,
}

/// The state of a token expiring at `expires_on` (Unix seconds) that should
/// be refreshed from `refresh_at`, at `now`; `last_refresh_attempt` holds
/// when a proactive refresh last failed.
pub fn freshness(
    expires_on: u64,
    refresh_at: Option<u64>,
    now: u64,
    last_refresh_attempt: Option<u64>,
) -> Freshness {
    if expires_on <= now.saturating_add(EXPIRY_MARGIN_SECS) {
        return Freshness::Stale;
    }
    let due = refresh_at.is_some_and(|at| now >= at);
    let backing_off =
        last_refresh_attempt.is_some_and(|at| now < at.saturating_add(REFRESH_RETRY_SECS));
    if due && !backing_off {
        Freshness::RefreshDue
    } else {
        Freshness::Fresh
    }
}

/// When a token issued `now` for `lifetime` seconds should be refreshed:
/// `now + refresh_in` when the service said, else half its life when it
/// lives two hours or more, else never before the expiry margin.
pub fn refresh_at(now: u64, lifetime: u64, refresh_in: Option<u64>) -> Option<u64> {
    match refresh_in {
        Some(refresh_in) => Some(
            now.saturating_add(refresh_in)
                .min(now.saturating_add(lifetime)),
        ),
        None => (lifetime >= HALF_LIFE_REFRESH_MIN_LIFETIME_SECS).then(|| now + lifetime / 2),
    }
}

#[cfg(test)]
mod tests;
