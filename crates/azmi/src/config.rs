//! What a `Credential` may do: which identity source it uses and the one
//! endpoint that source may reach, the vaults it may read, the environment
//! and the single directory its component sees, TLS roots, name resolution
//! and limits. Built once with `Config::builder()`, validated as a whole,
//! then immutable.

mod arc_dir;
mod steps;
mod token_file;

use steps::{
    check_variable_names, default_identity, guest_environment, resolve_source, system_resolver,
    upstream, validate_limits,
};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azmi_core::{AZURE_POD_IDENTITY_AUTHORITY_HOST, SECRET_VARIABLES, Source};
use rustls::pki_types::CertificateDer;

use crate::cache::{ResolverKey, Upstream};
use crate::egress::Resolve;
use crate::egress::connect::Connector;
use crate::error::Setting;
use crate::grant::{Grant, Tenant};
use crate::limits::{CallLimits, RequestLimits, RetryPolicy};
use crate::policy::{self, ConnectTo, EgressPolicy};
use crate::{Error, Identity};

/// The IMDS base URL used when none is configured.
pub const DEFAULT_IMDS_ENDPOINT: &str = azmi_core::IMDS_DEFAULT_BASE;

/// The environment variable the Azure SDKs (and azmi's component) read as
/// the IMDS base URL.
pub const IMDS_ENDPOINT_VAR: &str = AZURE_POD_IDENTITY_AUTHORITY_HOST;

/// The identity variables a configuration takes from the environment (and
/// the only variables a component can ever be given, with azmi's own
/// `AZMI_IDENTITY_SOURCE`). Nothing else from the host's environment
/// reaches a component.
pub const IDENTITY_VARIABLES: &[&str] = &[
    azmi_core::IDENTITY_ENDPOINT,
    azmi_core::IDENTITY_HEADER,
    azmi_core::IDENTITY_SERVER_THUMBPRINT,
    azmi_core::IMDS_ENDPOINT,
    azmi_core::MSI_ENDPOINT,
    azmi_core::MSI_SECRET,
    azmi_core::DEFAULT_IDENTITY_CLIENT_ID,
    AZURE_POD_IDENTITY_AUTHORITY_HOST,
    azmi_core::AZURE_FEDERATED_TOKEN_FILE,
    azmi_core::AZURE_CLIENT_ID,
    azmi_core::AZURE_TENANT_ID,
    azmi_core::AZURE_AUTHORITY_HOST,
];

/// Where the Arc agent keeps its key files on a Linux host, and the path at
/// which the component sees them.
pub const ARC_TOKEN_DIR: &str = azmi_core::ARC_TOKEN_DIR;

/// Whether the Azure Connected Machine agent is installed here (its
/// `himds` binary exists), which makes this an Arc server even when the
/// agent's variables are missing from this process's environment.
pub fn arc_agent_installed() -> bool {
    #[cfg(windows)]
    let binary = std::env::var_os("ProgramFiles").map(|p| {
        PathBuf::from(p)
            .join("AzureConnectedMachineAgent")
            .join("himds.exe")
    });
    #[cfg(not(windows))]
    let binary = Some(PathBuf::from(azmi_core::ARC_AGENT_BINARY));
    binary.is_some_and(|b| b.is_file())
}

/// A directory granted to the component, read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DirGrant {
    /// Where it is on this machine.
    pub(crate) host: PathBuf,
    /// Where the component sees it.
    pub(crate) guest: String,
    /// What it is, for errors ("the Arc token directory").
    pub(crate) what: &'static str,
    /// The setting that named it, for errors.
    pub(crate) setting: Setting,
    /// What to do when it cannot be granted.
    pub(crate) fix: &'static str,
}

impl DirGrant {
    fn arc(dir: PathBuf) -> DirGrant {
        DirGrant {
            host: dir,
            guest: ARC_TOKEN_DIR.to_owned(),
            what: "the Arc token directory",
            setting: Setting::ArcTokenDir,
            fix: "run as root or as a member of the himds group, or point --arc-token-dir at the agent's directory",
        }
    }
}

/// A validated, immutable configuration. Cheap to clone.
#[derive(Clone)]
pub struct Config {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) guest_env: Arc<BTreeMap<String, String>>,
    /// The one directory the component sees, read-only: Arc's token
    /// directory (at `ARC_TOKEN_DIR`) or workload identity's token file's.
    pub(crate) granted_dir: Option<DirGrant>,
    pub(crate) source: Source,
    pub(crate) limits: CallLimits,
    pub(crate) retry: RetryPolicy,
    identity: Identity,
    /// The tenant's grant, with its budget and counts, when it has one.
    pub(crate) tenant: Option<Arc<Tenant>>,
    /// How this configuration reaches its identity endpoint, for the
    /// runtime's shared token cache.
    pub(crate) upstream: Upstream,
    /// Its resolver, which decides where `localhost` is: part of the key.
    pub(crate) resolver: ResolverKey,
}

impl Config {
    /// Starts a configuration. Its defaults deny as much as they can:
    ///
    /// * identity variables: none, so the source is IMDS at
    ///   `http://169.254.169.254`, token path only;
    /// * vaults: none;
    /// * `connect-to` pins: none;
    /// * trust roots: the Mozilla roots built in (webpki-roots), no others;
    /// * component environment: the chosen source's variables and its name,
    ///   nothing else;
    /// * files: none; for Arc, the token directory read-only;
    /// * name resolution: the system resolver;
    /// * limits: `CallLimits::default()` and `RequestLimits::default()`.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The egress allow-list, in one line.
    pub fn describe_policy(&self) -> String {
        self.policy.describe()
    }

    /// The identity `Credential::token` and `Credential::secret` use.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The tenant's grant, when the configuration has one.
    pub fn grant(&self) -> Option<&Grant> {
        self.tenant.as_deref().map(|t| &t.grant)
    }

    /// The managed-identity source this configuration uses.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The names of the variables the component is given (`AZMI_RETRY`
    /// is set at each call, with what is left of its deadline).
    pub fn guest_variables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.guest_env.keys().map(String::as_str).collect();
        names.push(azmi_core::AZMI_RETRY);
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be credentials (identity headers): names only.
        f.debug_struct("Config")
            .field("source", &self.source)
            .field("identity", &self.identity)
            .field("policy", &self.policy)
            .field("guest_env", &self.guest_variables())
            .field("granted_dir", &self.granted_dir)
            .field("limits", &self.limits)
            .field("retry", &self.retry)
            .field("grant", &self.grant())
            .finish_non_exhaustive()
    }
}

/// Builds a `Config`; see `Config::builder` for the defaults.
pub struct ConfigBuilder {
    identity_env: BTreeMap<String, String>,
    imds_endpoint: Option<String>,
    source: Option<Source>,
    arc_agent_present: bool,
    arc_token_dir: PathBuf,
    vaults: Vec<String>,
    connect_to: Vec<ConnectTo>,
    extra_roots: Vec<CertificateDer<'static>>,
    guest_env: Vec<(String, String)>,
    resolver: Arc<dyn Resolve>,
    call: CallLimits,
    request: RequestLimits,
    retry: RetryPolicy,
    identity: Option<Identity>,
    grant: Option<Grant>,
}

impl Default for ConfigBuilder {
    fn default() -> ConfigBuilder {
        ConfigBuilder {
            identity_env: BTreeMap::new(),
            imds_endpoint: None,
            source: None,
            arc_agent_present: false,
            arc_token_dir: PathBuf::from(ARC_TOKEN_DIR),
            vaults: Vec::new(),
            connect_to: Vec::new(),
            extra_roots: Vec::new(),
            guest_env: Vec::new(),
            resolver: system_resolver(),
            call: CallLimits::default(),
            request: RequestLimits::default(),
            retry: RetryPolicy::default(),
            identity: None,
            grant: None,
        }
    }
}

impl ConfigBuilder {
    /// An identity variable (`IDENTITY_ENDPOINT`, `MSI_SECRET`, …; see
    /// `IDENTITY_VARIABLES`), as the platform set it. The source is
    /// detected from these; the chosen source's variables are passed to
    /// the component, the others are not.
    pub fn identity_variable(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ConfigBuilder {
        self.identity_env.insert(name.into(), value.into());
        self
    }

    /// Every identity variable set in this process's environment.
    pub fn identity_variables_from_env(mut self) -> ConfigBuilder {
        for name in IDENTITY_VARIABLES {
            if let Ok(value) = std::env::var(name) {
                self.identity_env.insert((*name).to_owned(), value);
            }
        }
        self
    }

    /// The IMDS base URL, such as `http://127.0.0.1:8080` for an emulator
    /// (it beats `AZURE_POD_IDENTITY_AUTHORITY_HOST`). With IMDS as the
    /// source, the component is told it and may call its token path, and
    /// nothing else on that host.
    pub fn imds_endpoint(mut self, base_url: impl Into<String>) -> ConfigBuilder {
        self.imds_endpoint = Some(base_url.into());
        self
    }

    /// Uses `source` instead of detecting one; its variables must be set.
    pub fn source(mut self, source: Source) -> ConfigBuilder {
        self.source = Some(source);
        self
    }

    /// Whether the Arc agent is installed (see `arc_agent_installed`): with
    /// no identity variables set, that makes the source Arc.
    pub fn arc_agent_present(mut self, present: bool) -> ConfigBuilder {
        self.arc_agent_present = present;
        self
    }

    /// The host directory holding the Arc agent's key files (default
    /// `/var/opt/azcmagent/tokens`). With Arc as the source it is the one
    /// directory the component sees, read-only, at `ARC_TOKEN_DIR`.
    pub fn arc_token_dir(mut self, dir: impl Into<PathBuf>) -> ConfigBuilder {
        self.arc_token_dir = dir.into();
        self
    }

    /// Allows reading secrets from the vault at `vault_url`
    /// (`https://<name>.vault.azure.net`): https on port 443, paths under
    /// `/secrets/` only.
    pub fn allow_vault(mut self, vault_url: impl Into<String>) -> ConfigBuilder {
        self.vaults.push(vault_url.into());
        self
    }

    /// Connects requests for a vault's `HOST:443` to another address
    /// (curl's `--connect-to`): a private endpoint, or an emulator. The
    /// target is trusted as given; TLS still verifies HOST. Pins are for
    /// vaults only: `build` refuses one whose HOST is not a Key Vault host
    /// on 443, so an identity endpoint (whose requests carry credentials)
    /// can never be moved off this machine.
    pub fn connect_to(mut self, rule: ConnectTo) -> ConfigBuilder {
        self.connect_to.push(rule);
        self
    }

    /// Trusts the CA certificates in `pem` in addition to the built-in
    /// roots. `source` names the bundle in error messages.
    ///
    /// # Errors
    /// `Error::Config` when `pem` holds no valid certificate.
    pub fn add_root_certificates_pem(
        mut self,
        pem: &[u8],
        source: &str,
    ) -> Result<ConfigBuilder, Error> {
        self.extra_roots
            .extend(crate::tls::parse_pem_certificates(pem, source)?);
        Ok(self)
    }

    /// Sets a variable in the component's environment directly, bypassing
    /// detection: only names in `IDENTITY_VARIABLES` are accepted (checked
    /// by `build`). The egress policy does not follow these values, which is
    /// what tests of the policy need.
    pub fn guest_env(mut self, name: impl Into<String>, value: impl Into<String>) -> ConfigBuilder {
        self.guest_env.push((name.into(), value.into()));
        self
    }

    /// Resolves allowed host names with `resolver` instead of the system's.
    /// Configurations share cached tokens only if both use the system's
    /// resolver or both were given the same one, since it decides where
    /// `localhost` is.
    pub fn resolver(mut self, resolver: Arc<dyn Resolve>) -> ConfigBuilder {
        self.resolver = resolver;
        self
    }

    /// The wall-clock deadline of each call.
    pub fn timeout(mut self, timeout: Duration) -> ConfigBuilder {
        self.call.timeout = timeout;
        self
    }

    /// Limits of each call (deadline, CPU, memory).
    pub fn call_limits(mut self, limits: CallLimits) -> ConfigBuilder {
        self.call = limits;
        self
    }

    /// How the component retries (see `RetryPolicy`).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> ConfigBuilder {
        self.retry = retry;
        self
    }

    /// Limits of each outgoing request.
    pub fn request_limits(mut self, limits: RequestLimits) -> ConfigBuilder {
        self.request = limits;
        self
    }

    /// The identity `Credential::token` and `Credential::secret` use: one
    /// tenant's user-assigned identity, say. By default the grant's default
    /// identity, or without a grant the system-assigned one.
    pub fn identity(mut self, identity: Identity) -> ConfigBuilder {
        self.identity = Some(identity);
        self
    }

    /// What the tenant using this configuration may ask for: every call of
    /// a `Credential` built from it is checked against `grant` before
    /// anything is instantiated, cached or sent, and refused as
    /// `Error::Denied` otherwise. The grant's vaults are allowed as by
    /// `allow_vault`. Without a grant, a `Credential` may ask for anything
    /// the configuration reaches: right for a host's own use, not for code
    /// it does not trust.
    pub fn grant(mut self, grant: Grant) -> ConfigBuilder {
        self.grant = Some(grant);
        self
    }

    /// Validates everything and builds the configuration.
    ///
    /// # Errors
    /// `Error::Config` naming the first invalid value and how to fix it;
    /// `Error::Unavailable` when the identity variables name no usable
    /// source.
    pub fn build(self) -> Result<Config, Error> {
        let ConfigBuilder {
            mut identity_env,
            imds_endpoint,
            source,
            arc_agent_present,
            arc_token_dir,
            vaults,
            connect_to,
            extra_roots,
            guest_env,
            resolver,
            call,
            request,
            retry,
            identity,
            grant,
        } = self;
        check_variable_names(identity_env.keys().chain(guest_env.iter().map(|(n, _)| n)))?;
        if let Some(endpoint) = imds_endpoint {
            identity_env.insert(IMDS_ENDPOINT_VAR.to_owned(), endpoint);
        }
        let source = resolve_source(source, &identity_env, arc_agent_present)?;
        let (rule, imds_base) = policy::rules::endpoint_rule(source, &identity_env)?;
        let mut env = guest_environment(source, &identity_env, imds_base);
        env.extend(guest_env);
        validate_limits(&call, &retry)?;
        let mut vaults = vaults
            .iter()
            .map(|v| policy::rules::parse_vault(v))
            .collect::<Result<Vec<_>, _>>()?;
        let identity = default_identity(identity, grant.as_ref())?;
        if let Some(grant) = &grant {
            vaults.extend(grant.vault_hosts().map(str::to_owned));
        }
        // Workload identity's Entra authority may be pinned too, and must
        // be a known one unless it is.
        let authority = (rule.reach == policy::Reach::Internet).then_some(rule.host.as_str());
        for pin in &connect_to {
            pin.check_for_vaults(authority)?;
        }
        let authority_pinned = connect_to
            .iter()
            .any(|c| c.host == rule.host && c.port == 443);
        policy::rules::check_authority(&rule, authority_pinned)?;
        let granted_dir = match source {
            Source::Arc => {
                arc_dir::check(&arc_token_dir)?;
                Some(DirGrant::arc(arc_token_dir.clone()))
            }
            Source::WorkloadIdentity => Some(token_file::grant(
                identity_env
                    .get(azmi_core::AZURE_FEDERATED_TOKEN_FILE)
                    .map_or("", String::as_str),
            )?),
            _ => None,
        };
        let policy = EgressPolicy {
            identity_endpoints: vec![rule],
            vaults,
            connect_to,
        };
        let connector = Connector::new(
            resolver.clone(),
            crate::tls::client_config(&extra_roots)?,
            request,
        );
        tracing::debug!(
            target: "azmi::config",
            "identity source {source}; component environment: {}",
            env.keys().map(|k| if SECRET_VARIABLES.contains(&k.as_str()) { format!("{k} (secret)") } else { k.clone() }).collect::<Vec<_>>().join(", ")
        );
        let upstream = upstream(source, &env, arc_token_dir.as_path(), &extra_roots);
        Ok(Config {
            upstream,
            resolver: ResolverKey(resolver.clone()),
            policy: Arc::new(policy),
            connector: Arc::new(connector),
            guest_env: Arc::new(env),
            granted_dir,
            source,
            limits: call,
            retry,
            identity,
            tenant: grant.map(|g| Arc::new(Tenant::new(g))),
        })
    }
}

#[cfg(test)]
mod tests;
