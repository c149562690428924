//! `Transport` over wasi:http with the raw `wasi` crate: no async runtime,
//! and no outgoing body for GETs (writing an empty body races the host's
//! sender on wasmtime 48, which then reports the connection reset).

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme as WasiScheme,
};
use wasi::io::streams::StreamError;

use crate::transport::{Method, Request, Response, Transport, TransportError};
use crate::url::Scheme;

/// Bytes asked for per read.
const READ_CHUNK: u64 = 64 * 1024;

pub(crate) struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        let invalid =
            |what: &str| TransportError::Other(format!("the host refused the request's {what}"));
        let headers = Fields::new();
        for (name, value) in &request.headers {
            headers
                .append(name, value.as_bytes())
                .map_err(|_| invalid("headers"))?;
        }
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            Method::Get => WasiMethod::Get,
            Method::Post => WasiMethod::Post,
        };
        outgoing
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        let scheme = match request.scheme {
            Scheme::Http => WasiScheme::Http,
            Scheme::Https => WasiScheme::Https,
        };
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        outgoing
            .set_authority(Some(&request.authority))
            .map_err(|()| invalid("authority"))?;
        outgoing
            .set_path_with_query(Some(&request.path_and_query))
            .map_err(|()| invalid("path"))?;

        let options = RequestOptions::new();
        // Durations are nanoseconds. A host may not support a timeout; it
        // then applies its own, which is fine.
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let _ = options.set_connect_timeout(Some(nanos(request.timeouts.connect)));
        let _ = options.set_first_byte_timeout(Some(nanos(request.timeouts.first_byte)));
        let _ = options.set_between_bytes_timeout(Some(nanos(request.timeouts.between_bytes)));

        // A GET never opens its body: writing even an empty one races the
        // host's sender, which then drops the connection.
        let body = match &request.body {
            Some(bytes) => Some((outgoing.body().map_err(|()| invalid("body"))?, bytes)),
            None => None,
        };
        let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(map_error_code)?;
        if let Some((body, bytes)) = body {
            write_body(body, bytes)?;
        }

        let response = loop {
            match pending.get() {
                Some(Ok(Ok(response))) => break response,
                Some(Ok(Err(code))) => return Err(map_error_code(code)),
                Some(Err(())) => {
                    return Err(TransportError::Other(
                        "the response was already taken".into(),
                    ));
                }
                None => pending.subscribe().block(),
            }
        };
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| TransportError::Other("the response body was already taken".into()))?;
        let body = read_body(&incoming, request.max_response_bytes)?;
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), TransportError> {
    {
        let stream = body
            .write()
            .map_err(|()| TransportError::Other("the request body is not writable".into()))?;
        // blocking-write-and-flush takes at most 4096 bytes at a time.
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|_| TransportError::Other("writing the request body failed".into()))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(map_error_code)
}

/// Reads the whole body, refusing more than `limit` bytes instead of
/// truncating.
fn read_body(incoming: &IncomingBody, limit: usize) -> Result<Vec<u8>, TransportError> {
    let stream = incoming
        .stream()
        .map_err(|()| TransportError::Other("the response body stream was already taken".into()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(READ_CHUNK) {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    return Err(TransportError::TooLarge { limit });
                }
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(error)) => {
                let code = wasi::http::types::http_error_code(&error);
                return Err(
                    code.map_or_else(|| body_failure(&error.to_debug_string()), map_error_code)
                );
            }
        }
    }
}

/// A body read that failed without an error code: wasmtime 48 reports the
/// host's body errors only as text (the `Display` of its `Error`). A body
/// the host refused for its size is final; a timeout, or a connection cut
/// short, is worth a retry.
fn body_failure(detail: &str) -> TransportError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("response body size exceeds limit") {
        // "HTTP response body size exceeds limit: 65536 bytes"
        let limit = lower
            .rsplit_once(": ")
            .and_then(|(_, n)| n.trim_end_matches(" bytes").parse().ok())
            .unwrap_or(0);
        TransportError::TooLarge { limit }
    } else if lower.contains("header size exceeds limit")
        || lower.contains("header section size exceeds limit")
    {
        TransportError::HeadersTooLarge
    } else if lower.contains("timeout") {
        TransportError::ReadTimeout(format!("the response stalled ({detail})"))
    } else {
        TransportError::Interrupted(format!("reading the response failed ({detail})"))
    }
}

/// Maps wasi:http error codes onto what protocol code needs to tell apart.
pub(crate) fn map_error_code(code: ErrorCode) -> TransportError {
    match code {
        ErrorCode::HttpRequestDenied => TransportError::Denied,
        ErrorCode::DestinationIpProhibited => TransportError::AddressProhibited,
        ErrorCode::ConnectionRefused => TransportError::Unreachable("connection refused".into()),
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            TransportError::Unreachable("the host name did not resolve".into())
        }
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            TransportError::Unreachable("the destination is unreachable".into())
        }
        ErrorCode::ConnectionTerminated | ErrorCode::HttpResponseIncomplete => {
            TransportError::Interrupted("the connection closed before a complete response".into())
        }
        ErrorCode::DnsTimeout => TransportError::ConnectTimeout("the name lookup timed out".into()),
        ErrorCode::ConnectionTimeout => {
            TransportError::ConnectTimeout("the connection timed out".into())
        }
        ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout
        | ErrorCode::ConnectionWriteTimeout => {
            TransportError::ReadTimeout("no response in time".into())
        }
        ErrorCode::TlsCertificateError => {
            TransportError::Tls("the server certificate is not trusted".into())
        }
        ErrorCode::TlsProtocolError => TransportError::Tls("TLS protocol error".into()),
        ErrorCode::TlsAlertReceived(alert) => TransportError::Tls(format!(
            "the server sent TLS alert {}",
            alert.alert_message.unwrap_or_default()
        )),
        ErrorCode::HttpResponseBodySize(limit) => TransportError::TooLarge {
            limit: limit.and_then(|l| usize::try_from(l).ok()).unwrap_or(0),
        },
        ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
            TransportError::HeadersTooLarge
        }
        ErrorCode::HttpProtocolError => TransportError::Protocol,
        ErrorCode::InternalError(Some(detail)) => TransportError::Other(detail),
        other => TransportError::Other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests;
