//! A strict parser for the few URLs the guest handles (identity endpoints
//! and vault URLs) and query-string encoding. Strict on purpose: anything
//! unusual in an authority (userinfo, backslashes, odd ports) is how URL
//! confusion attacks start, and none of it is needed here.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute `http(s)://host[:port][/path]` URL without query or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) scheme: Scheme,
    /// Lower-case; IPv6 literals keep their brackets.
    pub(crate) host: String,
    /// Only when given explicitly and different from the scheme's default.
    pub(crate) port: Option<u16>,
    /// As given: empty, or starting with `/`.
    pub(crate) path: String,
}

impl Url {
    /// Parses `input`, refusing query strings, fragments, userinfo,
    /// backslashes, whitespace, non-ASCII hosts and out-of-range ports. The
    /// error says which rule was broken.
    pub(crate) fn parse(input: &str) -> Result<Url, String> {
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace or control characters".into());
        }
        if input.contains('\\') {
            return Err("contains a backslash".into());
        }
        let (scheme, rest) = input
            .split_once("://")
            .ok_or("is not an absolute URL (expected http:// or https://)")?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("has scheme `{other}`; expected http or https")),
        };
        if rest.contains('?') || rest.contains('#') {
            return Err("has a query or fragment; give only scheme, host, port and path".into());
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("has user information before the host".into());
        }
        let (host, port) = split_host_port(authority)?;
        let port = port.filter(|p| *p != scheme.default_port());
        Ok(Url {
            scheme,
            host,
            port,
            path: path.to_owned(),
        })
    }

    /// The path to append a fixed path to: without a trailing `/`.
    pub(crate) fn base_path(&self) -> &str {
        self.path.trim_end_matches('/')
    }

    /// The path to request: `/` when the URL has none.
    pub(crate) fn request_path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// `host[:port]`, as wasi:http's `set-authority` takes it.
    pub(crate) fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.is_empty() {
        return Err("has no host".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or("has an unterminated `[`")?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("has an invalid IPv6 address `{addr}`"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("has junk after `]`")?),
        };
        (format!("[{}]", addr.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if !host.starts_with('[') {
        validate_hostname(&host)?;
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

fn validate_hostname(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("has no host".into());
    }
    if host.ends_with('.') {
        return Err(format!("host `{host}` ends with a dot; remove it"));
    }
    let ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !ok || host.len() > 253 {
        return Err(format!(
            "host `{host}` is not a valid DNS name or IP address (letters, digits, hyphens and dots)"
        ));
    }
    Ok(())
}

fn parse_port(p: &str) -> Result<u16, String> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("has an invalid port `{p}`"));
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("has an invalid port `{p}` (1-65535)")),
        Ok(port) => Ok(port),
    }
}

/// Percent-encodes a query-string value: everything but RFC 3986
/// unreserved characters.
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `?k=v&k=v` from pairs, encoding values.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode_query_value(v));
    }
    out
}

#[cfg(test)]
mod tests {
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
}
