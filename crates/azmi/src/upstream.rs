//! The runtime's gate in front of the identity endpoints: every request the
//! component sends to one, for every tenant, passes it. It counts them (for
//! a broker's health and metrics), and, when the host sets an
//! `UpstreamLimit`, paces them: at most so many a second and so many at
//! once to each endpoint, queued within the call's deadline. A 429 from an
//! endpoint holds every later request to it back until its `Retry-After`
//! has passed, so one
//! throttled endpoint is not asked again by each caller in turn: those
//! that cannot wait are answered 429 by the gate itself, without sending
//! anything, and the component's retry rules then treat it like the
//! endpoint's own.
//!
//! Vault requests do not pass the gate: the vaults throttle on their own
//! terms, per vault, and the endpoint's quota is the machine's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use wasmtime_wasi_http::{Error, WasiBody};

use crate::egress::connect::Sent;

/// How long a 429 without `Retry-After` holds requests back.
const DEFAULT_THROTTLE: Duration = Duration::from_secs(5);
/// The longest a `Retry-After` is honoured for: a hostile or broken
/// endpoint cannot stop a host for longer than this.
const MAX_THROTTLE: Duration = Duration::from_secs(60);
/// Requests the gate cannot send before their call ends are answered this
/// long before it, so the component still has time to report the 429.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// A cap on the identity-endpoint requests of a whole runtime, for each
/// endpoint (every tenant, every identity): `per_second` on average, up to `per_second`
/// at once after a quiet second, and at most `concurrent` in flight. 0
/// means no limit. `UpstreamLimit::default()` is no limit: a library host
/// sets the limit its endpoint has (`UpstreamLimit::imds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct UpstreamLimit {
    /// Requests a second (0: unlimited).
    pub per_second: u32,
    /// Requests in flight (0: unlimited).
    pub concurrent: u32,
}

crate::limits::setters!(UpstreamLimit {
    per_second: u32,
    concurrent: u32,
});

impl UpstreamLimit {
    /// Within what Azure's Instance Metadata Service allows a VM: it
    /// throttles at 5 requests a second in general (20 for managed
    /// identity, and 5 concurrent), and processes that do not go through
    /// azmi share that quota.
    pub fn imds() -> UpstreamLimit {
        UpstreamLimit {
            per_second: 5,
            concurrent: 5,
        }
    }
}

/// How the identity endpoint has been used through one runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamStats {
    /// Requests sent to the identity endpoint.
    pub requests: u64,
    /// Of those, the ones that failed: no response, a 429 or a 5xx.
    pub errors: u64,
    /// Of the errors, the 429s.
    pub throttled: u64,
    /// Requests the gate answered 429 itself instead of sending, because
    /// the endpoint had throttled or the limit left no room in time.
    pub held_back: u64,
    /// Whether the last request sent got any HTTP response (`None`
    /// before the first).
    pub reachable: Option<bool>,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    throttled: AtomicU64,
    held_back: AtomicU64,
    /// 0: nothing sent yet; 1: reachable; 2: not.
    reachable: AtomicU8,
}

#[derive(Debug)]
struct Pace {
    /// When the next request may go at the steady rate (a GCRA's
    /// theoretical arrival time).
    next: Instant,
    /// No request goes before this (the endpoint's `Retry-After`).
    throttled_until: Option<Instant>,
}

/// The runtime's gate (see the module documentation): a pace per
/// identity endpoint (each has its own quota, and one endpoint's 429 says
/// nothing of another's), counts for all of them together.
#[derive(Debug)]
pub(crate) struct UpstreamGate {
    limit: UpstreamLimit,
    /// By `scheme://host:port`. A runtime reaches the few endpoints its
    /// configurations name; an entry is a few dozen bytes.
    endpoints: Mutex<HashMap<String, Arc<Endpoint>>>,
    counters: Counters,
}

/// One identity endpoint's share of the gate.
#[derive(Debug)]
struct Endpoint {
    limit: UpstreamLimit,
    in_flight: Option<Arc<Semaphore>>,
    pace: Mutex<Pace>,
}

impl UpstreamGate {
    pub(crate) fn new(limit: UpstreamLimit) -> UpstreamGate {
        UpstreamGate {
            limit,
            endpoints: Mutex::default(),
            counters: Counters::default(),
        }
    }

    fn endpoint(&self, name: &str) -> Arc<Endpoint> {
        let mut endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(endpoint) = endpoints.get(name) {
            return endpoint.clone();
        }
        let limit = self.limit;
        let endpoint = Arc::new(Endpoint {
            limit,
            in_flight: (limit.concurrent > 0).then(|| {
                Arc::new(Semaphore::new(
                    (limit.concurrent as usize).min(Semaphore::MAX_PERMITS),
                ))
            }),
            pace: Mutex::new(Pace {
                next: Instant::now(),
                throttled_until: None,
            }),
        });
        endpoints.insert(name.to_owned(), endpoint.clone());
        endpoint
    }

    pub(crate) fn stats(&self) -> UpstreamStats {
        let c = &self.counters;
        UpstreamStats {
            requests: c.requests.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            held_back: c.held_back.load(Ordering::Relaxed),
            reachable: match c.reachable.load(Ordering::Relaxed) {
                0 => None,
                state => Some(state == 1),
            },
        }
    }

    /// Sends `request` (the connector's future, to `endpoint`) when the
    /// gate lets it go, or answers 429 if that would be after `deadline`.
    pub(crate) async fn send(
        self: Arc<Self>,
        endpoint: &str,
        deadline: Instant,
        request: impl Future<Output = Result<Sent, Error>>,
    ) -> Result<Sent, Error> {
        let endpoint = self.endpoint(endpoint);
        let by = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline);
        let permit = match endpoint.admit(by).await {
            Ok(permit) => permit,
            Err(wait) => return Ok(self.held_back(wait)),
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        // The call's deadline may drop this future before the endpoint
        // answers: that request failed, and /healthz must say so.
        let mut unanswered = Unanswered(Some((&self.counters, deadline)));
        let sent = request.await;
        unanswered.0 = None;
        self.observe(&endpoint, &sent);
        // The request is in flight until its body has been read (or
        // dropped), not just its head: the permit goes with the body.
        sent.map(|(response, io)| {
            let response = response.map(|body| match permit {
                None => body,
                Some(permit) => body
                    .map_frame(move |frame| {
                        let _in_flight = &permit;
                        frame
                    })
                    .boxed_unsync(),
            });
            (response, io)
        })
    }
    fn observe(&self, endpoint: &Endpoint, sent: &Result<Sent, Error>) {
        let c = &self.counters;
        let status = sent.as_ref().ok().map(|(response, _)| response.status());
        c.reachable
            .store(if status.is_some() { 1 } else { 2 }, Ordering::Relaxed);
        let failed = status.is_none_or(|s| s.is_server_error() || s.as_u16() == 429);
        if failed {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok((response, _)) = sent
            && response.status().as_u16() == 429
        {
            c.throttled.fetch_add(1, Ordering::Relaxed);
            let hold = retry_after(response.headers())
                .unwrap_or(DEFAULT_THROTTLE)
                .min(MAX_THROTTLE);
            tracing::info!(target: "azmi::upstream", "the identity endpoint throttled (429): holding its requests back for {} s", hold.as_secs_f64());
            endpoint.throttle(Instant::now() + hold);
        }
    }

    /// The gate's own 429, as the endpoint would send it.
    fn held_back(&self, wait: Duration) -> Sent {
        self.counters.held_back.fetch_add(1, Ordering::Relaxed);
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        tracing::info!(target: "azmi::upstream", "held back a request to the identity endpoint: its turn comes in {seconds} s, after the call's deadline");
        let body = format!(
            r#"{{"error":"too_many_requests","error_description":"azmi is holding requests to the identity endpoint back (its limit, or the endpoint's own 429); retry in {seconds} s"}}"#
        );
        let mut response: http::Response<WasiBody> = http::Response::new(
            Full::new(Bytes::from(body))
                .map_err(|never: std::convert::Infallible| match never {})
                .boxed_unsync(),
        );
        *response.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
        let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
        (response, io)
    }
}

/// Counts a request whose future was dropped at its call's deadline
/// before the answer came as failed, and the endpoint as unreachable
/// (armed while it is `Some`). A caller that gave up earlier says nothing
/// of the endpoint.
struct Unanswered<'a>(Option<(&'a Counters, Instant)>);

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some((c, deadline)) = self.0
            && Instant::now() >= deadline
        {
            c.errors.fetch_add(1, Ordering::Relaxed);
            c.reachable.store(2, Ordering::Relaxed);
        }
    }
}

impl Endpoint {
    /// Waits for the request's turn, no later than `by`; or says how long
    /// the caller should wait instead.
    async fn admit(&self, by: Instant) -> Result<Option<OwnedSemaphorePermit>, Duration> {
        let start = self.reserve(by)?;
        // Not even a sleep that is already due: tokio's timer fires on its
        // next millisecond tick, which would add up to 1 ms to every
        // request that may go at once.
        if start > Instant::now() {
            tokio::time::sleep_until(start).await;
        }
        // A 429 may have come while this request waited its turn.
        self.wait_out_throttle(by).await?;
        let permit = match &self.in_flight {
            None => None,
            Some(slots) => tokio::time::timeout_at(by, slots.clone().acquire_owned())
                .await
                .map_err(|_| Duration::from_secs(1))?
                // The semaphore is never closed.
                .ok(),
        };
        // Or while it waited for a slot.
        self.wait_out_throttle(by).await?;
        Ok(permit)
    }

    /// Waits until no 429 holds requests back, if that is no later than
    /// `by`; else says how long it would be.
    async fn wait_out_throttle(&self, by: Instant) -> Result<(), Duration> {
        loop {
            let until = self
                .pace
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .throttled_until;
            let now = Instant::now();
            match until {
                Some(until) if until > now => {
                    if until > by {
                        return Err(until - now);
                    }
                    tokio::time::sleep_until(until).await;
                }
                _ => return Ok(()),
            }
        }
    }

    /// The instant the request may go, reserved; or, when that is after
    /// `by`, how long from now it would be (nothing reserved).
    fn reserve(&self, by: Instant) -> Result<Instant, Duration> {
        let now = Instant::now();
        let mut pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        let throttled = pace.throttled_until.filter(|t| *t > now);
        let paced = (self.limit.per_second > 0).then(|| {
            let interval = Duration::from_secs(1) / self.limit.per_second;
            let tolerance = interval * (self.limit.per_second - 1);
            let next = pace.next.max(now);
            (
                next.checked_sub(tolerance).unwrap_or(now).max(now),
                next,
                interval,
            )
        });
        let start = throttled
            .into_iter()
            .chain(paced.map(|(start, _, _)| start))
            .max()
            .unwrap_or(now);
        // Only a wait is refused: a request that may go now goes, however
        // little of its call is left.
        if start > now && start > by {
            return Err(start - now);
        }
        if let Some((_, next, interval)) = paced {
            // GCRA: the next arrival is one interval after this one's, and
            // a request held back by a throttle arrives when it goes, so
            // the end of a hold lets no more than the burst through.
            pace.next = next.max(start) + interval;
        }
        Ok(start)
    }

    /// No request goes before `until`.
    fn throttle(&self, until: Instant) {
        let mut pace = self.pace.lock().unwrap_or_else(PoisonError::into_inner);
        if pace.throttled_until.is_none_or(|t| t < until) {
            pace.throttled_until = Some(until);
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the
/// identity endpoints).
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests;
