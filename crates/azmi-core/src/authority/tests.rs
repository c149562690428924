use super::*;

fn parse(s: &str) -> Result<(String, Option<u16>), AuthorityError> {
    Authority::parse(s).map(|a| (a.host, a.port))
}

#[test]
fn parses_and_normalizes() {
    for (input, host, port) in [
        ("169.254.169.254", "169.254.169.254", None),
        ("LocalHost:8080", "localhost", Some(8080)),
        (
            "MyVault.Vault.Azure.Net:443",
            "myvault.vault.azure.net",
            Some(443),
        ),
        ("[::1]:9000", "[::1]", Some(9000)),
        ("[0::1]", "[::1]", None),
        ("[::FFFF:127.0.0.1]", "[::ffff:127.0.0.1]", None),
        ("2130706433", "2130706433", None), // a name, not an address
        ("a-b.c1", "a-b.c1", None),
    ] {
        assert_eq!(parse(input), Ok((host.into(), port)), "{input}");
    }
}

#[test]
fn refuses_what_confuses() {
    for (input, error) in [
        ("", AuthorityError::NoHost),
        (":80", AuthorityError::NoHost),
        ("u@127.0.0.1:4444", AuthorityError::UserInfo),
        ("[::1", AuthorityError::Unterminated),
        ("[zz]", AuthorityError::BadIpv6("zz".into())),
        ("[::1]x", AuthorityError::JunkAfterBracket),
        ("127.0.0.1:", AuthorityError::BadPort(String::new())),
        ("127.0.0.1:abc", AuthorityError::BadPort("abc".into())),
        ("127.0.0.1:0", AuthorityError::BadPort("0".into())),
        ("127.0.0.1:99999", AuthorityError::BadPort("99999".into())),
        ("127.0.0.1:+80", AuthorityError::BadPort("+80".into())),
        (
            "myvault.vault.azure.net.",
            AuthorityError::TrailingDot("myvault.vault.azure.net.".into()),
        ),
        (
            "-evil.example",
            AuthorityError::BadHost("-evil.example".into()),
        ),
        (
            "evil-.example",
            AuthorityError::BadHost("evil-.example".into()),
        ),
        ("a..b", AuthorityError::BadHost("a..b".into())),
        ("hö.example", AuthorityError::BadHost("hö.example".into())),
        ("a\\b", AuthorityError::BadHost("a\\b".into())),
        ("host:80:80", AuthorityError::BadHost("host:80".into())),
        ("::1", AuthorityError::BadHost(":".into())),
    ] {
        assert_eq!(parse(input), Err(error), "{input}");
    }
    assert!(parse(&format!("{}.example", "a".repeat(64))).is_err());
    assert!(parse(&["a"; 130].join(".")).is_err(), "longer than 253");
}

#[test]
fn only_canonical_literals_are_addresses() {
    assert_eq!(ip_literal("127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(ip_literal("[::1]"), Some("::1".parse().unwrap()));
    for name in [
        "2130706433",
        "0x7f000001",
        "017.0.0.1",
        "127.1",
        "localhost",
        "::1",
    ] {
        assert_eq!(ip_literal(name), None, "{name}");
    }
}

#[test]
fn schemes() {
    assert_eq!(Scheme::parse("HTTPS"), Some(Scheme::Https));
    assert_eq!(Scheme::parse("ftp"), None);
    assert_eq!(
        (Scheme::Http.default_port(), Scheme::Https.as_str()),
        (80, "https")
    );
    let a = Authority::parse("h").unwrap();
    assert_eq!(a.port_or_default(Scheme::Https), 443);
}
