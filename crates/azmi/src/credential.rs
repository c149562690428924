//! `Credential`: a runtime (with its shared token cache), a configuration
//! (with the tenant's grant, if any), and the calls. Each call into the component gets a fresh sandbox, bounded by the
//! wall-clock deadline (I/O), the CPU budget and the memory limit; the store
//! is dropped after.
//!
//! Tokens are cached here (see `cache`); `get_secret` therefore drives the
//! component in steps: discover the vault's challenge (cached per vault),
//! get a token for the resource it names (cached), read the secret with it,
//! and on a 401 discover again once, as the Azure SDKs do.

mod call;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

use crate::Error;
use crate::bindings::{WitIdentity, identity_to_wit};
use crate::cache::{CacheStats, Key, TokenCache};
use crate::config::Config;
use crate::grant::GrantStats;
use crate::limits::deadline_after;
use crate::runtime::Runtime;
use crate::types::{AccessToken, Identity, Secret, VaultChallenge};

/// Fetches tokens and secrets through the sandboxed component, as its
/// `Config` allows. Cheap to clone (clones share the cache); calls may run
/// concurrently.
#[derive(Clone, Debug)]
pub struct Credential {
    runtime: Runtime,
    config: Config,
    shared: Arc<Shared>,
}

struct Shared {
    tokens: TokenCache,
    /// Vault host → the resource its verified challenge named.
    challenges: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("tokens", &self.tokens.stats())
            .finish_non_exhaustive()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Credential {
    /// A credential that runs `runtime`'s component under `config`. Its
    /// tokens are the runtime's cache, shared with every credential whose
    /// configuration reaches the same identity endpoint the same way; its
    /// counts (`cache_stats`) are its own.
    pub fn new(runtime: Runtime, config: Config) -> Credential {
        let shared = Arc::new(Shared {
            tokens: TokenCache::sharing(runtime.tokens()),
            challenges: Mutex::default(),
        });
        Credential {
            runtime,
            config,
            shared,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How the token cache has been used.
    pub fn cache_stats(&self) -> CacheStats {
        self.shared.tokens.stats()
    }

    /// Instantiates the component in this tenant's sandbox, calls nothing,
    /// and drops it: a cheap check, when a tenant is set up, that its
    /// limits admit the component (and a measure of instantiation cost).
    ///
    /// # Errors
    /// `Error::ResourceLimit` when the memory limit is too small for the
    /// component, `Error::Config` when it exceeds a pool slot,
    /// `Error::Timeout` when no pool slot frees in time.
    pub async fn check(&self) -> Result<(), Error> {
        let deadline = deadline_after(self.config.limits.timeout);
        self.call(deadline, async |_instance, _store| Ok(Ok(())))
            .await
    }

    /// Gets an access token for `resource` for the configured identity
    /// (`ConfigBuilder::identity`); see `get_token`.
    ///
    /// # Errors
    /// As `get_token`.
    pub async fn token(&self, resource: &str) -> Result<AccessToken, Error> {
        self.get_token(resource, self.config.identity()).await
    }

    /// Reads secret `name` from `vault_url` for the configured identity;
    /// see `get_secret`.
    ///
    /// # Errors
    /// As `get_secret`.
    pub async fn secret(
        &self,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Secret, Error> {
        self.get_secret(vault_url, name, version, self.config.identity())
            .await
    }

    /// Gets an access token for `resource` (a resource URI, or one scope
    /// ending in `/.default`), from the cache when it holds a usable one,
    /// within the configured timeout (`CallLimits::timeout`), waiting for
    /// another caller's fetch of the same token included.
    ///
    /// # Errors
    /// Any `Error` case; see its documentation.
    pub async fn get_token(
        &self,
        resource: &str,
        identity: &Identity,
    ) -> Result<AccessToken, Error> {
        let deadline = deadline_after(self.config.limits.timeout);
        if let Some(tenant) = &self.config.tenant {
            let resource =
                azmi_core::scope::scope_to_resource(resource).map_err(Error::InvalidArgument)?;
            tenant.enforce(tenant.grant.check_identity(identity))?;
            tenant.enforce(tenant.grant.check_token(&resource))?;
        }
        self.token_before(deadline, resource, identity, None).await
    }

    /// How often this tenant's grant refused a call, by rule (empty
    /// without a grant). Shared by every `Credential` of one `Config`.
    pub fn grant_stats(&self) -> GrantStats {
        self.config
            .tenant
            .as_ref()
            .map(|t| t.stats())
            .unwrap_or_default()
    }

    /// A token by `deadline`; never `stale`, a token a vault just refused.
    async fn token_before(
        &self,
        deadline: Instant,
        resource: &str,
        identity: &Identity,
        stale: Option<&str>,
    ) -> Result<AccessToken, Error> {
        let resource =
            azmi_core::scope::scope_to_resource(resource).map_err(Error::InvalidArgument)?;
        let key = self.key(&resource, identity);
        let wit = wit_identity(identity);
        // Only a request that reaches the identity endpoint costs the
        // tenant's budget: not a hit, not a wait for another's request.
        let admit = |refresh: bool| match &self.config.tenant {
            Some(tenant) => tenant.spend(refresh),
            None => Ok(()),
        };
        let fetched = self.shared.tokens.get(key, stale, now, admit, || async {
            self.call(deadline, async |instance, store| {
                instance
                    .azmi_identity_credentials()
                    .call_get_token(store, &resource, wit.as_ref())
                    .await
            })
            .await
            .map(AccessToken::from)
        });
        // A caller that waits for another's fetch waits no longer than its
        // own deadline either.
        tokio::time::timeout_at(deadline, fetched)
            .await
            .unwrap_or_else(|_| Err(self.timed_out()))
    }

    fn key(&self, resource: &str, identity: &Identity) -> Key {
        let lower = |id: &String| id.to_ascii_lowercase();
        let identity = match identity {
            Identity::SystemAssigned => Identity::SystemAssigned,
            Identity::ClientId(id) => Identity::ClientId(lower(id)),
            Identity::ObjectId(id) => Identity::ObjectId(lower(id)),
            Identity::ResourceId(id) => Identity::ResourceId(lower(id)),
        };
        Key {
            source: self.config.source,
            upstream: self.config.upstream,
            resolver: self.config.resolver.clone(),
            identity,
            resource: resource.to_owned(),
        }
    }

    /// Reads secret `name` (at `version`, or the latest) from the vault at
    /// `vault_url`, which the configuration must allow. The token is for the
    /// audience the vault's challenge names, once the component and then
    /// the host have checked that the audience belongs to the vault's
    /// cloud. Every step (discovery, token, read, and the one rediscovery
    /// after a 401) runs within one deadline, the configured timeout.
    ///
    /// # Errors
    /// Any `Error` case; see its documentation.
    pub async fn get_secret(
        &self,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
        identity: &Identity,
    ) -> Result<Secret, Error> {
        let deadline = deadline_after(self.config.limits.timeout);
        if let Some(tenant) = &self.config.tenant {
            tenant.enforce(tenant.grant.check_identity(identity))?;
        }
        self.check_secret_grant(vault_url, name)?;
        let vault = vault_key(vault_url);
        let mut refused: Option<AccessToken> = None;
        loop {
            let resource = match self.cached_challenge(&vault) {
                Some(resource) => resource,
                None => {
                    let challenge = self.discover(deadline, vault_url, name, version).await?;
                    self.remember_challenge(&vault, &challenge.resource);
                    challenge.resource
                }
            };
            let stale = refused.as_ref().map(|t| t.token.expose());
            let token = self
                .token_before(deadline, &resource, identity, stale)
                .await?;
            let result = self
                .read_with(deadline, vault_url, name, version, token.token.expose())
                .await;
            match result {
                // Refused with a token: the audience or tenant may have
                // moved, or the token been revoked. Once, forget the
                // challenge and fetch a new token (which replaces the
                // refused one in the shared cache only once it exists).
                Err(Error::Unauthorized(_)) if refused.is_none() => {
                    self.forget_challenge(&vault);
                    refused = Some(token);
                }
                result => return result,
            }
        }
    }

    /// Asks the vault at `vault_url` for secret `name` without a token and
    /// returns its challenge, once the component and then the host have
    /// checked that the audience belongs to the vault's cloud: the first
    /// half of `get_secret`, for callers that hold their own token. Nothing
    /// is sent to an identity endpoint.
    ///
    /// # Errors
    /// Any `Error` case; see its documentation.
    pub async fn discover_vault(
        &self,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<VaultChallenge, Error> {
        self.check_secret_grant(vault_url, name)?;
        let deadline = deadline_after(self.config.limits.timeout);
        self.discover(deadline, vault_url, name, version).await
    }

    /// Reads secret `name` from `vault_url` with `token`, a bearer token
    /// for the audience `discover_vault` returned: the second half of
    /// `get_secret`. The token is sent to that vault only.
    ///
    /// # Errors
    /// Any `Error` case; `Unauthorized` when the vault refused the token.
    pub async fn get_secret_with_token(
        &self,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
        token: &str,
    ) -> Result<Secret, Error> {
        self.check_secret_grant(vault_url, name)?;
        let deadline = deadline_after(self.config.limits.timeout);
        self.read_with(deadline, vault_url, name, version, token)
            .await
    }

    /// With a grant: `name` of the vault at `vault_url` must be one it
    /// allows (the URL and the name are validated first, so a refusal is
    /// never for a malformed value).
    fn check_secret_grant(&self, vault_url: &str, name: &str) -> Result<(), Error> {
        let Some(tenant) = &self.config.tenant else {
            return Ok(());
        };
        let host = azmi_core::vault::parse_vault_url(vault_url).map_err(|why| {
            Error::InvalidArgument(format!(
                "the vault URL `{}` {why}",
                azmi_core::authority::shown(vault_url)
            ))
        })?;
        if !azmi_core::vault::is_secret_name(name) {
            return Err(Error::InvalidArgument(format!(
                "the secret name `{}` is not valid; secret names are 1-127 letters, digits and hyphens",
                azmi_core::authority::shown(name)
            )));
        }
        tenant.enforce(tenant.grant.check_secret(&host, name))
    }

    /// The vault's challenge, checked by the component and again here.
    async fn discover(
        &self,
        deadline: Instant,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<VaultChallenge, Error> {
        let challenge = self
            .call(deadline, async |instance, store| {
                instance
                    .azmi_identity_credentials()
                    .call_discover_vault(store, vault_url, name, version)
                    .await
            })
            .await?;
        // The component checked the audience; the host checks again, so
        // that a token for another audience is never fetched on a
        // component's word alone.
        let vault = vault_key(vault_url);
        azmi_core::vault::check_audience(&challenge.resource, &vault).map_err(|why| {
            Error::InvalidResponse(challenge_refused(&challenge.resource, &vault, why))
        })?;
        Ok(VaultChallenge {
            resource: challenge.resource,
            tenant: challenge.tenant,
        })
    }

    /// One secret read with `token`.
    async fn read_with(
        &self,
        deadline: Instant,
        vault_url: &str,
        name: &str,
        version: Option<&str>,
        token: &str,
    ) -> Result<Secret, Error> {
        self.call(deadline, async |instance, store| {
            instance
                .azmi_identity_credentials()
                .call_get_secret_with_token(store, vault_url, name, version, token)
                .await
        })
        .await
        .map(Secret::from)
    }

    fn cached_challenge(&self, vault: &str) -> Option<String> {
        self.shared
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(vault)
            .cloned()
    }

    fn remember_challenge(&self, vault: &str, resource: &str) {
        self.shared
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(vault.to_owned(), resource.to_owned());
    }

    fn forget_challenge(&self, vault: &str) {
        self.shared
            .challenges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(vault);
    }
}

/// The cache key of a vault: its host, lower-case (the component validates
/// the URL itself; an invalid one fails there, whatever its key).
fn vault_key(vault_url: &str) -> String {
    vault_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_ascii_lowercase))
        .unwrap_or_else(|| vault_url.to_owned())
}

/// Why the host refused the audience a component's `discover-vault` named.
fn challenge_refused(resource: &str, vault: &str, why: azmi_core::vault::AudienceError) -> String {
    let shown: String = resource
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match why {
        azmi_core::vault::AudienceError::NotHttps => format!(
            "the vault's challenge names the audience `{shown}`, which is not an https URL; no token was fetched for it"
        ),
        azmi_core::vault::AudienceError::NotUnder { audience_host } => format!(
            "the vault's challenge names the audience `{shown}`, and {vault} is not under {audience_host}; a vault only ever asks for its own cloud's Key Vault audience, so no token was fetched for it"
        ),
    }
}

fn wit_identity(identity: &Identity) -> Option<WitIdentity> {
    match identity {
        Identity::SystemAssigned => None,
        other => Some(identity_to_wit(other)),
    }
}
