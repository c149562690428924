//! Which IP addresses each kind of destination may be reached at.
//!
//! Identity endpoints are plain http and hand out credentials, so they must
//! be on this machine, strictly: IPv4 loopback (`127.0.0.0/8`) or
//! link-local (`169.254.0.0/16`, where IMDS lives), IPv6 loopback (`::1`)
//! or link-local (`fe80::/10`), and the IPv4-mapped forms of the IPv4 ones
//! (`::ffff:127.0.0.1`: a dual-stack socket to it reaches `127.0.0.1`).
//! IPv6 addresses that merely embed an IPv4 address are routed off the
//! machine and never count as local: NAT64 (`64:ff9b::/96`) goes to the
//! network's translator, 6to4 (`2002::/16`) to a public relay, and the
//! deprecated IPv4-compatible form (`::a.b.c.d`) follows the default IPv6
//! route.
//!
//! The one name an identity endpoint may carry is `localhost`, and it must
//! resolve to loopback only: a link-local answer is another machine on the
//! link, so a resolver or hosts file that maps `localhost` to
//! `169.254.169.254` is not believed.
//!
//! Vaults must be on the public internet. That check is conservative: an
//! IPv6 address that embeds an IPv4 one (mapped, compatible, NAT64, 6to4)
//! is judged by the IPv4 address it carries, so `::ffff:10.0.0.1` is as
//! private as `10.0.0.1`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Address classes, for vaults and for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Private, shared, reserved, documentation, multicast, unspecified:
    /// anything that is not a public unicast address.
    NonPublic,
    /// A public unicast address.
    Public,
}

/// The class of `ip`, judging IPv6 forms that carry an IPv4 address by that
/// address (the conservative reading, right for deciding what is public).
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

/// Whether an identity endpoint may be at the literal address `ip`: on this
/// machine or its link, strictly (see the module documentation).
pub fn identity_endpoint_allows(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback() || v4.is_link_local(),
            None => v6.is_loopback() || is_v6_link_local(v6),
        },
    }
}

/// Whether the name `localhost` may resolve to `ip`: loopback only
/// (`127.0.0.0/8`, `::1`, `::ffff:127.0.0.0/104`).
pub fn localhost_allows(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_loopback(),
            None => v6.is_loopback(),
        },
    }
}

/// Whether a vault may be at `ip`: public unicast only. A vault name that
/// resolves to this machine or an internal network is a DNS-rebinding or
/// SSRF attempt, unless an operator pinned the address.
pub fn vault_allows(ip: IpAddr) -> bool {
    classify(ip) == AddressClass::Public
}

/// The name of the form, when `ip` is an IPv6 address that carries an IPv4
/// address but is routed off this machine: `"NAT64"` (`64:ff9b::/96`),
/// `"6to4"` (`2002::/16`) or `"IPv4-compatible"` (`::a.b.c.d`).
pub fn off_machine_ipv4_form(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some("NAT64")
    } else if s[0] == 0x2002 {
        Some("6to4")
    } else if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        Some("IPv4-compatible")
    } else {
        None
    }
}

fn is_v6_link_local(ip: Ipv6Addr) -> bool {
    (ip.segments()[0] & 0xffc0) == 0xfe80
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_private()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0                                  // "this network"
        || (a == 100 && (64..128).contains(&b))    // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)          // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b))     // benchmarking
        || a >= 240
    // reserved
    {
        AddressClass::NonPublic
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if is_v6_link_local(ip) {
        AddressClass::LinkLocal
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00               // unique local
        || (s[0] & 0xffc0) == 0xfec0               // site local (deprecated)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard prefix 100::/64
        || (s[0] == 0x2001 && s[1] == 0x0db8)      // documentation
        || (s[0] == 0x3fff && s[1] < 0x1000)       // documentation 3fff::/20 (RFC 9637)
        || (s[0] == 0x2001 && s[1] < 0x0200)       // IETF protocol assignments
        || (s[0] & 0xe000) != 0x2000
    // outside global unicast 2000::/3
    {
        AddressClass::NonPublic
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let [.., a, b, c, d] = ip.octets();
    let tail = Ipv4Addr::new(a, b, c, d);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

#[cfg(test)]
mod tests;
