//! The broker's answers: which tenant a request is, what its grant lets
//! it have, and the reply in the protocol it spoke. One `Credential` per
//! tenant, all on one `Runtime`, so every tenant shares the runtime's
//! token cache and its gate in front of the identity endpoint.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use azmi::{Credential, Error, GrantRule, Identity, Runtime};
use http::{HeaderMap, Method, Uri};

use super::config;
use super::protocol::{self, APP_SERVICE_API_VERSION, Route, TokenQuery};

/// One tenant: who it is, how it is recognised, what it may have.
pub(crate) struct Tenant {
    pub(crate) name: String,
    /// The SHA-256 of its key; `None` for the anonymous tenant.
    key_digest: Option<[u8; 32]>,
    /// Where the key was read (shown to the operator; the key never is).
    pub(crate) key_file: Option<std::path::PathBuf>,
    pub(crate) credential: Credential,
    default_identity: Identity,
    /// Token requests answered, by status.
    pub(crate) answered: Mutex<BTreeMap<u16, u64>>,
}

impl Tenant {
    pub(crate) fn new(
        name: &str,
        key: Option<([u8; 32], std::path::PathBuf)>,
        credential: Credential,
    ) -> Tenant {
        let (key_digest, key_file) = key.unzip();
        let default_identity = credential
            .config()
            .grant()
            .map_or(Identity::SystemAssigned, |g| g.default_identity().clone());
        Tenant {
            name: name.to_owned(),
            key_digest,
            key_file,
            credential,
            default_identity,
            answered: Mutex::default(),
        }
    }
}

/// A reply, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) content_type: &'static str,
    pub(crate) retry_after: Option<u64>,
}

const JSON: &str = "application/json; charset=utf-8";

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            body,
            content_type: JSON,
            retry_after: None,
        }
    }
}

/// Why a request was refused before a tenant was known (metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Refused {
    Method,
    NotFound,
    Forwarded,
    MetadataHeader,
    Query,
    NoAnonymous,
    Key,
    ApiVersion,
    Host,
}

impl Refused {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refused::Method => "method",
            Refused::NotFound => "not_found",
            Refused::Forwarded => "x_forwarded_for",
            Refused::MetadataHeader => "metadata_header",
            Refused::Query => "query",
            Refused::NoAnonymous => "no_anonymous_tenant",
            Refused::Key => "identity_header",
            Refused::ApiVersion => "api_version",
            Refused::Host => "host",
        }
    }
}

/// The protocol a token request spoke, which decides its refusals' shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Imds,
    AppService,
}

impl Protocol {
    fn refuse(self, status: u16, error: &str, description: &str) -> Reply {
        Reply::json(
            status,
            match self {
                Protocol::Imds => protocol::imds_error(error, description),
                Protocol::AppService => protocol::app_service_error(status, description),
            },
        )
    }
}

/// Every tenant, and the counts that belong to none.
pub(crate) struct Broker {
    pub(crate) runtime: Runtime,
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) anonymous: Option<Tenant>,
    pub(crate) refused: Mutex<BTreeMap<Refused, u64>>,
}

impl Broker {
    /// The reply to one request.
    pub(crate) async fn answer(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Reply {
        let route = protocol::route(uri.path());
        if method != Method::GET {
            return self.refused(
                Refused::Method,
                Reply::json(
                    405,
                    protocol::imds_error("invalid_request", "only GET is served"),
                ),
            );
        }
        let protocol = match route {
            Route::Imds => Protocol::Imds,
            Route::AppService => Protocol::AppService,
            Route::Health => return self.health(),
            Route::Metrics => {
                return Reply {
                    status: 200,
                    body: super::metrics::render(self),
                    content_type: "text/plain; version=0.0.4; charset=utf-8",
                    retry_after: None,
                };
            }
            Route::Unknown => {
                return self.refused(
                    Refused::NotFound,
                    Reply::json(404, protocol::imds_error("not_found", "no such path")),
                );
            }
        };
        // A browser page whose name was rebound to 127.0.0.1 is
        // same-origin with the broker and could set `Metadata` itself: only
        // requests addressed to a loopback name are served.
        if !addressed_to_loopback(uri, headers) {
            return self.refused(
                Refused::Host,
                protocol.refuse(
                    400,
                    "invalid_request",
                    "the request is not addressed to this machine's loopback (Host: localhost, 127.0.0.1 or [::1])",
                ),
            );
        }
        // IMDS refuses what a proxy forwards: a request that came through
        // one is not from a process on this machine.
        if headers.contains_key("x-forwarded-for") {
            return self.refused(
                Refused::Forwarded,
                protocol.refuse(
                    400,
                    "invalid_request",
                    "requests forwarded by a proxy (X-Forwarded-For) are not served",
                ),
            );
        }
        // One value each: a request that says two things is refused, not
        // read by its first.
        for name in ["metadata", "x-identity-header"] {
            if headers.get_all(name).iter().count() > 1 {
                return self.refused(
                    Refused::Query,
                    protocol.refuse(
                        400,
                        "invalid_request",
                        &format!("the request has more than one {name} header"),
                    ),
                );
            }
        }
        let (tenant, query) = match self.admit(protocol, uri, headers) {
            Ok(admitted) => admitted,
            Err((reason, reply)) => return self.refused(reason, reply),
        };
        let reply = self.token(protocol, tenant, query).await;
        *tenant
            .answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reply.status)
            .or_default() += 1;
        reply
    }

    /// The tenant a token request is from, and what it asks; or its refusal.
    fn admit(
        &self,
        protocol: Protocol,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(&Tenant, TokenQuery), (Refused, Reply)> {
        let query = protocol::parse_query(uri.query().unwrap_or("")).map_err(|why| {
            (
                Refused::Query,
                protocol.refuse(400, "invalid_request", &why),
            )
        })?;
        let tenant = match protocol {
            Protocol::Imds => {
                let metadata = headers
                    .get("metadata")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
                if !metadata {
                    return Err((
                        Refused::MetadataHeader,
                        protocol.refuse(
                            400,
                            "invalid_request",
                            "Required metadata header not specified",
                        ),
                    ));
                }
                self.anonymous.as_ref().ok_or((
                    Refused::NoAnonymous,
                    protocol.refuse(400, "invalid_request", "Identity not found"),
                ))?
            }
            Protocol::AppService => {
                let refusal = || {
                    (
                        Refused::Key,
                        protocol.refuse(401, "", "The X-IDENTITY-HEADER is missing or wrong"),
                    )
                };
                let key = headers.get("x-identity-header").ok_or_else(refusal)?;
                self.tenant_by_key(key.as_bytes()).ok_or_else(refusal)?
            }
        };
        let Some(version) = query.api_version.as_deref().filter(|v| !v.is_empty()) else {
            return Err((
                Refused::ApiVersion,
                protocol.refuse(
                    400,
                    "invalid_request",
                    "Required query variable 'api-version' is missing",
                ),
            ));
        };
        if protocol == Protocol::AppService && version != APP_SERVICE_API_VERSION {
            return Err((
                Refused::ApiVersion,
                protocol.refuse(
                    400,
                    "invalid_request",
                    &format!(
                        "api-version {} is not served here; use {APP_SERVICE_API_VERSION}",
                        protocol::shown(version)
                    ),
                ),
            ));
        }
        Ok((tenant, query))
    }

    /// The tenant whose key digest is `presented`'s, compared with every
    /// tenant's in constant time (digests, so not even the length leaks).
    fn tenant_by_key(&self, presented: &[u8]) -> Option<&Tenant> {
        let digest = config::digest(presented.trim_ascii());
        let mut found = None;
        for tenant in &self.tenants {
            if let Some(key) = &tenant.key_digest
                && constant_time_eq(key, &digest)
            {
                found = Some(tenant);
            }
        }
        found
    }

    async fn token(&self, protocol: Protocol, tenant: &Tenant, query: TokenQuery) -> Reply {
        let Some(resource) = query.resource.filter(|r| !r.is_empty()) else {
            return protocol.refuse(
                400,
                "invalid_request",
                "Required audience parameter not specified",
            );
        };
        let identity = query
            .identity
            .unwrap_or_else(|| tenant.default_identity.clone());
        // On a task of its own: when the client that asked first goes
        // away, the fetch the others wait for goes on (the library bounds
        // it by the configured timeout).
        let credential = tenant.credential.clone();
        let asked = resource.clone();
        let fetched = tokio::spawn(async move { credential.get_token(&asked, &identity).await })
            .await
            .unwrap_or_else(|e| Err(Error::Other(format!("the token fetch failed: {e}"))));
        match fetched {
            Ok(token) => {
                tracing::debug!(target: "azmi::serve", "tenant {}: a token for {}", tenant.name, protocol::shown(&resource));
                Reply::json(200, protocol::token_body(&token, crate::output::now()))
            }
            Err(error) => {
                tracing::debug!(target: "azmi::serve", "tenant {}: refused a token for {}: {error}", tenant.name, protocol::shown(&resource));
                let failure = failure(&error);
                Reply {
                    retry_after: failure.retry_after,
                    ..protocol.refuse(failure.status, &failure.error, &failure.description)
                }
            }
        }
    }

    fn health(&self) -> Reply {
        let reachable = self.runtime.upstream_stats().reachable;
        let (status, upstream) = match reachable {
            Some(false) => (503, "unreachable"),
            Some(true) => (200, "reachable"),
            None => (200, "not asked yet"),
        };
        Reply::json(
            status,
            serde_json::json!({ "upstream": upstream }).to_string(),
        )
    }

    fn refused(&self, reason: Refused, reply: Reply) -> Reply {
        tracing::debug!(target: "azmi::serve", "refused ({}): {}", reason.label(), reply.status);
        *self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
        reply
    }
}

/// Whether the request names a loopback host: the absolute-form URI's
/// authority if it has one, else `Host` (required, and only one).
fn addressed_to_loopback(uri: &Uri, headers: &HeaderMap) -> bool {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = match (uri.authority(), hosts.next(), hosts.next()) {
        (Some(authority), _, _) => authority.host().to_owned(),
        (None, Some(host), None) => match host.to_str() {
            Ok(text) => match text.parse::<http::uri::Authority>() {
                Ok(authority) => authority.host().to_owned(),
                Err(_) => return false,
            },
            Err(_) => return false,
        },
        _ => return false,
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// How a failed token request is answered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) error: String,
    pub(crate) description: String,
    pub(crate) retry_after: Option<u64>,
}

/// The answer to a failed `get_token`. What the caller may fix is a 400
/// (an identity it may not use is IMDS's own `Identity not found`, which
/// credential chains take as "not available here"); what the identity
/// endpoint said keeps its status where SDKs retry it (429, 410, 5xx);
/// what went wrong between the broker and its upstream is a 502, or a
/// 504 for a deadline.
pub(crate) fn failure(error: &Error) -> Failure {
    let said = |status: u16, error: &str, description: String| Failure {
        status,
        error: error.to_owned(),
        description,
        retry_after: None,
    };
    match error {
        Error::NotFound(_) => said(400, "invalid_request", "Identity not found".into()),
        Error::Denied(message) => match error.denied_by() {
            Some(GrantRule::Identities) => {
                said(400, "invalid_request", "Identity not found".into())
            }
            Some(GrantRule::Budget) => Failure {
                retry_after: Some(1),
                ..said(429, "too_many_requests", message.clone())
            },
            Some(_) => said(400, "invalid_request", message.clone()),
            None => said(502, "bad_gateway", error.to_string()),
        },
        Error::InvalidArgument(message) => said(400, "invalid_request", message.clone()),
        Error::Service(e) if e.status == 429 => Failure {
            retry_after: Some(5),
            ..said(429, "too_many_requests", error.to_string())
        },
        Error::Service(e) if matches!(e.status, 400 | 404 | 410 | 500..=599) => said(
            e.status,
            if e.code.is_empty() {
                "service_error"
            } else {
                &e.code
            },
            error.to_string(),
        ),
        Error::Timeout(_) => said(504, "gateway_timeout", error.to_string()),
        _ => said(502, "bad_gateway", error.to_string()),
    }
}

#[cfg(test)]
mod tests;
