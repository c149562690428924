//! The accept loop shared by the emulated services: HTTP/1.1 over plain TCP
//! or TLS, one task per connection, request bodies read up to a bound.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A response body; it can fail, so that a fault can cut it short.
pub(super) type Body = BoxBody<Bytes, std::io::Error>;

/// Largest request body an emulated service reads.
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// A service: a request with its whole body in, a response out.
pub(super) type Handler = Arc<
    dyn Fn(http::Request<Bytes>) -> Pin<Box<dyn Future<Output = http::Response<Body>> + Send>>
        + Send
        + Sync,
>;

pub(super) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Accepts connections until the task is aborted.
pub(super) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: Handler,
    accepted: impl Fn() -> super::OpenConnection,
) {
    loop {
        let Ok((tcp, _peer)) = listener.accept().await else {
            continue;
        };
        let open = accepted();
        let handler = handler.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = open;
            match tls {
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(stream) => serve_connection(TokioIo::new(stream), handler).await,
                    Err(e) => {
                        tracing::debug!(target: "azmi::emulator", "TLS handshake failed: {e}")
                    }
                },
                None => serve_connection(TokioIo::new(tcp), handler).await,
            }
        });
    }
}

async fn serve_connection<IO>(io: TokioIo<IO>, handler: Handler)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let handler = handler.clone();
        async move {
            let (parts, body) = request.into_parts();
            let response = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
                Ok(collected) => {
                    handler(http::Request::from_parts(parts, collected.to_bytes())).await
                }
                Err(_) => http::Response::builder()
                    .status(413)
                    .body(full("request body too large"))
                    .expect("static response"),
            };
            Ok::<_, Infallible>(response)
        }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!(target: "azmi::emulator", "connection ended: {e}");
    }
}

/// A JSON response with the given status and extra headers.
pub(super) fn json(
    status: u16,
    body: &serde_json::Value,
    headers: &[(&str, String)],
) -> http::Response<Body> {
    let mut builder = http::Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(full(body.to_string()))
        .expect("valid static response")
}

/// The query pairs of a request, percent-decoded.
pub(super) fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
