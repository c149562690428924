//! Grants: what one tenant may ask for. A host that hands credentials to
//! code that is not its own gives each tenant a `Grant`; `Credential`
//! checks every call against it before anything is instantiated, cached or
//! sent, so a tenant gets exactly its identities, its audiences and its
//! secrets, and never a bearer token unless the grant says so.
//!
//! Deny by default: an empty grant allows nothing. Every refusal is
//! `Error::Denied`, naming the tenant, the rule and the value, and is
//! counted (`Credential::grant_stats`).

mod budget;
mod builder;
mod tenant;

use std::collections::BTreeMap;
use std::fmt;

pub(crate) use budget::Bucket;
pub use budget::Budget;
pub use builder::GrantBuilder;
pub use tenant::GrantStats;
pub(crate) use tenant::Tenant;

use crate::types::Identity;

/// The rules of a grant, as refusals name and count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum GrantRule {
    /// The identities the tenant may use.
    Identities,
    /// The audiences it may get tokens for.
    Resources,
    /// Whether it may be handed a bearer token at all.
    Tokens,
    /// The vaults it may read.
    Vaults,
    /// Which secrets of each vault.
    Secrets,
    /// Its budget of identity-endpoint requests.
    Budget,
}

impl GrantRule {
    /// Every rule, in the order stats list them.
    pub const ALL: [GrantRule; 6] = [
        GrantRule::Identities,
        GrantRule::Resources,
        GrantRule::Tokens,
        GrantRule::Vaults,
        GrantRule::Secrets,
        GrantRule::Budget,
    ];

    /// The rule's name in messages: `identities`, `resources`, …
    pub fn name(self) -> &'static str {
        match self {
            GrantRule::Identities => "identities",
            GrantRule::Resources => "resources",
            GrantRule::Tokens => "tokens",
            GrantRule::Vaults => "vaults",
            GrantRule::Secrets => "secrets",
            GrantRule::Budget => "budget",
        }
    }
}

impl fmt::Display for GrantRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which secrets of a vault a grant allows: exact names, and `prefix*`
/// patterns (`*` alone: every secret of the vault).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretPattern {
    Exact(String),
    Prefix(String),
}

impl SecretPattern {
    fn parse(pattern: &str) -> Result<SecretPattern, String> {
        let (text, prefix) = match pattern.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (pattern, false),
        };
        let valid = text.len() <= azmi_core::vault::MAX_SECRET_NAME
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (prefix || !text.is_empty());
        if !valid {
            return Err(format!(
                "the secret pattern `{}` is neither a secret name (1-127 letters, digits and hyphens) nor one followed by `*`",
                azmi_core::authority::shown(pattern)
            ));
        }
        // Secret names are case-insensitive in Key Vault.
        let text = text.to_ascii_lowercase();
        Ok(if prefix {
            SecretPattern::Prefix(text)
        } else {
            SecretPattern::Exact(text)
        })
    }

    fn matches(&self, lower_name: &str) -> bool {
        match self {
            SecretPattern::Exact(name) => lower_name == name,
            SecretPattern::Prefix(prefix) => lower_name.starts_with(prefix.as_str()),
        }
    }
}

/// What one tenant may ask for. Build it with `Grant::builder`.
#[derive(Debug, Clone)]
pub struct Grant {
    tenant: String,
    /// Ids lower-cased, as the services compare them.
    identities: Vec<Identity>,
    default_identity: Identity,
    /// Resources normalised: scope → resource, no trailing `/`.
    resources: Vec<String>,
    /// Vault host → the secrets it may read.
    vaults: BTreeMap<String, Vec<SecretPattern>>,
    tokens: bool,
    budget: Budget,
}

impl Grant {
    /// A grant for the tenant named `tenant` (in messages and stats only),
    /// allowing nothing until told.
    pub fn builder(tenant: impl Into<String>) -> GrantBuilder {
        GrantBuilder::new(tenant.into())
    }

    /// The tenant's name.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The identity calls use when they name none.
    pub fn default_identity(&self) -> &Identity {
        &self.default_identity
    }

    /// The vault hosts the grant allows (the tenant's configuration
    /// allows their egress).
    pub(crate) fn vault_hosts(&self) -> impl Iterator<Item = &str> {
        self.vaults.keys().map(String::as_str)
    }

    /// May `identity` be used?
    pub(crate) fn check_identity(&self, identity: &Identity) -> Result<(), Denial> {
        let wanted = normalize_identity(identity);
        if self.identities.contains(&wanted) {
            Ok(())
        } else {
            Err(self.deny(GrantRule::Identities, describe_identity(identity)))
        }
    }

    /// May a bearer token for `resource` (already a resource, not a scope)
    /// be handed to the tenant?
    pub(crate) fn check_token(&self, resource: &str) -> Result<(), Denial> {
        if !self.tokens {
            return Err(self.deny(
                GrantRule::Tokens,
                format!("a bearer token for `{}`", shown(resource)),
            ));
        }
        if self.resources.iter().any(|r| r == trim_slash(resource)) {
            Ok(())
        } else {
            Err(self.deny(
                GrantRule::Resources,
                format!("the resource `{}`", shown(resource)),
            ))
        }
    }

    /// May secret `name` of the vault at `vault_host` be read?
    pub(crate) fn check_secret(&self, vault_host: &str, name: &str) -> Result<(), Denial> {
        let Some(patterns) = self.vaults.get(vault_host) else {
            return Err(self.deny(
                GrantRule::Vaults,
                format!("the vault {}", shown(vault_host)),
            ));
        };
        let lower = name.to_ascii_lowercase();
        if patterns.iter().any(|p| p.matches(&lower)) {
            Ok(())
        } else {
            Err(self.deny(
                GrantRule::Secrets,
                format!("the secret `{}` of {vault_host}", shown(name)),
            ))
        }
    }

    pub(crate) fn deny(&self, rule: GrantRule, what: String) -> Denial {
        Denial {
            rule,
            message: format!(
                "the grant of tenant `{}` does not allow {what} (rule `{rule}`)",
                shown(&self.tenant)
            ),
        }
    }
}

/// The rule a refusal's message names, as `Grant::deny` writes it.
pub(crate) fn rule_named_in(message: &str) -> Option<GrantRule> {
    let (grant, rest) = message.split_once("` does not allow ")?;
    let name = rest.strip_suffix("`)")?.rsplit_once("(rule `")?.1;
    grant
        .starts_with("the grant of tenant `")
        .then(|| GrantRule::ALL.into_iter().find(|r| r.name() == name))
        .flatten()
}

/// A refusal by a grant rule, before it becomes `Error::Denied`.
#[derive(Debug)]
pub(crate) struct Denial {
    pub(crate) rule: GrantRule,
    pub(crate) message: String,
}

fn normalize_identity(identity: &Identity) -> Identity {
    let lower = |id: &String| id.trim().to_ascii_lowercase();
    match identity {
        Identity::SystemAssigned => Identity::SystemAssigned,
        Identity::ClientId(id) => Identity::ClientId(lower(id)),
        Identity::ObjectId(id) => Identity::ObjectId(lower(id)),
        Identity::ResourceId(id) => Identity::ResourceId(lower(id)),
    }
}

fn describe_identity(identity: &Identity) -> String {
    match identity {
        Identity::SystemAssigned => "the system-assigned identity".into(),
        Identity::ClientId(id) => format!("the identity with client id `{}`", shown(id)),
        Identity::ObjectId(id) => format!("the identity with object id `{}`", shown(id)),
        Identity::ResourceId(id) => format!("the identity `{}`", shown(id)),
    }
}

/// One trailing `/` does not make another resource (`https://vault.azure.net/`
/// is `https://vault.azure.net`); two do.
fn trim_slash(resource: &str) -> &str {
    match resource.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => resource,
    }
}

fn shown(value: &str) -> String {
    azmi_core::authority::shown(value)
}

#[cfg(test)]
mod tests;
