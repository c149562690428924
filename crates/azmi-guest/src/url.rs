//! The few URLs the guest handles (identity endpoints and vault URLs) and
//! query-string encoding. The authority is read by the parser the host's
//! allow-list uses too (`azmi_core::authority`), strictly.

use azmi_core::authority::Authority;

pub(crate) use azmi_core::authority::Scheme;

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
        let scheme = Scheme::parse(scheme).ok_or_else(|| {
            format!(
                "has scheme `{}`; expected http or https",
                scheme.to_ascii_lowercase()
            )
        })?;
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
        let Authority { host, port } = Authority::parse(authority).map_err(|e| e.to_string())?;
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
mod tests;
