//! The one strict parser of `host[:port]` and the `http`/`https` schemes,
//! for the component that builds requests and the host that allows them:
//! both read an authority the same way, so nothing the component can spell
//! means one thing to one side and another to the other.
//!
//! Strict on purpose: anything unusual in an authority (user information,
//! backslashes, empty or out-of-range ports, trailing dots, odd IPv6
//! spellings) is how URL confusion attacks start, and none of it is needed
//! to reach an identity endpoint or a vault. Hosts come out lower-case, and
//! IPv6 literals in brackets in their canonical form (`[::1]`, never
//! `[0::1]`). IPv4 is an IP literal only in its canonical dotted form:
//! `2130706433`, `0x7f.1` or `127.1` are names, which no rule allows.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (identity endpoints on this machine).
    Http,
    /// HTTP over TLS (vaults, Service Fabric).
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// The scheme named `name`, in any case.
    pub fn parse(name: &str) -> Option<Scheme> {
        if name.eq_ignore_ascii_case("http") {
            Some(Scheme::Http)
        } else if name.eq_ignore_ascii_case("https") {
            Some(Scheme::Https)
        } else {
            None
        }
    }
}

/// A parsed `host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    /// Lower-case; an IPv6 literal in brackets, canonical.
    pub host: String,
    /// The port, when one was written.
    pub port: Option<u16>,
}

/// Why an authority was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityError {
    /// Nothing before the port.
    NoHost,
    /// `user@host`.
    UserInfo,
    /// `[` without `]`.
    Unterminated,
    /// What is in the brackets is not an IPv6 address.
    BadIpv6(String),
    /// Something other than `:port` after `]`.
    JunkAfterBracket,
    /// The port is empty, not a number, 0 or above 65535.
    BadPort(String),
    /// The host ends with a dot.
    TrailingDot(String),
    /// The host is not a DNS name of letters, digits, hyphens and dots.
    BadHost(String),
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthorityError::NoHost => f.write_str("has no host"),
            AuthorityError::UserInfo => f.write_str("has user information before the host"),
            AuthorityError::Unterminated => f.write_str("has an unterminated `[`"),
            AuthorityError::BadIpv6(a) => write!(f, "has an invalid IPv6 address `{a}`"),
            AuthorityError::JunkAfterBracket => f.write_str("has junk after `]`"),
            AuthorityError::BadPort(p) => write!(f, "has an invalid port `{p}` (1-65535)"),
            AuthorityError::TrailingDot(h) => {
                write!(f, "has host `{h}`, which ends with a dot; remove it")
            }
            AuthorityError::BadHost(h) => write!(
                f,
                "has host `{h}`, which is not a valid DNS name or IP address (letters, digits, hyphens and dots)"
            ),
        }
    }
}

impl Authority {
    /// Parses `host[:port]` strictly (see the module documentation).
    pub fn parse(authority: &str) -> Result<Authority, AuthorityError> {
        if authority.contains('@') {
            return Err(AuthorityError::UserInfo);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (address, after) = v6.split_once(']').ok_or(AuthorityError::Unterminated)?;
            let ip: Ipv6Addr = address
                .parse()
                .map_err(|_| AuthorityError::BadIpv6(shown(address)))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or(AuthorityError::JunkAfterBracket)?,
                ),
            };
            (format!("[{ip}]"), port)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            (normalize_name(host)?, port)
        };
        Ok(Authority {
            host,
            port: port.map(parse_port).transpose()?,
        })
    }

    /// The port, or `scheme`'s default.
    pub fn port_or_default(&self, scheme: Scheme) -> u16 {
        self.port.unwrap_or(scheme.default_port())
    }
}

/// `host` lower-cased, if it is a DNS name of letters, digits and hyphens
/// (labels of 1-63, neither starting nor ending with a hyphen, 253 in all,
/// no trailing dot) or a dotted IPv4 address.
pub fn normalize_name(host: &str) -> Result<String, AuthorityError> {
    if host.is_empty() {
        return Err(AuthorityError::NoHost);
    }
    let lower = host.to_ascii_lowercase();
    if lower.ends_with('.') {
        return Err(AuthorityError::TrailingDot(shown(&lower)));
    }
    let valid = lower.len() <= 253
        && lower.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(lower)
    } else {
        Err(AuthorityError::BadHost(shown(&lower)))
    }
}

fn parse_port(port: &str) -> Result<u16, AuthorityError> {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if digits && p != 0 => Ok(p),
        _ => Err(AuthorityError::BadPort(shown(port))),
    }
}

/// The IP address a normalized host spells, if it is a literal: an IPv6
/// address in brackets, or IPv4 in its canonical dotted form.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse().ok().map(IpAddr::V6);
    }
    host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A value as a message may quote it: at most 100 characters, no control
/// characters.
pub fn shown(value: &str) -> String {
    value
        .chars()
        .take(100)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
