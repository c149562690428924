//! The guest's error type. It mirrors the WIT `error` variant case for case;
//! `lib.rs` maps it to the generated type in one place.

use std::fmt;

/// What a service said when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) inner_code: Option<String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if let Some(inner) = &self.inner_code {
            write!(f, " ({inner})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Why a guest call failed; see the WIT `error` variant for when each case
/// is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    Unavailable(String),
    Denied(String),
    Unauthorized(ServiceError),
    Forbidden(ServiceError),
    NotFound(ServiceError),
    Service(ServiceError),
    InvalidArgument(String),
    InvalidResponse(String),
    Timeout(String),
    Other(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(m) => write!(f, "unavailable: {m}"),
            Error::Denied(m) => write!(f, "denied: {m}"),
            Error::Unauthorized(e) => write!(f, "unauthorized: {e}"),
            Error::Forbidden(e) => write!(f, "forbidden: {e}"),
            Error::NotFound(e) => write!(f, "not found: {e}"),
            Error::Service(e) => write!(f, "service error: {e}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::InvalidResponse(m) => write!(f, "invalid response: {m}"),
            Error::Timeout(m) => write!(f, "timeout: {m}"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

/// Longest service message passed on, in characters.
const MAX_MESSAGE_CHARS: usize = 400;

/// Makes a service-supplied message safe to show: one line, bounded, and
/// without `credential` in it (a hostile or buggy server may echo what it was
/// sent, and what it was sent may include the bearer token).
pub(crate) fn sanitize_message(message: &str, credential: Option<&str>) -> String {
    let mut text = message.to_owned();
    if let Some(credential) = credential.filter(|c| !c.is_empty()) {
        text = text.replace(credential, "[redacted]");
    }
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE_CHARS + 1));
    let mut last_was_space = false;
    for (count, c) in text.chars().enumerate() {
        if count == MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_was_space {
            continue;
        }
        last_was_space = c == ' ';
        out.push(c);
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_redacts_the_credential_and_flattens_lines() {
        let msg = "bad token eyJabc.def\r\n  see\tdocs";
        assert_eq!(
            sanitize_message(msg, Some("eyJabc.def")),
            "bad token [redacted] see docs"
        );
    }

    #[test]
    fn sanitize_bounds_length() {
        let long = "x".repeat(5000);
        let out = sanitize_message(&long, None);
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn service_error_display_names_every_part() {
        let e = ServiceError {
            status: 403,
            code: "Forbidden".into(),
            message: "no".into(),
            inner_code: Some("ForbiddenByRbac".into()),
        };
        assert_eq!(e.to_string(), "HTTP 403 Forbidden (ForbiddenByRbac): no");
    }
}
