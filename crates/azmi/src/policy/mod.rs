//! The egress policy: which destinations the component may send requests
//! to. It is data, parsed and validated once, and consulted at exactly one
//! place (`egress::EgressHooks::send_request`) for every request.
//!
//! A request is allowed when its scheme, host, port and path match a rule
//! exactly; everything else is denied before any DNS lookup or connection.
//! The addresses an allowed host resolves to are then checked again
//! (`AddressRule`, over `azmi_core::address`): an identity endpoint's
//! literal address must be on this machine or its link, `localhost` must
//! resolve to loopback, and vaults and Entra (workload identity) must be
//! public, unless an operator pinned the address with `connect-to`.

use std::fmt;

use azmi_core::authority::{Authority, shown};

pub(crate) use azmi_core::IMDS_TOKEN_PATH;

/// What a destination is, which decides the address rule and size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    /// A managed-identity token endpoint (IMDS and the like).
    IdentityEndpoint,
    /// An Azure Key Vault.
    Vault,
}

mod address;
mod connect_to;
pub(crate) mod rules;

pub(crate) use address::AddressRule;
pub(crate) use azmi_core::authority::{Scheme, ip_literal};
pub use connect_to::ConnectTo;

/// A SHA-1 certificate thumbprint, for Service Fabric's self-signed
/// endpoint.
pub(crate) type Thumbprint = [u8; 20];

/// How an https connection is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TlsTrust {
    /// The certificate chains to a trusted root and names the host.
    WebPki,
    /// The leaf certificate has exactly this SHA-1 thumbprint.
    Pinned(Thumbprint),
}

/// Where an identity endpoint is, which decides the addresses it may
/// resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Reach {
    /// A managed-identity endpoint: on this machine or its link.
    Local,
    /// Microsoft Entra (workload identity): public addresses only, unless
    /// an operator pinned it.
    Internet,
}

/// One allowed identity endpoint: exactly this method, scheme, host, port
/// and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointRule {
    pub(crate) method: http::Method,
    pub(crate) scheme: Scheme,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) trust: TlsTrust,
    pub(crate) reach: Reach,
}

impl fmt::Display for EndpointRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let EndpointRule {
            method,
            scheme,
            host,
            port,
            path,
            trust,
            reach: _,
        } = self;
        write!(f, "{method} {}://{host}:{port}{path}", scheme.as_str())?;
        if let TlsTrust::Pinned(_) = trust {
            f.write_str(" (certificate pinned by thumbprint)")?;
        }
        Ok(())
    }
}

/// A request the policy allowed, with where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Destination {
    pub(crate) kind: DestinationKind,
    pub(crate) scheme: Scheme,
    /// Lower-case; IPv6 literals in brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Set when an operator pinned this host:port with `connect-to`.
    pub(crate) pinned: Option<(String, u16)>,
    /// How TLS is authenticated, for https.
    pub(crate) trust: TlsTrust,
    /// Where an identity endpoint is (`Reach::Internet` for vaults).
    pub(crate) reach: Reach,
}

impl Destination {
    /// Which addresses this destination may be connected to.
    pub(crate) fn address_rule(&self) -> AddressRule {
        match (self.kind, self.reach, ip_literal(&self.host)) {
            (DestinationKind::IdentityEndpoint, Reach::Internet, _) => AddressRule::Authority,
            (DestinationKind::IdentityEndpoint, Reach::Local, Some(_)) => {
                AddressRule::IdentityEndpoint
            }
            // The configuration admits one name for local identity endpoints.
            (DestinationKind::IdentityEndpoint, Reach::Local, None) => AddressRule::Localhost,
            (DestinationKind::Vault, _, _) => AddressRule::Vault,
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// The allow-list. `Default` allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EgressPolicy {
    pub(crate) identity_endpoints: Vec<EndpointRule>,
    /// Vault host names, lower-case; always https on 443 under `/secrets/`.
    pub(crate) vaults: Vec<String>,
    pub(crate) connect_to: Vec<ConnectTo>,
}

impl EgressPolicy {
    /// Decides on a request's method and URI. Only those are looked at:
    /// nothing is resolved or connected here.
    pub(crate) fn check(
        &self,
        method: &http::Method,
        uri: &http::Uri,
    ) -> Result<Destination, String> {
        let EgressPolicy {
            identity_endpoints,
            vaults,
            connect_to,
        } = self;
        let scheme = match uri.scheme_str() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            other => return Err(format!("scheme {other:?} is not http or https")),
        };
        let authority = uri.authority().ok_or("the request has no host")?.as_str();
        let (host, port) = split_authority(authority, scheme)?;
        let path = uri.path();
        let shown = format!("{method} {}://{host}:{port}{path}", scheme.as_str());

        let endpoint = identity_endpoints.iter().find(|r| {
            r.method == method
                && r.scheme == scheme
                && r.host == host
                && r.port == port
                && r.path == path
        });
        let (kind, trust, reach) = if let Some(rule) = endpoint {
            (DestinationKind::IdentityEndpoint, rule.trust, rule.reach)
        } else if method == http::Method::GET
            && scheme == Scheme::Https
            && port == 443
            && vaults.contains(&host)
            && azmi_core::vault::is_secret_request(path, uri.query())
        {
            (DestinationKind::Vault, TlsTrust::WebPki, Reach::Internet)
        } else {
            return Err(format!(
                "{shown} is not on the egress allow-list ({})",
                self.describe()
            ));
        };
        let pinned = connect_to
            .iter()
            .find(|c| c.host == host && c.port == port)
            .map(|c| (c.target_host.clone(), c.target_port));
        Ok(Destination {
            kind,
            scheme,
            host,
            port,
            pinned,
            trust,
            reach,
        })
    }

    /// The allow-list in one line, for messages.
    pub(crate) fn describe(&self) -> String {
        let mut allowed: Vec<String> = self
            .identity_endpoints
            .iter()
            .map(|r| format!("identity endpoint {r}"))
            .collect();
        allowed.extend(
            self.vaults
                .iter()
                .map(|v| format!("vault GET https://{v}:443/secrets/<name>[/<version>]")),
        );
        if allowed.is_empty() {
            "nothing is allowed".into()
        } else {
            format!("allowed: {}", allowed.join(", "))
        }
    }
}

/// Splits `host[:port]` strictly (`azmi_core::authority`, the parser the
/// component uses too) into the lower-case host (IPv6 in brackets) and the
/// effective port.
pub(crate) fn split_authority(authority: &str, scheme: Scheme) -> Result<(String, u16), String> {
    let parsed = Authority::parse(authority)
        .map_err(|why| format!("authority `{}` {why}", shown(authority)))?;
    let port = parsed.port_or_default(scheme);
    Ok((parsed.host, port))
}

/// Lower-cases a host (no port) and checks it as `split_authority` does.
pub(crate) fn normalize_host(host: &str) -> Result<String, String> {
    match Authority::parse(host) {
        Ok(Authority { host, port: None }) => Ok(host),
        Ok(_) => Err(format!(
            "`{}` is a host and a port, not a host",
            shown(host)
        )),
        Err(why) => Err(format!("host `{}` {why}", shown(host))),
    }
}

#[cfg(test)]
mod tests;
