//! Idle HTTP/1.1 connections kept for reuse, per configuration (so per
//! tenant) and per destination. A connection is only ever reused for the
//! destination it was opened for, whose address was checked when it was
//! opened; nothing is resolved again, so reuse weakens no check.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use wasmtime_wasi_http::WasiBody;

use crate::policy::Destination;

/// Idle connections kept per destination.
const MAX_IDLE_PER_DESTINATION: usize = 8;

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

pub(crate) struct ConnectionPool {
    idle: Mutex<HashMap<Destination, Vec<Idle>>>,
    /// How long a connection may stay idle; zero keeps none.
    idle_timeout: Duration,
    /// Whether a task is closing this pool's expired connections.
    reaping: AtomicBool,
}

impl ConnectionPool {
    pub(crate) fn new(idle_timeout: Duration) -> ConnectionPool {
        ConnectionPool {
            idle: Mutex::default(),
            idle_timeout,
            reaping: AtomicBool::new(false),
        }
    }

    fn fresh(&self, idle: &Idle) -> bool {
        idle.since.elapsed() < self.idle_timeout && !idle.sender.is_closed()
    }

    /// A live idle connection to `destination`, if one is kept.
    pub(crate) fn take(&self, destination: &Destination) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(destination)?;
        while let Some(entry) = list.pop() {
            if self.fresh(&entry) {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` for reuse, if it can take another request.
    pub(crate) fn put(self: &Arc<Self>, destination: Destination, sender: SendRequest<WasiBody>) {
        // Not necessarily ready yet (the connection task may still be
        // finishing the response); `take`'s caller waits for that.
        if sender.is_closed() || self.idle_timeout.is_zero() {
            return;
        }
        {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let list = idle.entry(destination).or_default();
            list.retain(|e| self.fresh(e));
            if list.len() >= MAX_IDLE_PER_DESTINATION {
                return;
            }
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
        self.reap_later();
    }

    /// Drops expired and closed connections (which closes them); returns
    /// how many are still kept.
    fn prune(&self) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|_, list| {
            list.retain(|e| self.fresh(e));
            !list.is_empty()
        });
        idle.values().map(Vec::len).sum()
    }

    /// Starts, unless one runs, a task that closes connections once they
    /// have been idle `idle_timeout` (at most half as long again), so an
    /// idle tenant holds no sockets. It ends when nothing is kept, or when
    /// the pool (its tenant's configuration) is dropped.
    fn reap_later(self: &Arc<Self>) {
        if self.reaping.swap(true, Ordering::AcqRel) {
            return;
        }
        // `put` runs inside the runtime that drives the response body.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.reaping.store(false, Ordering::Release);
            return;
        };
        let pool: Weak<ConnectionPool> = Arc::downgrade(self);
        let period = (self.idle_timeout / 2).max(Duration::from_millis(10));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(pool) = pool.upgrade() else { return };
                if pool.prune() > 0 {
                    continue;
                }
                pool.reaping.store(false, Ordering::Release);
                // A `put` between the prune and the store saw a reaper
                // running: look again before leaving.
                if pool.prune() == 0 || pool.reaping.swap(true, Ordering::AcqRel) {
                    return;
                }
            }
        });
    }
}
