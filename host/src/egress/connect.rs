//! Sending an allowed request: resolve once, keep only addresses the policy
//! allows, connect to one of those exact addresses, TLS with the vault's
//! name, HTTP/1.1 with clamped deadlines and a capped body. Nothing here
//! re-resolves a name, so what was checked is what is connected to.

use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Poll, ready};
use std::time::Duration;

use http_body_util::BodyExt;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::body::LimitedBody;
use super::{DenialLog, Resolve};
use crate::limits::RequestLimits;
use crate::policy::{Destination, DestinationKind, EgressPolicy, Scheme, TlsTrust, ip_literal};

/// The largest response head (status line and headers) read.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

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
        denials: DenialLog,
    ) -> Result<Sent, Error> {
        let deadlines = self.deadlines(options);
        let addrs = self
            .addresses(&destination, deadlines.connect, &denials)
            .await?;
        let (tcp, addr) = connect(&addrs, deadlines.connect).await?;
        tracing::debug!(target: "azmi::egress", "connected to {addr} for {destination}");

        let stream: Box<dyn Io> = match destination.scheme {
            Scheme::Http => Box::new(tcp),
            Scheme::Https => Box::new(
                self.tls_handshake(&destination, tcp, deadlines.connect)
                    .await?,
            ),
        };
        let (mut sender, conn) = tokio::time::timeout(
            deadlines.connect,
            hyper::client::conn::http1::Builder::new()
                // Bounds the response head: identity and vault responses
                // have a few hundred bytes of headers.
                .max_buf_size(MAX_RESPONSE_HEAD)
                .handshake::<_, WasiBody>(TokioIo::new(stream)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionTerminated)?;

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

        let limit = match destination.kind {
            DestinationKind::IdentityEndpoint => self.limits.max_identity_response_bytes,
            DestinationKind::Vault => self.limits.max_vault_response_bytes,
        };
        let send = tokio::time::timeout(deadlines.first_byte, sender.send_request(request));
        let mut send = pin!(send);
        let mut conn = Some(conn);
        let outcome = |result: Result<
            Result<http::Response<hyper::body::Incoming>, hyper::Error>,
            _,
        >| match result {
            Err(_elapsed) => Err(Error::ConnectionReadTimeout),
            Ok(Err(e)) if e.is_timeout() => Err(Error::ConnectionReadTimeout),
            Ok(Err(e)) if e.is_parse_too_large() => Err(Error::HttpResponseHeaderSectionSize(
                Some(MAX_RESPONSE_HEAD as u32),
            )),
            Ok(Err(_)) => Err(Error::HttpResponseIncomplete),
            Ok(Ok(response)) => Ok(response),
        };
        // Drive the connection while waiting for the response head.
        let response = poll_fn(|cx| match send.as_mut().poll(cx) {
            Poll::Ready(result) => Poll::Ready(outcome(result)),
            Poll::Pending => {
                let Some(c) = conn.as_mut() else {
                    return Poll::Pending;
                };
                let done = ready!(std::pin::Pin::new(c).poll(cx));
                conn = None;
                match done {
                    Ok(()) => send.as_mut().poll(cx).map(outcome),
                    Err(_) => Poll::Ready(Err(Error::HttpResponseIncomplete)),
                }
            }
        })
        .await?;

        tracing::debug!(target: "azmi::egress", "{destination} answered {}", response.status());
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit) {
            return Err(Error::HttpResponseBodySize(Some(limit)));
        }
        let response = response.map(|incoming| {
            LimitedBody::new(incoming, deadlines.between_bytes, limit).boxed_unsync()
        });
        let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async move {
            match conn {
                Some(conn) => conn.await.map_err(|_| Error::ConnectionTerminated),
                None => Ok(()),
            }
        });
        Ok((response, io))
    }

    /// The vetted addresses for `destination`, or `DestinationIpProhibited`
    /// with the reason logged.
    async fn addresses(
        &self,
        destination: &Destination,
        timeout: Duration,
        denials: &DenialLog,
    ) -> Result<Vec<SocketAddr>, Error> {
        if let Some((host, port)) = &destination.pinned {
            // Pinned by the operator: the target is trusted as given.
            return match ip_literal(host) {
                Some(ip) => Ok(vec![SocketAddr::new(ip, *port)]),
                None => self.resolve(host, *port, timeout).await,
            };
        }
        let candidates = match ip_literal(&destination.host) {
            Some(ip) => vec![SocketAddr::new(ip, destination.port)],
            None => {
                self.resolve(&destination.host, destination.port, timeout)
                    .await?
            }
        };
        let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = candidates
            .into_iter()
            .partition(|a| EgressPolicy::address_allowed(destination.kind, a.ip()));
        if allowed.is_empty() {
            let rule = match destination.kind {
                DestinationKind::IdentityEndpoint => {
                    "identity endpoints must be loopback or link-local"
                }
                DestinationKind::Vault => {
                    "vaults must resolve to public addresses (pin an emulator with --connect-to)"
                }
            };
            let shown: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
            let reason = format!("{destination} resolved to {} and {rule}", shown.join(", "));
            tracing::info!(target: "azmi::egress", "denied: {reason}");
            denials.record(reason);
            return Err(Error::DestinationIpProhibited);
        }
        Ok(allowed)
    }

    async fn resolve(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
    ) -> Result<Vec<SocketAddr>, Error> {
        match tokio::time::timeout(timeout, self.resolver.resolve(host, port)).await {
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
        timeout: Duration,
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
        match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
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

/// Any stream hyper can run over.
trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Tries `addrs` in order within one overall connect deadline.
async fn connect(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, SocketAddr), Error> {
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
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| Error::ConnectionTimeout)?
}
