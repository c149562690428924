use super::*;

#[test]
fn parses_endpoints() {
    let u = Url::parse("http://169.254.169.254").unwrap();
    assert_eq!(
        (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
        (Scheme::Http, "169.254.169.254", None, "")
    );
    let u = Url::parse("HTTP://LocalHost:8080/prefix/").unwrap();
    assert_eq!(u.authority(), "localhost:8080");
    assert_eq!((u.base_path(), u.request_path()), ("/prefix", "/prefix/"));
    assert_eq!(Url::parse("http://h").unwrap().request_path(), "/");
    let u = Url::parse("https://myvault.vault.azure.net:443/").unwrap();
    assert_eq!(u.port, None, "the default port is normalised away");
    let u = Url::parse("http://[::1]:9000").unwrap();
    assert_eq!(u.authority(), "[::1]:9000");
}

#[test]
fn refuses_confusing_urls() {
    for (input, why) in [
        ("169.254.169.254", "absolute"),
        ("ftp://x", "scheme"),
        ("http://user@evil.example", "user information"),
        ("http://a\\b", "backslash"),
        ("http://host:", "port"),
        ("http://host:abc", "port"),
        ("http://host:0", "port"),
        ("http://host:65536", "port"),
        ("http://host?x=1", "query"),
        ("http://host/#frag", "query or fragment"),
        ("http://ho st", "whitespace"),
        ("http://host./", "dot"),
        ("http://hö.example", "valid DNS name"),
        ("http://", "no host"),
        ("http://[::1", "unterminated"),
        ("http://[zz]", "IPv6"),
    ] {
        let err = Url::parse(input).unwrap_err();
        assert!(err.contains(why), "{input}: {err}");
    }
}

#[test]
fn encodes_query_values() {
    assert_eq!(
        encode_query_value("https://vault.azure.net"),
        "https%3A%2F%2Fvault.azure.net"
    );
    assert_eq!(
        query(&[("api-version", "2018-02-01"), ("resource", "a b/c")]),
        "?api-version=2018-02-01&resource=a%20b%2Fc"
    );
}
