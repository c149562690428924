//! Idle HTTP/1.1 connections kept for reuse, per configuration (so per
//! tenant) and per destination. A connection is only ever reused for the
//! destination it was opened for, whose address was checked when it was
//! opened; nothing is resolved again, so reuse weakens no check.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use wasmtime_wasi_http::WasiBody;

use crate::policy::Destination;

/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept per destination.
const MAX_IDLE_PER_DESTINATION: usize = 8;

struct Idle {
    sender: SendRequest<WasiBody>,
    since: Instant,
}

#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<Destination, Vec<Idle>>>,
}

impl Pool {
    /// A live idle connection to `destination`, if one is kept.
    pub(crate) fn take(&self, destination: &Destination) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(destination)?;
        while let Some(entry) = list.pop() {
            if entry.since.elapsed() < IDLE_TIMEOUT && !entry.sender.is_closed() {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` for reuse, if it can take another request.
    pub(crate) fn put(&self, destination: Destination, sender: SendRequest<WasiBody>) {
        // Not necessarily ready yet (the connection task may still be
        // finishing the response); `take`'s caller waits for that.
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(destination).or_default();
        list.retain(|e| e.since.elapsed() < IDLE_TIMEOUT && !e.sender.is_closed());
        if list.len() < MAX_IDLE_PER_DESTINATION {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }
}
