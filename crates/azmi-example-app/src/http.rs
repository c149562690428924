//! The little HTTP both example apps need: a request's method, path and
//! query, and a JSON answer written through `wasi:http`. Shared by
//! `azmi-example-config-app` (`#[path]`), whose bindings have the same
//! module layout.

use crate::bindings::wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// Answers `request` with what `answer` makes of it: only GET is served.
pub(crate) fn handle(
    request: &IncomingRequest,
    out: ResponseOutparam,
    answer: impl FnOnce(&Request) -> (u16, serde_json::Value),
) {
    let request = Request::of(request);
    let (status, body) = if request.is_get {
        answer(&request)
    } else {
        (
            405,
            serde_json::json!({"error": "method", "message": "only GET is served"}),
        )
    };
    respond(out, status, &body);
}

/// What the apps route on.
pub(crate) struct Request {
    is_get: bool,
    /// The path, percent-decoded segment by segment.
    pub(crate) segments: Vec<String>,
    /// The query's `name=value` pairs, percent-decoded.
    pub(crate) query: Vec<(String, String)>,
}

impl Request {
    fn of(request: &IncomingRequest) -> Request {
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        Request {
            is_get: matches!(request.method(), Method::Get),
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|segment| percent_decode(segment, false))
                .collect(),
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (name, value) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(name, true), percent_decode(value, true))
                })
                .collect(),
        }
    }

    /// The first value of query parameter `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `%XX` escapes, and in a query `+` as a space; anything else stays as
/// it is, so a malformed escape is kept rather than refused.
fn percent_decode(text: &str, in_query: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if in_query => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers `status` with `body` as JSON, and a newline so that curl's
/// output ends its line.
fn respond(out: ResponseOutparam, status: u16, body: &serde_json::Value) {
    let mut text = body.to_string();
    text.push('\n');
    let headers = Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
        .expect("a valid header");
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(status)
        .expect("a status from 100 to 599");
    let body = response.body().expect("the body is taken once");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("the stream is taken once");
    // blocking-write-and-flush takes at most 4096 bytes at a time.
    for chunk in text.as_bytes().chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            // The client left; there is no one to tell.
            return;
        }
    }
    drop(stream);
    // Fails only when the client left.
    let _ = OutgoingBody::finish(body, None);
}
