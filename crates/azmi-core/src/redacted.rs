//! Values that must never be printed: bearer tokens, secret values.

use std::fmt;

/// A credential or a secret value. `Debug` shows `[redacted]`, there is no
/// `Display`, and the value is reached only through `expose`, so that
/// printing a struct that holds one, or logging it by mistake, shows
/// nothing of it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Redacted(String);

impl Redacted {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Redacted {
        Redacted(value.into())
    }

    /// The value itself: for sending it where it belongs, never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The value, unwrapped.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Redacted {
    fn from(value: String) -> Redacted {
        Redacted(value)
    }
}

impl From<&str> for Redacted {
    fn from(value: &str) -> Redacted {
        Redacted(value.to_owned())
    }
}

/// What a service said when it refused a request: the same for the
/// component that reads the answer and the host that reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceError {
    /// The HTTP status.
    pub status: u16,
    /// The service's error code (`SecretNotFound`, `invalid_request`, …), or
    /// empty.
    pub code: String,
    /// The service's message, one line, never containing the credential
    /// the request carried.
    pub message: String,
    /// The innermost error code (`ForbiddenByRbac`, `SecretDisabled`, …).
    pub inner_code: Option<String>,
}

impl ServiceError {
    /// A refusal with `status`, `code`, `message` and `inner_code`.
    pub fn new(
        status: u16,
        code: String,
        message: String,
        inner_code: Option<String>,
    ) -> ServiceError {
        ServiceError {
            status,
            code,
            message,
            inner_code,
        }
    }

    /// The same refusal with another message.
    pub fn with_message(self, message: String) -> ServiceError {
        ServiceError { message, ..self }
    }
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

#[cfg(test)]
mod tests;
