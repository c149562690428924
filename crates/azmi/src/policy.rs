//! The egress policy: which destinations the component may send requests
//! to. It is data, parsed and validated once, and consulted at exactly one
//! place (`egress::EgressHooks::send_request`) for every request.
//!
//! A request is allowed when its scheme, host, port and path match a rule
//! exactly; everything else is denied before any DNS lookup or connection.
//! The addresses an allowed host resolves to are then checked again
//! (`AddressRule`, over `azmi_core::address`): an identity endpoint's
//! literal address must be on this machine or its link, `localhost` must
//! resolve to loopback, and vaults must be public, unless an operator
//! pinned a vault's address with `connect-to`.

use std::fmt;
use std::net::IpAddr;

use azmi_core::address;
use azmi_core::authority::Authority;

/// The path of the managed-identity token endpoint below an IMDS base URL.
pub(crate) const IMDS_TOKEN_PATH: &str = "/metadata/identity/oauth2/token";

/// What a destination is, which decides the address rule and size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationKind {
    /// A managed-identity token endpoint (IMDS and the like).
    IdentityEndpoint,
    /// An Azure Key Vault.
    Vault,
}

pub(crate) use azmi_core::authority::{Scheme, ip_literal};

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
        } = self;
        write!(f, "{method} {}://{host}:{port}{path}", scheme.as_str())?;
        if let TlsTrust::Pinned(_) = trust {
            f.write_str(" (certificate pinned by thumbprint)")?;
        }
        Ok(())
    }
}

/// `HOST:PORT:ADDR:PORT2`, as curl's `--connect-to`: a request for
/// HOST:PORT connects to ADDR:PORT2 instead. TLS still verifies HOST. The
/// operator chose ADDR, so its address class is not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) target_host: String,
    pub(crate) target_port: u16,
}

impl ConnectTo {
    /// A pin of `host:port` to `target_host:target_port`, checked as the
    /// `HOST:PORT:ADDR:PORT2` text is (hosts normalized, ports 1-65535).
    ///
    /// # Errors
    /// `Error::Config` naming the part that is not valid.
    pub fn new(
        host: &str,
        port: u16,
        target_host: &str,
        target_port: u16,
    ) -> Result<ConnectTo, crate::Error> {
        format!(
            "{}:{port}:{}:{target_port}",
            bracket(host),
            bracket(target_host)
        )
        .parse()
        .map_err(crate::Error::Config)
    }

    /// The host:port whose requests are pinned.
    pub fn host(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// Where they connect instead.
    pub fn target(&self) -> (&str, u16) {
        (&self.target_host, self.target_port)
    }
}

/// An IPv6 address in brackets, anything else as it is.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    fn from_str(s: &str) -> Result<ConnectTo, String> {
        let usage = || {
            format!(
                "`{s}` is not HOST:PORT:ADDR:PORT2 (for example myvault.vault.azure.net:443:127.0.0.1:8443; IPv6 in brackets)"
            )
        };
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let (part, after) = if let Some(v6) = rest.strip_prefix('[') {
                let end = v6.find(']').ok_or_else(usage)?;
                (&rest[..end + 2], &v6[end + 1..])
            } else {
                match rest.find(':') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                }
            };
            parts.push(part);
            rest = match after.strip_prefix(':') {
                Some(r) if !r.is_empty() => r,
                Some(_) => return Err(usage()),
                None if after.is_empty() => "",
                None => return Err(usage()),
            };
        }
        let [host, port, target_host, target_port] = parts[..] else {
            return Err(usage());
        };
        let port_of = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(usage);
        Ok(ConnectTo {
            host: normalize_host(host).map_err(|why| format!("{}: {why}", usage()))?,
            port: port_of(port)?,
            target_host: normalize_host(target_host)
                .map_err(|why| format!("{}: {why}", usage()))?,
            target_port: port_of(target_port)?,
        })
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.host, self.port, self.target_host, self.target_port
        )
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
}

impl Destination {
    /// Which addresses this destination may be connected to.
    pub(crate) fn address_rule(&self) -> AddressRule {
        match (self.kind, ip_literal(&self.host)) {
            (DestinationKind::IdentityEndpoint, Some(_)) => AddressRule::IdentityEndpoint,
            // The configuration admits one name for identity endpoints.
            (DestinationKind::IdentityEndpoint, None) => AddressRule::Localhost,
            (DestinationKind::Vault, _) => AddressRule::Vault,
        }
    }
}

/// The address check of a destination that was not pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressRule {
    /// A literal identity endpoint: on this machine or its link, strictly.
    IdentityEndpoint,
    /// `localhost`: loopback only.
    Localhost,
    /// A vault: public unicast only.
    Vault,
}

impl AddressRule {
    pub(crate) fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressRule::IdentityEndpoint => address::identity_endpoint_allows(ip),
            AddressRule::Localhost => address::localhost_allows(ip),
            AddressRule::Vault => address::vault_allows(ip),
        }
    }

    /// The rule, for a refusal's message.
    pub(crate) fn explain(self) -> &'static str {
        match self {
            AddressRule::IdentityEndpoint => {
                "identity endpoints must be on this machine (127.0.0.0/8, ::1) or its link (169.254.0.0/16, fe80::/10); NAT64, 6to4 and IPv4-compatible IPv6 addresses leave the machine"
            }
            AddressRule::Localhost => {
                "localhost must resolve to a loopback address (127.0.0.0/8 or ::1); a link-local answer would be another machine"
            }
            AddressRule::Vault => {
                "vaults must resolve to public addresses (pin a private endpoint or an emulator with --connect-to)"
            }
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
        let (kind, trust) = if let Some(rule) = endpoint {
            (DestinationKind::IdentityEndpoint, rule.trust)
        } else if method == http::Method::GET
            && scheme == Scheme::Https
            && port == 443
            && vaults.contains(&host)
            && azmi_core::vault::is_secret_request(path, uri.query())
        {
            (DestinationKind::Vault, TlsTrust::WebPki)
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

/// A value as a message quotes it: bounded, no control characters.
fn shown(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
