//! The yardstick for `azmi token`: the same IMDS request and the same JSON
//! on stdout from a plain native program (hyper on a current-thread tokio
//! runtime), with no sandbox, no cache and no policy. `process-compare`
//! runs it beside `azmi token` and curl; it is not a tool to use.
//!
//! `native-token --imds-endpoint http://127.0.0.1:PORT --resource URI`

use std::process::ExitCode;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// The whole request's deadline, as `azmi token`'s default is a deadline.
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let mut endpoint = None;
    let mut resource = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--imds-endpoint" => endpoint = args.next(),
            "--resource" => resource = args.next(),
            other => return fail(&format!("unknown argument {other}")),
        }
    }
    let (Some(endpoint), Some(resource)) = (endpoint, resource) else {
        return fail("usage: native-token --imds-endpoint URL --resource URI");
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start tokio: {e}")),
    };
    match runtime
        .block_on(async { tokio::time::timeout(TIMEOUT, token(&endpoint, &resource)).await })
    {
        Ok(Ok(json)) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => fail(&e),
        Err(_) => fail("no token within 10 s"),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("native-token: {message}");
    ExitCode::FAILURE
}

/// One IMDS token request, answered as `azmi token` answers.
async fn token(endpoint: &str, resource: &str) -> Result<serde_json::Value, String> {
    let authority = endpoint
        .strip_prefix("http://")
        .ok_or("the endpoint must be http://host:port")?
        .trim_end_matches('/');
    let tcp = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(connection);
    let request = hyper::Request::get(format!(
        "/metadata/identity/oauth2/token?api-version=2018-02-01&resource={}",
        percent_encode(resource)
    ))
    .header("Host", authority)
    .header("Metadata", "true")
    .body(Empty::<Bytes>::new())
    .map_err(|e| format!("the request: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the request failed: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("IMDS answered {status}"));
    }
    let answer: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("the response is not JSON: {e}"))?;
    let field = |name: &str| answer.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let access_token = field("access_token").ok_or("no access_token in the response")?;
    let expires_on: u64 = field("expires_on")
        .and_then(|v| v.parse().ok())
        .ok_or("no expires_on in the response")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(serde_json::json!({
        "access_token": access_token,
        "token_type": field("token_type").unwrap_or_else(|| "Bearer".into()),
        "resource": field("resource").unwrap_or_else(|| resource.to_owned()),
        "expires_on": expires_on,
        "expires_in": expires_on.saturating_sub(now),
    }))
}

/// The query-value encoding IMDS expects of a resource URI.
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
