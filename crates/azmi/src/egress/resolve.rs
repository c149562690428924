//! Name resolution for allowed destinations. It is a trait so that an
//! embedder (or a test) can decide how names resolve; the policy checks
//! whatever comes back.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

/// The future a resolver returns.
pub type ResolveFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Resolves a host name to socket addresses. Called only for destinations
/// the egress policy allowed, at most once per request, and the request
/// then connects to one of the returned addresses (after the address
/// checks) and never resolves again, which closes DNS rebinding.
pub trait Resolve: Send + Sync + 'static {
    /// Resolves `host` (lower-case, never an IP literal) for `port`.
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture;
}

/// The operating system's resolver (`getaddrinfo` via tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture {
        let target = format!("{host}:{port}");
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }
}

/// A fixed table of names, like a private `/etc/hosts`; names not in it do
/// not resolve. Useful for tests and for hosts that must never use DNS.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// Makes `host` resolve to `ip` (in addition to earlier entries).
    pub fn insert(mut self, host: &str, ip: IpAddr) -> StaticResolver {
        self.hosts
            .entry(host.to_ascii_lowercase())
            .or_default()
            .push(ip);
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, host: &str, port: u16) -> ResolveFuture {
        let found = self
            .hosts
            .get(host)
            .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        let host = host.to_owned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} is not in the static host table"),
                )
            })
        })
    }
}
