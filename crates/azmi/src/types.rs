//! The values a call returns, host side. `Debug` never prints a token or a
//! secret value.

use std::fmt;

/// Which managed identity to use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Identity {
    /// The resource's system-assigned identity.
    #[default]
    SystemAssigned,
    /// A user-assigned identity by client (application) id.
    ClientId(String),
    /// A user-assigned identity by object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by ARM resource id.
    ResourceId(String),
}

/// An access token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    /// The bearer token. A credential: never log it.
    pub token: String,
    /// Normally `Bearer`.
    pub token_type: String,
    /// The audience the token was issued for.
    pub resource: String,
    /// Expiry, Unix seconds.
    pub expires_on: u64,
    /// When to refresh, Unix seconds, when known.
    pub refresh_at: Option<u64>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("resource", &self.resource)
            .field("expires_on", &self.expires_on)
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

/// A Key Vault secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Secret {
    /// The secret value.
    pub value: String,
    /// `https://<vault>/secrets/<name>/<version>`.
    pub id: String,
    /// The version returned.
    pub version: String,
    /// The content type stored with the secret.
    pub content_type: Option<String>,
    /// Whether the secret is enabled.
    pub enabled: bool,
    /// Creation time, Unix seconds.
    pub created: Option<u64>,
    /// Last update, Unix seconds.
    pub updated: Option<u64>,
    /// Expiry (`exp`), Unix seconds; informational.
    pub expires: Option<u64>,
    /// Not-before (`nbf`), Unix seconds; informational.
    pub not_before: Option<u64>,
    /// Tags, sorted by name.
    pub tags: Vec<(String, String)>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("value", &"[redacted]")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("content_type", &self.content_type)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}
