use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn identity_endpoints_are_on_this_machine_strictly() {
    for local in [
        "127.0.0.1",
        "127.9.9.9",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "febf::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ] {
        assert!(identity_endpoint_allows(ip(local)), "{local}");
    }
    for elsewhere in [
        "10.0.0.1",
        "8.8.8.8",
        "0.0.0.0",
        "::",
        "2001:4860::1",
        "fec0::1",
        // IPv6 forms that only carry an IPv4 address leave the machine.
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "::127.0.0.1",
        "::169.254.169.254",
        "::ffff:10.0.0.1",
    ] {
        assert!(!identity_endpoint_allows(ip(elsewhere)), "{elsewhere}");
    }
}

#[test]
fn localhost_is_loopback_only() {
    for local in ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"] {
        assert!(localhost_allows(ip(local)), "{local}");
    }
    for other in [
        "169.254.169.254",
        "fe80::1",
        "::ffff:169.254.169.254",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "::127.0.0.1",
        "192.0.2.1",
    ] {
        assert!(!localhost_allows(ip(other)), "{other}");
    }
}

#[test]
fn vaults_must_be_public() {
    for public in ["20.38.1.1", "52.1.2.3", "2603:1030::1", "64:ff9b::1402:101"] {
        assert!(vault_allows(ip(public)), "{public}");
    }
    for private in [
        "127.0.0.1",
        "169.254.169.254",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "224.0.0.1",
        "240.0.0.1",
        "198.18.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "100::1",
        "2001:db8::1",
        "3fff::1",
        "3fff:fff::1",
        "ff02::1",
        // IPv4 in IPv6 clothing is judged by the IPv4 address.
        "::ffff:127.0.0.1",
        "::ffff:a00:1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
    ] {
        assert!(!vault_allows(ip(private)), "{private}");
    }
    assert!(vault_allows(ip("3fff:1000::1")), "outside 3fff::/20");
}
