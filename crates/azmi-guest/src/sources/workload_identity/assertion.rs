//! The service-account token, read from its file for one exchange. It is a
//! credential: it is sent only as Entra's client assertion, never shown
//! (`Debug` names its claims, not the token). Its claims are read, not
//! verified (Entra verifies), to say what to check when Entra refuses it.

use std::fmt;

use serde_json::Value;

use crate::error::{Error, sanitize_message};

/// Service-account tokens are 1-2 KiB; anything near this is not one.
pub(crate) const MAX_ASSERTION_BYTES: u64 = 16 * 1024;

pub(crate) struct Assertion {
    token: String,
    /// The claims Entra matches against a federated credential.
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audience: String,
    /// Unix seconds, when the token says.
    pub(crate) expires: Option<u64>,
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assertion")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Assertion {
    /// The token itself, for the request body only.
    pub(crate) fn expose(&self) -> &str {
        &self.token
    }

    /// Reads the token file at `path` (a link is followed: kubelet's file
    /// is one, into its `..data` directory; the sandbox keeps links inside
    /// the granted directory).
    pub(crate) fn read(path: &str) -> Result<Assertion, Error> {
        let shown = sanitize_message(path, None);
        let fix = "AZURE_FEDERATED_TOKEN_FILE must name the service-account token kubelet projects into the pod (azure.workload.identity/use: \"true\" on the pod)";
        let metadata = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::InvalidArgument(format!(
                "the service-account token file {shown} does not exist; {fix}"
            )),
            _ => Error::Denied(format!(
                "the service-account token file {shown} cannot be read ({e}); the host grants only its directory, read-only"
            )),
        })?;
        if !metadata.is_file() {
            return Err(Error::InvalidArgument(format!(
                "the service-account token file {shown} is not a regular file; {fix}"
            )));
        }
        if metadata.len() > MAX_ASSERTION_BYTES {
            return Err(Error::InvalidArgument(format!(
                "the service-account token file {shown} is {} bytes, more than the {MAX_ASSERTION_BYTES} a token may have; {fix}",
                metadata.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Denied(format!(
                "the service-account token file {shown} cannot be read ({e})"
            ))
        })?;
        if bytes.len() as u64 > MAX_ASSERTION_BYTES {
            return Err(Error::InvalidArgument(format!(
                "the service-account token file {shown} grew past {MAX_ASSERTION_BYTES} bytes while being read"
            )));
        }
        // The file is never quoted: if it is not a token, it may be
        // another secret.
        let malformed = |what: &str| {
            Error::InvalidArgument(format!(
                "the service-account token file {shown} {what}, so it is not a service-account token and was not sent; {fix}"
            ))
        };
        let text = String::from_utf8(bytes).map_err(|_| malformed("is not text"))?;
        // A trailing newline is tolerated, as the SDKs send the file as is
        // and Entra ignores it; nothing else may surround the token.
        let token = text.trim_end_matches(['\n', '\r']).to_owned();
        if token.is_empty() {
            return Err(malformed("is empty"));
        }
        let claims = claims_of(&token).ok_or_else(|| {
            malformed(
                "does not hold a JWT (three base64url parts, the second a JSON object of claims)",
            )
        })?;
        let text_claim = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(|v| sanitize_message(v, None))
                .unwrap_or_default()
        };
        // `aud` is a string or a list of them.
        let audience = match claims.get("aud") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(|v| sanitize_message(v, None))
                .collect::<Vec<_>>()
                .join(","),
            _ => text_claim("aud"),
        };
        Ok(Assertion {
            issuer: text_claim("iss"),
            subject: text_claim("sub"),
            audience,
            expires: claims.get("exp").and_then(Value::as_u64),
            token,
        })
    }
}

/// The claims of a compact JWT, if `token` is one.
fn claims_of(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [header, payload, signature].iter().any(|p| p.is_empty()) {
        return None;
    }
    match serde_json::from_slice(&base64url(payload)?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

/// Decodes unpadded base64url (RFC 4648 §5), as JWTs use it.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    // A lone sixth bit group cannot end a valid encoding.
    (bits < 6).then_some(out)
}

#[cfg(test)]
mod tests;
