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
mod tests;
