//! A bare wasi:http GET: whatever the host allows, it gets; the tests
//! check what that is.

use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};

/// GETs `url` (`http(s)://authority/path`), optionally with a `Host`
/// header; `Ok` carries the status, `Err` the host's refusal.
pub(crate) fn get(url: &str, host_header: Option<&str>) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let headers = Fields::new();
    if let Some(host) = host_header {
        headers
            .append("host", host.as_bytes())
            .map_err(|e| format!("header refused: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    request
        .set_method(&Method::Get)
        .map_err(|()| "method refused")?;
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
