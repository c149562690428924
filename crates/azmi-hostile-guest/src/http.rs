//! A bare wasi:http request: whatever the host allows, it gets; the tests
//! check what that is.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

/// GETs `url` (`http(s)://authority/path`), optionally with a `Host`
/// header; `Ok` carries the status, `Err` the host's refusal.
pub(crate) fn get(url: &str, host_header: Option<&str>) -> Result<String, String> {
    send(url, &Method::Get, host_header)
}

/// Sends `method` to `url` with no body, as `get` does.
pub(crate) fn send(
    url: &str,
    method: &Method,
    host_header: Option<&str>,
) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let headers = Fields::new();
    if let Some(host) = host_header {
        headers
            .append("host", host.as_bytes())
            .map_err(|e| format!("header refused: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    request.set_method(method).map_err(|()| "method refused")?;
    let scheme = if scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| "scheme refused")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| format!("authority `{authority}` refused"))?;
    request
        .set_path_with_query(Some(if path.is_empty() { "/" } else { path }))
        .map_err(|()| "path refused")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    loop {
        match pending.get() {
            Some(Ok(Ok(response))) => return Ok(format!("status {}", response.status())),
            Some(Ok(Err(code))) => return Err(format!("{code:?}")),
            Some(Err(())) => return Err("taken twice".into()),
            None => pending.subscribe().block(),
        }
    }
}

/// Makes the host hold `count` resources of kind `what` (`fields`,
/// `requests`, `bodies`), each with `bytes` of data, all kept alive until
/// the call ends. Returns only if the host never refused.
pub(crate) fn hold(what: &str, count: usize, bytes: usize) -> Result<String, String> {
    let value = vec![b'a'; bytes];
    let path = format!("/{}", "a".repeat(bytes.saturating_sub(1)));
    let mut held_fields = Vec::new();
    let mut held_requests = Vec::new();
    let mut held_bodies = Vec::new();
    for i in 0..count {
        match what {
            "fields" => held_fields.push(
                Fields::from_list(&[("x-padding".to_owned(), value.clone())])
                    .map_err(|e| format!("header set {i} refused: {e:?}"))?,
            ),
            "requests" => {
                let request = OutgoingRequest::new(Fields::new());
                request
                    .set_path_with_query(Some(&path))
                    .map_err(|()| format!("path of request {i} refused"))?;
                held_requests.push(request);
            }
            _ => {
                let request = OutgoingRequest::new(Fields::new());
                let body: OutgoingBody =
                    request.body().map_err(|()| format!("body {i} refused"))?;
                let stream = body
                    .write()
                    .map_err(|()| format!("body {i} not writable"))?;
                let mut written = 0;
                while written < bytes {
                    let permitted = stream
                        .check_write()
                        .map_err(|e| format!("body {i}: {e:?}"))?;
                    if permitted == 0 {
                        break;
                    }
                    let n = (bytes - written).min(permitted as usize);
                    stream
                        .write(&value[..n])
                        .map_err(|e| format!("body {i}: {e:?}"))?;
                    written += n;
                }
                // Children first when dropped: the stream, then its body.
                held_bodies.push((stream, body, request, written));
            }
        }
    }
    let buffered: usize = held_bodies.iter().map(|(.., w)| w).sum();
    Ok(format!(
        "held {} header sets, {} requests and {} bodies ({buffered} bytes buffered) without being refused",
        held_fields.len(),
        held_requests.len(),
        held_bodies.len()
    ))
}
