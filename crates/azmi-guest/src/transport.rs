//! The one seam between protocol logic and the network: a request goes in,
//! a whole response (or a transport failure) comes out. `wasi_http.rs`
//! implements it over wasi:http; unit tests implement it with a fake.

use std::fmt;
use std::time::Duration;

use crate::url::Scheme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
}

/// Per-request deadlines, handed to the host as wasi:http request options.
/// The host may clamp them further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) first_byte: Duration,
    pub(crate) between_bytes: Duration,
}

/// One outgoing request.
#[derive(Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) scheme: Scheme,
    /// `host[:port]`, as it goes into wasi:http's `set-authority`.
    pub(crate) authority: String,
    pub(crate) path_and_query: String,
    /// Header values may be credentials; `Debug` prints names only.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Sent only for POST (Cloud Shell's form); GETs never open a body.
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) timeouts: Timeouts,
    /// Bodies longer than this are refused, not truncated.
    pub(crate) max_response_bytes: usize,
}

impl Request {
    /// `scheme://authority/path` without the query, for messages: query
    /// strings carry no credentials here, but keeping them out keeps
    /// messages short.
    pub(crate) fn display_url(&self) -> String {
        let path = self.path_and_query.split('?').next().unwrap_or_default();
        format!("{}://{}{}", self.scheme.as_str(), self.authority, path)
    }
}

impl Request {
    /// The same request with every deadline cut to `remaining`, so that no
    /// attempt outlives the call.
    pub(crate) fn within(mut self, remaining: Duration) -> Request {
        let remaining = remaining.max(Duration::from_millis(1));
        let t = &mut self.timeouts;
        t.connect = t.connect.min(remaining);
        t.first_byte = t.first_byte.min(remaining);
        t.between_bytes = t.between_bytes.min(remaining);
        self
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.display_url())
            .field("header_names", &names)
            .finish_non_exhaustive()
    }
}

/// A complete response.
pub(crate) struct Response {
    pub(crate) status: u16,
    /// Names are lower-case.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lower-case) that is valid UTF-8.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .find_map(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// Whether the `Content-Type` is JSON (`application/json`, optionally
    /// with parameters, or a `+json` type).
    pub(crate) fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            let media = ct.split(';').next().unwrap_or_default().trim();
            media.eq_ignore_ascii_case("application/json")
                || media.to_ascii_lowercase().ends_with("+json")
        })
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TransportError {
    /// The host refused the destination (wasi:http `HTTP-request-denied`).
    Denied,
    /// The host refused the address the destination resolved to
    /// (`destination-IP-prohibited`).
    AddressProhibited,
    /// Nothing answered: connection refused, unreachable, name not found.
    Unreachable(String),
    /// The connection was not established in time.
    ConnectTimeout(String),
    /// Connected, but the response (or the rest of its body) did not arrive
    /// in time.
    ReadTimeout(String),
    /// The connection closed before a complete response.
    Interrupted(String),
    /// The TLS handshake failed (certificate, protocol, alert).
    Tls(String),
    /// The response body was longer than `max_response_bytes`.
    TooLarge { limit: usize },
    /// The response's headers were larger than the host accepts.
    HeadersTooLarge,
    /// The peer did not speak HTTP as it must (the host refused the
    /// response's framing, or heads that never end in a final response).
    Protocol,
    /// Anything else the host reported.
    Other(String),
}

pub(crate) trait Transport {
    fn send(&self, request: &Request) -> Result<Response, TransportError>;
}
