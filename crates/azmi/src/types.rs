//! The values a call returns, host side. Tokens and secret values are
//! `Redacted`: `Debug` never prints them.

pub use azmi_core::Redacted;

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

/// An access token. `Debug` never shows the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    /// The bearer token, a credential: `expose` it only to send it.
    pub token: Redacted,
    /// Normally `Bearer`.
    pub token_type: String,
    /// The audience the token was issued for.
    pub resource: String,
    /// Expiry, Unix seconds.
    pub expires_on: u64,
    /// When to refresh, Unix seconds, when known.
    pub refresh_at: Option<u64>,
}

/// What a vault's authentication challenge asks for, once checked: the
/// audience to get a token for (under which the vault's host lies) and the
/// tenant its authorization URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VaultChallenge {
    /// The resource to get the token for, without `/.default`.
    pub resource: String,
    /// The tenant the challenge names, if any.
    pub tenant: Option<String>,
}

/// A Key Vault secret. `Debug` never shows the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Secret {
    /// The secret value: `expose` it only where it is used.
    pub value: Redacted,
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
