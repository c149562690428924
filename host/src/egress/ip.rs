//! Which resolved addresses each kind of destination may connect to.
//!
//! Identity endpoints are plain http and must be on this machine
//! (loopback) or the link-local IMDS address; vaults must be on the public
//! internet. IPv4-mapped and IPv4-embedding IPv6 forms are checked as the
//! IPv4 address they carry, so `::ffff:127.0.0.1` is loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Address classes the policy distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    Loopback,
    LinkLocal,
    /// Private, shared, reserved, documentation, multicast, unspecified:
    /// anything that is not a public unicast address.
    NonPublic,
    Public,
}

pub(crate) fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

/// Identity endpoints: loopback or link-local only.
pub(crate) fn allowed_for_identity_endpoint(ip: IpAddr) -> bool {
    matches!(
        classify(ip),
        AddressClass::Loopback | AddressClass::LinkLocal
    )
}

/// Vaults: public unicast only. A vault name that resolves to this machine
/// or the internal network is a DNS-rebinding or SSRF attempt unless the
/// operator pinned it.
pub(crate) fn allowed_for_vault(ip: IpAddr) -> bool {
    classify(ip) == AddressClass::Public
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
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00               // unique local
        || (s[0] & 0xffc0) == 0xfec0               // site local (deprecated)
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard prefix 100::/64
        || (s[0] == 0x2001 && s[1] == 0x0db8)      // documentation
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
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(a, b, c, d))
    }

    fn v6(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn identity_endpoints_are_loopback_or_link_local() {
        for ip in [
            v4(127, 0, 0, 1),
            v4(127, 9, 9, 9),
            v4(169, 254, 169, 254),
            v6("::1"),
            v6("fe80::1"),
            v6("::ffff:127.0.0.1"),
        ] {
            assert!(allowed_for_identity_endpoint(ip), "{ip}");
        }
        for ip in [
            v4(10, 0, 0, 1),
            v4(8, 8, 8, 8),
            v4(0, 0, 0, 0),
            v6("::"),
            v6("2001:4860::1"),
        ] {
            assert!(!allowed_for_identity_endpoint(ip), "{ip}");
        }
    }

    #[test]
    fn vaults_must_be_public() {
        for ip in [v4(20, 38, 1, 1), v4(52, 1, 2, 3), v6("2603:1030::1")] {
            assert!(allowed_for_vault(ip), "{ip}");
        }
        for ip in [
            v4(127, 0, 0, 1),
            v4(169, 254, 169, 254),
            v4(10, 1, 2, 3),
            v4(172, 16, 0, 1),
            v4(172, 31, 255, 255),
            v4(192, 168, 1, 1),
            v4(100, 64, 0, 1),
            v4(0, 0, 0, 0),
            v4(0, 1, 2, 3),
            v4(255, 255, 255, 255),
            v4(224, 0, 0, 1),
            v4(240, 0, 0, 1),
            v4(198, 18, 0, 1),
            v4(192, 0, 2, 1),
            v6("::1"),
            v6("::"),
            v6("fe80::1"),
            v6("fc00::1"),
            v6("fd12:3456::1"),
            v6("100::1"),
            v6("2001:db8::1"),
            v6("ff02::1"),
            // IPv4 in IPv6 clothing
            v6("::ffff:127.0.0.1"),
            v6("::ffff:a00:1"),
            v6("::127.0.0.1"),
            v6("64:ff9b::a9fe:a9fe"),
            v6("2002:7f00:1::"),
        ] {
            assert!(!allowed_for_vault(ip), "{ip}");
        }
    }
}
