//! Sending an allowed request: resolve once, keep only addresses the policy
//! allows, connect to one of those exact addresses, TLS with the vault's
//! name, HTTP/1.1 with clamped deadlines and a capped body. Nothing here
//! re-resolves a name, so what was checked is what is connected to.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use hyper::client::conn::http1::SendRequest;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::body::{LimitedBody, Release};
use super::pool::ConnectionPool;
use super::{EgressLog, Resolve};
use crate::limits::{RequestLimits, deadline_after};
use crate::policy::{Destination, DestinationKind, Scheme, TlsTrust, ip_literal};

/// The largest response head (status line and headers) read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Informational (1xx) heads accepted before a final response: services
/// send none to these requests, and hyper would parse an endless stream of
/// them until the first-byte deadline.
const MAX_INFORMATIONAL: u32 = 8;

/// What the hook hands back to wasmtime: the response, and the future that
/// drives the connection until the body is read.
pub(crate) type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

/// Everything a request needs besides itself; shared by all calls of one
/// configuration.
pub(crate) struct Connector {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) limits: RequestLimits,
    /// Idle connections, per destination.
    pub(crate) pool: Arc<ConnectionPool>,
    /// Request slots; `None` when the limit is 0 (unlimited).
    pub(crate) in_flight: Option<Arc<Semaphore>>,
}

impl Connector {
    pub(crate) fn new(
        resolver: Arc<dyn Resolve>,
        tls: Arc<rustls::ClientConfig>,
        limits: RequestLimits,
    ) -> Connector {
        // Beyond tokio's maximum the limit is no limit anyway (and tokio
        // would panic).
        let in_flight = (limits.max_concurrent_requests > 0).then(|| {
            Arc::new(Semaphore::new(
                limits.max_concurrent_requests.min(Semaphore::MAX_PERMITS),
            ))
        });
        Connector {
            resolver,
            tls,
            limits,
            pool: Arc::new(ConnectionPool::new(limits.idle_connection_timeout)),
            in_flight,
        }
    }
}

/// The deadlines of one request: the guest's, capped by the host's.
#[derive(Debug, Clone, Copy)]
struct Deadlines {
    connect: Duration,
    first_byte: Duration,
    between_bytes: Duration,
}

impl Connector {
    fn deadlines(&self, options: Option<RequestOptions>) -> Deadlines {
        let clamp = |asked: Option<Duration>, cap: Duration| asked.map_or(cap, |a| a.min(cap));
        let options = options.unwrap_or_default();
        Deadlines {
            connect: clamp(options.connect_timeout, self.limits.max_connect_timeout),
            first_byte: clamp(
                options.first_byte_timeout,
                self.limits.max_first_byte_timeout,
            ),
            between_bytes: clamp(
                options.between_bytes_timeout,
                self.limits.max_between_bytes_timeout,
            ),
        }
    }

    pub(crate) async fn send(
        self: Arc<Self>,
        destination: Destination,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        log: EgressLog,
    ) -> Result<Sent, Error> {
        let deadlines = self.deadlines(options);
        // The tenant's cap on requests in flight: beyond it, refuse now
        // rather than queue behind a stuck peer.
        let permit = match &self.in_flight {
            Some(slots) => Some(slots.clone().try_acquire_owned().map_err(|_| {
                let reason = format!(
                    "more than {} requests in flight for this configuration",
                    self.limits.max_concurrent_requests
                );
                tracing::info!(target: "azmi::egress", "refused: {reason}");
                log.record_limit(reason);
                Error::ConnectionLimitReached
            })?),
            None => None,
        };

        // The policy saw the absolute URI; the wire carries origin-form. The
        // Host header (set by wasmtime from the authority, not by the guest)
        // keeps naming the original host when the address was pinned.
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        *request.uri_mut() = http::Uri::builder()
            .path_and_query(path)
            .build()
            .map_err(|_| Error::HttpRequestUriInvalid)?;

        let (mut sender, reused) = match self.reusable(&destination, deadlines.first_byte).await {
            Some(sender) => {
                tracing::debug!(target: "azmi::egress", "reusing a connection to {destination}");
                (sender, true)
            }
            None => (self.open(&destination, deadlines, &log).await?, false),
        };

        let limit = match destination.kind {
            DestinationKind::IdentityEndpoint => self.limits.max_identity_response_bytes,
            DestinationKind::Vault => self.limits.max_vault_response_bytes,
        };
        let first_byte = deadlines.first_byte;
        let informational = Arc::new(Informational::default());
        hyper::ext::on_informational(&mut request, {
            let informational = informational.clone();
            move |_head| informational.seen()
        });
        let sending = tokio::time::timeout(first_byte, sender.try_send_request(request));
        let Some(mut sent) = informational.bounded(sending).await else {
            return Err(refuse_informational(&destination, &log));
        };
        // A kept-alive connection the server closed just after it looked
        // ready: when hyper hands the request back, it was never sent, so
        // it goes once more on a new connection.
        if reused
            && let Ok(Err(refused)) = &mut sent
            && let Some(request) = refused.take_message()
        {
            tracing::debug!(target: "azmi::egress", "{destination} closed a kept-alive connection; opening another");
            sender = self.open(&destination, deadlines, &log).await?;
            let sending = tokio::time::timeout(first_byte, sender.try_send_request(request));
            let Some(again) = informational.bounded(sending).await else {
                return Err(refuse_informational(&destination, &log));
            };
            sent = again;
        }
        let response = match sent {
            Err(_elapsed) => return Err(Error::ConnectionReadTimeout),
            Ok(Err(e)) => {
                let e = e.into_error();
                if e.is_timeout() {
                    return Err(Error::ConnectionReadTimeout);
                }
                if e.is_parse_too_large() {
                    log.record_refusal(format!(
                        "{destination} sent response headers larger than the host accepts ({MAX_RESPONSE_HEAD} bytes); refused"
                    ));
                    return Err(Error::HttpResponseHeaderSectionSize(Some(
                        MAX_RESPONSE_HEAD as u32,
                    )));
                }
                tracing::debug!(target: "azmi::egress", "{destination}: {e}");
                return Err(Error::HttpResponseIncomplete);
            }
            Ok(Ok(response)) => response,
        };

        tracing::debug!(target: "azmi::egress", "{destination} answered {}", response.status());
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            log.record_refusal(format!(
                "{destination} announced a response body larger than {limit} bytes; refused without reading it"
            ));
            return Err(Error::HttpResponseBodySize(Some(limit)));
        }
        let release = Release {
            pool: self.pool.clone(),
            destination,
            sender,
        };
        let response = response.map(|incoming| {
            LimitedBody::new(
                incoming,
                deadlines.between_bytes,
                limit,
                release,
                permit,
                log.clone(),
            )
            .boxed_unsync()
        });
        // The connection runs on its own task (it may outlive this request
        // in the pool); nothing is left for wasmtime to drive.
        let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
        Ok((response, io))
    }

    /// A pooled connection to `destination` that is ready for a request.
    async fn reusable(
        &self,
        destination: &Destination,
        wait: Duration,
    ) -> Option<SendRequest<WasiBody>> {
        while let Some(mut sender) = self.pool.take(destination) {
            // The previous response may still be settling; a connection the
            // server closed meanwhile fails here and is dropped.
            if let Ok(Ok(())) =
                tokio::time::timeout(wait.min(Duration::from_millis(250)), sender.ready()).await
            {
                return Some(sender);
            }
        }
        None
    }

    /// A new connection to a vetted address of `destination`, its driver
    /// running on its own task. Name resolution, TCP connect, TLS and the
    /// HTTP handshake share one connect deadline.
    async fn open(
        &self,
        destination: &Destination,
        deadlines: Deadlines,
        log: &EgressLog,
    ) -> Result<SendRequest<WasiBody>, Error> {
        let by = deadline_after(deadlines.connect);
        let addrs = self.addresses(destination, by, log).await?;
        let (tcp, addr) = connect(&addrs, by).await?;
        tracing::debug!(target: "azmi::egress", "connected to {addr} for {destination}");
        let stream: Box<dyn Io> = match destination.scheme {
            Scheme::Http => Box::new(tcp),
            Scheme::Https => Box::new(self.tls_handshake(destination, tcp, by).await?),
        };
        let (sender, conn) = tokio::time::timeout_at(
            by,
            hyper::client::conn::http1::Builder::new()
                // Bounds the response head: identity and vault responses
                // have a few hundred bytes of headers.
                .max_buf_size(MAX_RESPONSE_HEAD)
                .handshake::<_, WasiBody>(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionTerminated)?;
        let shown = destination.to_string();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(target: "azmi::egress", "connection to {shown} ended: {e}");
            }
        });
        Ok(sender)
    }

    /// The vetted addresses for `destination`, or `DestinationIpProhibited`
    /// with the reason logged.
    async fn addresses(
        &self,
        destination: &Destination,
        by: Instant,
        log: &EgressLog,
    ) -> Result<Vec<SocketAddr>, Error> {
        if let Some((host, port)) = &destination.pinned {
            // Pinned by the operator: the target is trusted as given.
            return match ip_literal(host) {
                Some(ip) => Ok(vec![SocketAddr::new(ip, *port)]),
                None => self.resolve(host, *port, by).await,
            };
        }
        let candidates = match ip_literal(&destination.host) {
            Some(ip) => vec![SocketAddr::new(ip, destination.port)],
            None => {
                self.resolve(&destination.host, destination.port, by)
                    .await?
            }
        };
        // Every address must pass: an answer that mixes allowed and refused
        // addresses is refused whole (for a vault it is a rebinding signal;
        // for localhost, a hosts file that is not what it seems).
        let rule = destination.address_rule();
        let refused: Vec<String> = candidates
            .iter()
            .filter(|a| !rule.allows(a.ip()))
            .map(|a| a.ip().to_string())
            .collect();
        if !refused.is_empty() {
            let reason = format!(
                "{destination} resolved to {} and {}",
                refused.join(", "),
                rule.explain()
            );
            tracing::info!(target: "azmi::egress", "denied: {reason}");
            log.record_denial(reason);
            return Err(Error::DestinationIpProhibited);
        }
        Ok(candidates)
    }

    async fn resolve(&self, host: &str, port: u16, by: Instant) -> Result<Vec<SocketAddr>, Error> {
        match tokio::time::timeout_at(by, self.resolver.resolve(host, port)).await {
            Err(_) => Err(Error::DnsTimeout),
            Ok(Err(e)) => {
                tracing::debug!(target: "azmi::egress", "resolving {host} failed: {e}");
                Err(Error::DnsError {
                    rcode: Some("name not resolved".into()),
                    info_code: None,
                })
            }
            Ok(Ok(addrs)) if addrs.is_empty() => Err(Error::DestinationNotFound),
            Ok(Ok(addrs)) => Ok(addrs),
        }
    }

    async fn tls_handshake(
        &self,
        destination: &Destination,
        tcp: TcpStream,
        by: Instant,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
        let name = match ip_literal(&destination.host) {
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(destination.host.clone())
                .map_err(|_| Error::HttpRequestUriInvalid)?,
        };
        let config = match destination.trust {
            TlsTrust::WebPki => self.tls.clone(),
            TlsTrust::Pinned(thumbprint) => {
                crate::tls::pinned_client_config(thumbprint).map_err(|e| {
                    tracing::debug!(target: "azmi::egress", "{e}");
                    Error::TlsProtocolError
                })?
            }
        };
        let connector = tokio_rustls::TlsConnector::from(config);
        match tokio::time::timeout_at(by, connector.connect(name, tcp)).await {
            Err(_) => Err(Error::ConnectionTimeout),
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => {
                let rustls_error = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>());
                tracing::debug!(target: "azmi::egress", "TLS with {destination} failed: {e}");
                Err(match rustls_error {
                    Some(rustls::Error::InvalidCertificate(_)) => Error::TlsCertificateError,
                    Some(rustls::Error::AlertReceived(alert)) => Error::TlsAlertReceived {
                        alert_id: None,
                        alert_message: Some(format!("{alert:?}")),
                    },
                    _ => Error::TlsProtocolError,
                })
            }
        }
    }
}

/// Counts a request's informational heads, and wakes its sender when there
/// are too many.
#[derive(Default)]
struct Informational {
    seen: std::sync::atomic::AtomicU32,
    too_many: tokio::sync::Notify,
}

impl Informational {
    fn seen(&self) {
        let seen = self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if seen > MAX_INFORMATIONAL {
            self.too_many.notify_one();
        }
    }

    /// `sending`, or `None` once there were too many informational heads.
    async fn bounded<T>(&self, sending: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            sent = sending => Some(sent),
            () = self.too_many.notified() => None,
        }
    }
}

/// Refuses a response that never got past its informational heads.
fn refuse_informational(destination: &Destination, log: &EgressLog) -> Error {
    log.record_refusal(format!(
        "{destination} sent more than {MAX_INFORMATIONAL} informational (1xx) responses without a final one; refused"
    ));
    Error::HttpProtocolError
}

/// Any stream hyper can run over.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Tries `addrs` in order within the connect deadline.
async fn connect(addrs: &[SocketAddr], by: Instant) -> Result<(TcpStream, SocketAddr), Error> {
    let attempt = async {
        let mut last = Error::ConnectionRefused;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => return Ok((tcp, *addr)),
                Err(e) => {
                    tracing::debug!(target: "azmi::egress", "connecting to {addr} failed: {e}");
                    last = match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                        std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                        _ => Error::DestinationUnavailable,
                    };
                }
            }
        }
        Err(last)
    };
    tokio::time::timeout_at(by, attempt)
        .await
        .map_err(|_| Error::ConnectionTimeout)?
}
