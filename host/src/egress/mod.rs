//! Egress enforcement: the one `WasiHttpHooks::send_request` through which
//! every request of the component passes. The hook is a thin adapter:
//! `EgressPolicy::check` decides on the URI (synchronously, before any I/O),
//! and `connect::Connector` resolves, checks addresses and connects.

mod body;
pub(crate) mod connect;
pub(crate) mod ip;
mod resolve;

use std::sync::{Arc, Mutex};

use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

pub use resolve::{Resolve, ResolveFuture, StaticResolver, SystemResolver};

use crate::policy::EgressPolicy;
use connect::{Connector, Sent};

/// Why requests of one call were refused, in order; the host reports them
/// instead of the guest's generic "denied".
#[derive(Debug, Clone, Default)]
pub(crate) struct DenialLog(Arc<Mutex<Vec<String>>>);

impl DenialLog {
    pub(crate) fn record(&self, reason: String) {
        if let Ok(mut log) = self.0.lock() {
            log.push(reason);
        }
    }

    pub(crate) fn first(&self) -> Option<String> {
        self.0.lock().ok().and_then(|log| log.first().cloned())
    }
}

/// The per-call hooks: shared policy and connector, and this call's log.
pub(crate) struct EgressHooks {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) denials: DenialLog,
}

impl WasiHttpHooks for EgressHooks {
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
                let denials = self.denials.clone();
                Box::new(connector.send(destination, request, options, denials))
            }
            Err(reason) => {
                tracing::info!(target: "azmi::egress", "denied: {reason}");
                self.denials.record(reason);
                Box::new(async { Err(Error::HttpRequestDenied) })
            }
        }
    }
}
