//! The guest's error type. It mirrors the WIT `error` variant case for case;
//! `lib.rs` maps it to the generated type in one place.

use std::fmt;

pub(crate) use azmi_core::ServiceError;

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

/// The shortest run of a credential's characters that is redacted wherever
/// it appears, in any case: an echoing server may change the case of what
/// it was sent, or split it between an error's code and its message, and
/// every piece of eight characters or more is still found. (Pieces shorter
/// than that say little about a credential of 32 characters or more.)
pub(crate) const MIN_REDACTED_RUN: usize = 8;

/// Makes a service-supplied message safe to show: one line, bounded, and
/// without `credential` in it, whole or in pieces (a hostile or buggy
/// server may echo what it was sent, and what it was sent may be a bearer
/// token, an identity header or an Arc key).
pub(crate) fn sanitize_message(message: &str, credential: Option<&str>) -> String {
    // Bound the work first: the message is cut to its first characters,
    // and a credential cut in two there is still redacted piece by piece.
    let mut chars: Vec<char> = message.chars().take(MAX_MESSAGE_CHARS + 1).collect();
    let truncated = chars.len() > MAX_MESSAGE_CHARS;
    chars.truncate(MAX_MESSAGE_CHARS);
    if let Some(credential) = credential.filter(|c| !c.is_empty()) {
        chars = redact(&chars, credential);
    }
    let mut out = String::with_capacity(chars.len() + 3);
    let mut last_was_space = false;
    for c in chars {
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
    let mut out = out.trim().to_owned();
    if truncated {
        out.push('…');
    }
    out
}

/// Replaces every run of at least `MIN_REDACTED_RUN` characters of `text`
/// that also occurs in `credential` (ignoring ASCII case) with
/// `[redacted]`; a credential shorter than that is redacted whole.
fn redact(text: &[char], credential: &str) -> Vec<char> {
    let fold = |c: &char| c.to_ascii_lowercase();
    let secret: Vec<char> = credential.chars().map(|c| fold(&c)).collect();
    let run = MIN_REDACTED_RUN.min(secret.len());
    let pieces: std::collections::BTreeSet<&[char]> = secret.windows(run).collect();
    let folded: Vec<char> = text.iter().map(fold).collect();
    let mut hidden = vec![false; text.len()];
    for (i, window) in folded.windows(run).enumerate() {
        if pieces.contains(window) {
            hidden[i..i + run].iter_mut().for_each(|h| *h = true);
        }
    }
    let mut out = Vec::with_capacity(text.len());
    for (i, c) in text.iter().enumerate() {
        if !hidden[i] {
            out.push(*c);
        } else if i == 0 || !hidden[i - 1] {
            out.extend("[redacted]".chars());
        }
    }
    out
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
    fn sanitize_redacts_the_credential_in_any_case_and_in_pieces() {
        let header = "5f0c9a4e-7d1b-4c2e-9a3f-8b6d2e1c0a97";
        let upper = header.to_ascii_uppercase();
        assert_eq!(
            sanitize_message(&format!("you sent {upper}!"), Some(header)),
            "you sent [redacted]!"
        );
        // Split between the code and the message: each half is redacted.
        let (first, second) = header.split_at(18);
        for part in [first, second] {
            let shown = sanitize_message(&format!("x-identity-header: {part}"), Some(header));
            assert_eq!(shown, "x-identity-header: [redacted]", "{part}");
        }
        // Cut at the length limit, the rest is still found.
        let long = format!("{}{header}", "a".repeat(MAX_MESSAGE_CHARS - 10));
        let shown = sanitize_message(&long, Some(header));
        assert!(shown.ends_with("[redacted]…"), "{shown}");
        // A short credential is redacted whole; unrelated text stays.
        assert_eq!(
            sanitize_message("key abc here", Some("abc")),
            "key [redacted] here"
        );
        assert_eq!(sanitize_message("all fine", Some(header)), "all fine");
    }

    #[test]
    fn sanitize_bounds_length() {
        let long = "x".repeat(5000);
        let out = sanitize_message(&long, None);
        assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(out.ends_with('…'));
    }
}
