//! Egress enforcement: the one `WasiHttpHooks::send_request` through which
//! every request of the component passes. The hook is a thin adapter:
//! `EgressPolicy::check` decides on the URI (synchronously, before any I/O),
//! and `connect::Connector` resolves, checks addresses and connects.

mod body;
pub(crate) mod connect;
mod pool;
mod resolve;

use std::sync::{Arc, Mutex};

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use resolve::{Resolve, ResolveFuture, StaticResolver, SystemResolver};

use crate::policy::{DestinationKind, EgressPolicy};
use crate::upstream::UpstreamGate;
use connect::{Connector, Sent};

/// The first thing the sandbox refused during one call, of each kind (a
/// destination, a limit, a response): the host reports it instead of the
/// component's generic error. Only the
/// first is kept, so a component looping on refused requests cannot grow
/// host memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct EgressLog(Arc<Mutex<LogEntries>>);

#[derive(Debug, Default)]
struct LogEntries {
    denial: Option<String>,
    limit: Option<String>,
    refusal: Option<String>,
}

impl EgressLog {
    pub(crate) fn record_denial(&self, reason: String) {
        if let Ok(mut log) = self.0.lock() {
            log.denial.get_or_insert(reason);
        }
    }

    pub(crate) fn record_limit(&self, reason: String) {
        if let Ok(mut log) = self.0.lock() {
            log.limit.get_or_insert(reason);
        }
    }

    /// A response the host refused for its size or shape.
    pub(crate) fn record_refusal(&self, reason: String) {
        if let Ok(mut log) = self.0.lock() {
            log.refusal.get_or_insert(reason);
        }
    }

    pub(crate) fn first_refusal(&self) -> Option<String> {
        self.0.lock().ok().and_then(|log| log.refusal.clone())
    }

    pub(crate) fn first_denial(&self) -> Option<String> {
        self.0.lock().ok().and_then(|log| log.denial.clone())
    }

    pub(crate) fn first_limit(&self) -> Option<String> {
        self.0.lock().ok().and_then(|log| log.limit.clone())
    }
}

/// The per-call hooks: shared policy and connector, and this call's log.
pub(crate) struct EgressHooks {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) connector: Arc<Connector>,
    /// The runtime's gate, which identity-endpoint requests pass.
    pub(crate) upstream: Arc<UpstreamGate>,
    /// When the call ends: the gate queues no request past it.
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) log: EgressLog,
}

impl WasiHttpHooks for EgressHooks {
    // An outgoing body the component writes is buffered at most one small
    // chunk at a time (wasmtime's default is 1 MiB per body), so that
    // bodies it opens and never sends hold little host memory.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        crate::sandbox::OUTGOING_BODY_CHUNK
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_body_done: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<Sent, Error>> + Send> {
        let method = request.method().clone();
        match self.policy.check(request.method(), request.uri()) {
            Ok(destination) => {
                tracing::debug!(target: "azmi::egress", "allowed: {method} {destination}{}", request.uri().path());
                let connector = self.connector.clone();
                let log = self.log.clone();
                if destination.kind == DestinationKind::IdentityEndpoint {
                    let endpoint = destination.to_string();
                    let sending = connector.send(destination, request, options, log);
                    let upstream = self.upstream.clone();
                    let deadline = self.deadline;
                    Box::new(async move { upstream.send(&endpoint, deadline, sending).await })
                } else {
                    Box::new(connector.send(destination, request, options, log))
                }
            }
            Err(reason) => {
                tracing::info!(target: "azmi::egress", "denied: {reason}");
                self.log.record_denial(reason);
                Box::new(async { Err(Error::HttpRequestDenied) })
            }
        }
    }
}
