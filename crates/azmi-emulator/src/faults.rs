//! Misbehaviour on demand: each service has a queue of faults, and each
//! request it receives takes the next one (none left: it behaves). A
//! sequence such as `410,410,200` is three requests' worth.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::server::{Body, full, json};
use super::{FaultSyntaxError, Service, now, tokens};

/// The fault grammar, as messages and `--help` show it.
pub const FAULTS_SHOWN: &str = "a status such as 410 (200 means behave), STATUS:retry-after=S, delay=MS, hang, slow-body=MS, truncated, oversized=BYTES, huge-header=BYTES, malformed-json, wrong-content-type, echo, echo-mangled, expiry=integer|string|date|windows-date|expired, lifetime=S[:refresh-in=S], challenge-resource=URI; for workload-identity also the token file kubelet writes next: stale-token, malformed-token, wrong-audience, wrong-subject";

/// One request's misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally (`200` in a sequence).
    Normal,
    /// Answer with this status and the service's error body.
    Status(u16),
    /// Answer with this status and `Retry-After: <seconds>`.
    RetryAfter(u16, u64),
    /// Wait this long before the response head.
    Delay(Duration),
    /// Accept and never answer.
    Hang,
    /// Answer normally, with this pause between each 16 bytes of the body.
    SlowBody(Duration),
    /// Announce the whole body, send half, and drop the connection.
    Truncated,
    /// A 200 whose body is this many bytes.
    Oversized(usize),
    /// A 200 whose body is not JSON.
    MalformedJson,
    /// Answer normally, labelled `text/html`.
    WrongContentType,
    /// A token response with its expiry in this form.
    Expiry(ExpiryForm),
    /// A token response with this lifetime and `refresh_in`.
    Lifetime {
        /// The token's lifetime from now.
        seconds: u64,
        /// The `refresh_in` field to add, if any.
        refresh_in: Option<u64>,
    },
    /// The vault answers 401 with this `WWW-Authenticate` value.
    Challenge(String),
    /// Answer normally with an extra header of this many bytes.
    HugeHeader(usize),
    /// A hostile server: answer with this status and every request header
    /// value (credentials included) in the error message.
    Echo(u16),
    /// A hostile server that disguises what it echoes: the first half of
    /// every request header value, upper-cased, in the error code (and the
    /// inner error code), the second half, upper-cased, in the message.
    EchoMangled(u16),
    /// For `workload-identity`: what kubelet writes into the projected
    /// token file at its next rotation (the first at start), instead of a
    /// good token.
    TokenFile(super::TokenFileFault),
}

/// How a token response states its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryForm {
    /// `expires_on` and `expires_in` as JSON integers.
    Integer,
    /// As strings of digits (what IMDS sends).
    DigitString,
    /// App Service 2017 on Linux: `06/20/2019 02:57:58 +00:00`, no `expires_in`.
    LinuxDate,
    /// App Service 2017 on Windows: `1/16/2020 5:24:12 AM +00:00`.
    WindowsDate,
    /// Already expired.
    Expired,
}

impl std::str::FromStr for Fault {
    type Err = String;

    /// `200`, `<status>`, `<status>:retry-after=<s>`, `delay=<ms>`, `hang`,
    /// `slow-body=<ms>`, `truncated`, `oversized=<bytes>`,
    /// `huge-header=<bytes>`, `malformed-json`, `wrong-content-type`,
    /// `echo`, `echo-mangled`,
    /// `expiry=integer|string|date|windows-date|expired`,
    /// `lifetime=<s>[:refresh-in=<s>]`, `challenge-resource=<uri>`.
    fn from_str(spec: &str) -> Result<Fault, String> {
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("`{v}` in fault `{spec}` is not a number"))
        };
        let (name, value) = spec
            .split_once('=')
            .map_or((spec, None), |(n, v)| (n, Some(v)));
        let value = || value.ok_or_else(|| format!("fault `{spec}` needs a value"));
        Ok(match name {
            "200" => Fault::Normal,
            "stale-token" => Fault::TokenFile(super::TokenFileFault::Stale),
            "malformed-token" => Fault::TokenFile(super::TokenFileFault::Malformed),
            "wrong-audience" => Fault::TokenFile(super::TokenFileFault::WrongAudience),
            "wrong-subject" => Fault::TokenFile(super::TokenFileFault::WrongSubject),
            "hang" => Fault::Hang,
            "truncated" => Fault::Truncated,
            "malformed-json" => Fault::MalformedJson,
            "echo" => Fault::Echo(401),
            "echo-mangled" => Fault::EchoMangled(401),
            "huge-header" => {
                Fault::HugeHeader(usize::try_from(number(value()?)?).map_err(|e| e.to_string())?)
            }
            "wrong-content-type" => Fault::WrongContentType,
            "delay" => Fault::Delay(Duration::from_millis(number(value()?)?)),
            "slow-body" => Fault::SlowBody(Duration::from_millis(number(value()?)?)),
            "oversized" => {
                Fault::Oversized(usize::try_from(number(value()?)?).map_err(|e| e.to_string())?)
            }
            "expiry" => Fault::Expiry(match value()? {
                "integer" => ExpiryForm::Integer,
                "string" => ExpiryForm::DigitString,
                "date" => ExpiryForm::LinuxDate,
                "windows-date" => ExpiryForm::WindowsDate,
                "expired" => ExpiryForm::Expired,
                other => {
                    return Err(format!(
                        "`{other}` is not an expiry form (integer, string, date, windows-date, expired)"
                    ));
                }
            }),
            // A vault's challenge for another audience than its own: what a
            // fake vault harvesting tokens would send.
            "challenge-resource" => Fault::Challenge(format!(
                r#"Bearer authorization="https://login.microsoftonline.com/{}", resource="{}""#,
                super::demo::TENANT_ID,
                value()?
            )),
            "lifetime" => {
                let v = value()?;
                let (seconds, refresh) = v
                    .split_once(":refresh-in=")
                    .map_or((v, None), |(s, r)| (s, Some(r)));
                Fault::Lifetime {
                    seconds: number(seconds)?,
                    refresh_in: refresh.map(number).transpose()?,
                }
            }
            _ => match spec.split_once(":retry-after=") {
                Some((status, seconds)) => {
                    Fault::RetryAfter(status_code(status, spec)?, number(seconds)?)
                }
                None => Fault::Status(status_code(spec, spec)?),
            },
        })
    }
}

fn status_code(text: &str, spec: &str) -> Result<u16, String> {
    text.parse::<u16>()
        .ok()
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("`{spec}` is not a fault ({FAULTS_SHOWN})"))
}

/// Parses `SERVICE=FAULT[,FAULT…]`, as `azmi emulator --fault` takes it.
pub fn parse_fault_list(text: &str) -> Result<(Service, Vec<Fault>), FaultSyntaxError> {
    let (service, faults) = text.split_once('=').ok_or_else(|| {
        FaultSyntaxError(format!(
            "`{text}` is not SERVICE=FAULT[,FAULT…] (for example imds=410,410,200)"
        ))
    })?;
    let service = Service::from_name(service).ok_or_else(|| {
        let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
        FaultSyntaxError(format!(
            "`{service}` is not a service ({})",
            names.join(", ")
        ))
    })?;
    let faults = faults
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<Fault>, String>>()
        .map_err(FaultSyntaxError)?;
    if service != Service::WorkloadIdentity
        && faults.iter().any(|f| matches!(f, Fault::TokenFile(_)))
    {
        return Err(FaultSyntaxError(format!(
            "`{text}`: stale-token, malformed-token, wrong-audience and wrong-subject are faults of the workload-identity token file; give them as workload-identity=…"
        )));
    }
    Ok((service, faults))
}

/// The queues.
#[derive(Default)]
pub(super) struct Faults {
    queues: std::sync::Mutex<[VecDeque<Fault>; super::SERVICES]>,
}

impl Faults {
    pub(super) fn push(&self, service: Service, faults: impl IntoIterator<Item = Fault>) {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queues[service.index()].extend(faults);
    }

    pub(super) fn next(&self, service: Service) -> Option<Fault> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        queues[service.index()].pop_front()
    }
}

/// Answers `request` with `fault` applied; `respond` is the service's own
/// answer.
pub(super) async fn apply(
    fault: Fault,
    service: Service,
    headers: &http::HeaderMap,
    respond: impl FnOnce() -> http::Response<Body>,
) -> http::Response<Body> {
    match fault {
        // Token-file faults go to kubelet, never into a request queue.
        Fault::Normal | Fault::TokenFile(_) => respond(),
        Fault::Status(status) => error(service, status, None),
        Fault::RetryAfter(status, seconds) => error(service, status, Some(seconds)),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            respond()
        }
        Fault::Hang => std::future::pending().await,
        Fault::SlowBody(pause) => {
            let (parts, body) = respond().into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let slow = Dribble {
                rest: bytes,
                pause,
                sleep: None,
                fail_at_end: false,
            };
            http::Response::from_parts(parts, slow.boxed())
        }
        Fault::Truncated => {
            let (mut parts, body) = respond().into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, bytes.len().into());
            let half = bytes.slice(..bytes.len() / 2);
            let cut = Dribble {
                rest: half,
                pause: Duration::ZERO,
                sleep: None,
                fail_at_end: true,
            };
            http::Response::from_parts(parts, cut.boxed())
        }
        Fault::Oversized(size) => {
            let mut body = br#"{"access_token":""#.to_vec();
            body.resize(size.max(body.len()), b'a');
            http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(full(body))
                .expect("static response")
        }
        Fault::MalformedJson => http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(full("{\"access_token\": \"unterminated"))
            .expect("static response"),
        Fault::WrongContentType => {
            let mut response = respond();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/html"),
            );
            response
        }
        Fault::Expiry(form) => rewrite_token(respond(), |t| set_expiry(t, form)).await,
        Fault::Lifetime {
            seconds,
            refresh_in,
        } => {
            rewrite_token(respond(), |t| {
                let expires_on = now() + seconds;
                t["expires_on"] = json!(expires_on.to_string());
                t["expires_in"] = json!(seconds.to_string());
                if let Some(refresh_in) = refresh_in {
                    t["refresh_in"] = json!(refresh_in.to_string());
                }
            })
            .await
        }
        Fault::HugeHeader(size) => {
            let mut response = respond();
            let value = http::HeaderValue::from_str(&"x".repeat(size)).expect("ASCII header value");
            response.headers_mut().insert("x-padding", value);
            response
        }
        Fault::Echo(status) => {
            let echoed: Vec<String> = headers
                .iter()
                .map(|(name, value)| {
                    format!("{name}: {}", String::from_utf8_lossy(value.as_bytes()))
                })
                .collect();
            let message = format!("you sent {}", echoed.join("; "));
            let body = match service {
                Service::Vault | Service::ServiceFabric => {
                    json!({"error": {"code": "Echo", "message": message}})
                }
                _ => json!({"error": "echo", "error_description": message}),
            };
            json(status, &body, &[])
        }
        Fault::EchoMangled(status) => {
            let halves: Vec<(String, String)> = headers
                .values()
                .map(|value| {
                    let value = String::from_utf8_lossy(value.as_bytes()).to_ascii_uppercase();
                    let middle = value.len() / 2;
                    let middle = (middle..=value.len())
                        .find(|i| value.is_char_boundary(*i))
                        .unwrap_or(value.len());
                    (value[..middle].to_owned(), value[middle..].to_owned())
                })
                .collect();
            let code = halves
                .iter()
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let message = halves
                .iter()
                .map(|(_, b)| b.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let body = match service {
                Service::Vault | Service::ServiceFabric => json!({"error": {
                    "code": code, "message": message, "innererror": {"code": code}
                }}),
                _ => json!({"error": code, "error_description": message}),
            };
            json(status, &body, &[])
        }
        Fault::Challenge(header) => json(
            401,
            &json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
            &[("www-authenticate", header)],
        ),
    }
}

fn error(service: Service, status: u16, retry_after: Option<u64>) -> http::Response<Body> {
    let body = match service {
        Service::Vault | Service::ServiceFabric => {
            json!({"error": {"code": "InjectedFault", "message": format!("the emulator was told to answer {status}")}})
        }
        _ => {
            json!({"error": "injected_fault", "error_description": format!("the emulator was told to answer {status}")})
        }
    };
    let headers: Vec<(&str, String)> = retry_after
        .map(|s| ("retry-after", s.to_string()))
        .into_iter()
        .collect();
    json(status, &body, &headers)
}

async fn rewrite_token(
    response: http::Response<Body>,
    change: impl FnOnce(&mut Value),
) -> http::Response<Body> {
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Ok(mut token) = serde_json::from_slice::<Value>(&bytes) else {
        return http::Response::from_parts(parts, full(bytes));
    };
    if token.get("access_token").is_some() {
        change(&mut token);
    }
    let mut response = http::Response::from_parts(parts, full(token.to_string()));
    response.headers_mut().remove(http::header::CONTENT_LENGTH);
    response
}

fn set_expiry(token: &mut Value, form: ExpiryForm) {
    let lifetime = 86_399u64;
    let expires_on = now() + lifetime;
    match form {
        ExpiryForm::Integer => {
            token["expires_on"] = json!(expires_on);
            token["expires_in"] = json!(lifetime);
        }
        ExpiryForm::DigitString => {
            token["expires_on"] = json!(expires_on.to_string());
            token["expires_in"] = json!(lifetime.to_string());
        }
        ExpiryForm::LinuxDate => {
            token["expires_on"] = json!(tokens::us_date(expires_on));
            remove(token, "expires_in");
        }
        ExpiryForm::WindowsDate => {
            token["expires_on"] = json!(tokens::windows_date(expires_on));
            remove(token, "expires_in");
        }
        ExpiryForm::Expired => {
            token["expires_on"] = json!((now() - 60).to_string());
            token["expires_in"] = json!("0");
        }
    }
}

fn remove(token: &mut Value, key: &str) {
    if let Some(map) = token.as_object_mut() {
        map.remove(key);
    }
}

/// A body sent 16 bytes at a time with a pause between, or sent in part
/// and then failed (which makes hyper drop the connection).
struct Dribble {
    rest: Bytes,
    pause: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    fail_at_end: bool,
}

impl http_body::Body for Dribble {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = &mut *self;
        if this.rest.is_empty() {
            if std::mem::take(&mut this.fail_at_end) {
                return Poll::Ready(Some(Err(std::io::Error::other("truncated on purpose"))));
            }
            return Poll::Ready(None);
        }
        if let Some(sleep) = this.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_pending()
        {
            return Poll::Pending;
        }
        this.sleep = (!this.pause.is_zero()).then(|| Box::pin(tokio::time::sleep(this.pause)));
        let size = if this.pause.is_zero() {
            this.rest.len()
        } else {
            16.min(this.rest.len())
        };
        Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(size)))))
    }
}

#[cfg(test)]
mod tests;
