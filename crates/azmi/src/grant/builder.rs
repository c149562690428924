//! Building a `Grant`: every entry validated, identities and resources
//! normalised as calls will be.

use std::collections::BTreeMap;

use super::{
    Budget, Grant, SecretPattern, describe_identity, normalize_identity, shown, trim_slash,
};
use crate::error::{Error, Setting};
use crate::types::Identity;

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
    pub(super) fn new(tenant: String) -> GrantBuilder {
        GrantBuilder {
            tenant,
            identities: Vec::new(),
            default_identity: None,
            resources: Vec::new(),
            vaults: Vec::new(),
            tokens: false,
            budget: Budget::default(),
        }
    }

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
