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

pub(crate) use budget::Bucket;
pub use budget::Budget;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Setting};
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
        GrantBuilder {
            tenant: tenant.into(),
            identities: Vec::new(),
            default_identity: None,
            resources: Vec::new(),
            vaults: Vec::new(),
            tokens: false,
            budget: Budget::default(),
        }
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

/// A refusal by a grant rule, before it becomes `Error::Denied`.
#[derive(Debug)]
pub(crate) struct Denial {
    pub(crate) rule: GrantRule,
    pub(crate) message: String,
}

/// Builds a `Grant`. Every method adds to what the grant allows.
#[derive(Debug, Clone)]
pub struct GrantBuilder {
    tenant: String,
    identities: Vec<Identity>,
    default_identity: Option<Identity>,
    resources: Vec<String>,
    vaults: Vec<(String, Vec<String>)>,
    tokens: bool,
    budget: Budget,
}

impl GrantBuilder {
    /// Allows `identity` (ids compare case-insensitively).
    /// `Identity::SystemAssigned` is whatever the platform answers when no
    /// identity is named: on a VM with a single user-assigned identity and
    /// no system-assigned one, IMDS answers with that one.
    pub fn identity(mut self, identity: Identity) -> GrantBuilder {
        self.identities.push(identity);
        self
    }

    /// The identity calls use when they name none; it must be one the grant
    /// allows. Without it: the first identity allowed.
    pub fn default_identity(mut self, identity: Identity) -> GrantBuilder {
        self.default_identity = Some(identity);
        self
    }

    /// Allows bearer tokens for `resource`: a resource URI or one scope
    /// ending in `/.default`, matched exactly after the same normalisation
    /// as calls (a trailing `/` does not matter). Has effect only with
    /// `hand_out_tokens`; the vaults' own audiences need no entry.
    pub fn resource(mut self, resource: impl Into<String>) -> GrantBuilder {
        self.resources.push(resource.into());
        self
    }

    /// Allows reading the secrets of `vault_url` that match `secrets`:
    /// exact names and `prefix*` patterns (`*`: every secret), compared
    /// case-insensitively as Key Vault does.
    pub fn vault<S: Into<String>>(
        mut self,
        vault_url: impl Into<String>,
        secrets: impl IntoIterator<Item = S>,
    ) -> GrantBuilder {
        self.vaults.push((
            vault_url.into(),
            secrets.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// Lets `get_token` hand the tenant bearer tokens for its resources.
    /// Off by default: a tenant may read its secrets without ever seeing a
    /// token.
    pub fn hand_out_tokens(mut self, allowed: bool) -> GrantBuilder {
        self.tokens = allowed;
        self
    }

    /// The tenant's budget of identity-endpoint requests (tokens served from
    /// the cache cost nothing); `Budget::default()` unless set.
    pub fn budget(mut self, budget: Budget) -> GrantBuilder {
        self.budget = budget;
        self
    }

    /// Validates every entry.
    ///
    /// # Errors
    /// `Error::Config` (setting `Grant`) naming the entry: an empty id, a
    /// resource that is not one scope, a vault URL that is not a Key Vault
    /// URL, a secret pattern that is neither a name nor `prefix*`, a
    /// default identity the grant does not allow.
    pub fn build(self) -> Result<Grant, Error> {
        let bad =
            |value: &str, message: String| Error::config(Setting::Grant, Some(value), message);
        let mut identities = Vec::new();
        for identity in &self.identities {
            if let Identity::ClientId(id) | Identity::ObjectId(id) | Identity::ResourceId(id) =
                identity
                && id.trim().is_empty()
            {
                return Err(bad(id, "an identity of the grant has an empty id".into()));
            }
            identities.push(normalize_identity(identity));
        }
        let default_identity = match self.default_identity {
            Some(identity) => {
                if !identities.contains(&normalize_identity(&identity)) {
                    return Err(bad(
                        &describe_identity(&identity),
                        format!(
                            "the default identity ({}) is not one the grant allows; add it with GrantBuilder::identity",
                            describe_identity(&identity)
                        ),
                    ));
                }
                identity
            }
            None => self.identities.first().cloned().unwrap_or_default(),
        };
        let mut resources = Vec::new();
        for resource in &self.resources {
            let normalized = azmi_core::scope::scope_to_resource(resource)
                .map_err(|why| bad(resource, format!("a resource of the grant: {why}")))?;
            resources.push(trim_slash(&normalized).to_owned());
        }
        let mut vaults: BTreeMap<String, Vec<SecretPattern>> = BTreeMap::new();
        for (url, secrets) in &self.vaults {
            let host = azmi_core::vault::parse_vault_url(url)
                .map_err(|why| bad(url, format!("the grant's vault URL `{}` {why}", shown(url))))?;
            let patterns = vaults.entry(host).or_default();
            for secret in secrets {
                patterns.push(SecretPattern::parse(secret).map_err(|why| bad(secret, why))?);
            }
        }
        Ok(Grant {
            tenant: self.tenant,
            identities,
            default_identity,
            resources,
            vaults,
            tokens: self.tokens,
            budget: self.budget,
        })
    }
}

/// A grant in force: the grant, its budget's bucket and its denial counts,
/// shared by every `Credential` built from one `Config`.
#[derive(Debug)]
pub(crate) struct Tenant {
    pub(crate) grant: Grant,
    bucket: Bucket,
    denied: [AtomicU64; GrantRule::ALL.len()],
}

impl Tenant {
    pub(crate) fn new(grant: Grant) -> Tenant {
        Tenant {
            bucket: Bucket::new(grant.budget),
            grant,
            denied: Default::default(),
        }
    }

    /// `check`'s verdict, a denial counted and turned into `Error::Denied`.
    pub(crate) fn enforce(&self, check: Result<(), Denial>) -> Result<(), Error> {
        check.map_err(|denial| {
            self.denied[denial.rule as usize].fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "azmi::grant", "{}", denial.message);
            Error::Denied(denial.message)
        })
    }

    /// One identity-endpoint request from the budget, or `Error::Denied`
    /// saying when the next one is available. A proactive `refresh` that
    /// the budget refuses is not a refusal of the call (the still-valid
    /// token is served), so it is not counted.
    pub(crate) fn spend(&self, refresh: bool) -> Result<(), Error> {
        if refresh {
            return self
                .bucket
                .take()
                .map_err(|_| Error::Denied("the budget defers this refresh".into()));
        }
        let verdict = self.bucket.take().map_err(|wait| {
            let budget = self.grant.budget;
            self.grant.deny(
                GrantRule::Budget,
                format!(
                    "another identity-endpoint request now: its budget is {} at once and one every {:?}, and the next is available in {} ms (tokens already cached cost nothing)",
                    budget.burst(),
                    budget.refill(),
                    wait.as_millis().max(1)
                ),
            )
        });
        self.enforce(verdict)
    }

    pub(crate) fn stats(&self) -> GrantStats {
        let denied = GrantRule::ALL
            .into_iter()
            .map(|rule| (rule, self.denied[rule as usize].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        GrantStats { denied }
    }
}

/// Denials by rule, for one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrantStats {
    /// How many calls each rule refused (rules that refused none are absent).
    pub denied: BTreeMap<GrantRule, u64>,
}

impl GrantStats {
    /// Calls refused by `rule`.
    pub fn denied_by(&self, rule: GrantRule) -> u64 {
        self.denied.get(&rule).copied().unwrap_or(0)
    }
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
