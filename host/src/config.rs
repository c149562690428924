//! What a `Credential` may do: its egress policy, the environment its
//! component sees, TLS roots, name resolution and limits. Built once with
//! `Config::builder()`, validated as a whole, then immutable.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::Error;
use crate::egress::connect::Connector;
use crate::egress::{Resolve, SystemResolver};
use crate::limits::{CallLimits, RequestLimits};
use crate::policy::{self, ConnectTo, EgressPolicy, EndpointRule, IMDS_TOKEN_PATH, Scheme};

/// The IMDS base URL used when none is configured.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";

/// The environment variable the Azure SDKs (and azmi's component) read as
/// the IMDS base URL.
pub const IMDS_ENDPOINT_VAR: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";

/// The only variables a component may be given: the identity variables it
/// understands. Nothing else from the host's environment reaches it.
pub const GUEST_ENV_ALLOW_LIST: &[&str] = &[IMDS_ENDPOINT_VAR];

/// Key Vault DNS suffixes; a vault host is `<name>.<suffix>`.
const VAULT_SUFFIXES: &[&str] = &[
    "vault.azure.net",
    "vault.azure.cn",
    "vault.usgovcloudapi.net",
    "vault.microsoftazure.de",
];

/// A validated, immutable configuration. Cheap to clone.
#[derive(Clone)]
pub struct Config {
    pub(crate) policy: Arc<EgressPolicy>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) guest_env: Arc<BTreeMap<String, String>>,
    pub(crate) limits: CallLimits,
}

impl Config {
    /// Starts a configuration. Its defaults deny as much as they can:
    ///
    /// * identity endpoint: IMDS at `http://169.254.169.254`, token path only;
    /// * vaults: none;
    /// * `connect-to` pins: none;
    /// * trust roots: the Mozilla roots built in (webpki-roots), no others;
    /// * component environment: empty but for the IMDS base URL when it is
    ///   not the default;
    /// * name resolution: the system resolver;
    /// * limits: `CallLimits::default()` and `RequestLimits::default()`.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The egress allow-list, in one line.
    pub fn describe_policy(&self) -> String {
        self.policy.describe()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Environment values may be credentials (identity headers): names only.
        let env: Vec<&String> = self.guest_env.keys().collect();
        f.debug_struct("Config")
            .field("policy", &self.policy)
            .field("guest_env", &env)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Builds a `Config`; see `Config::builder` for the defaults.
pub struct ConfigBuilder {
    imds_endpoint: Option<String>,
    vaults: Vec<String>,
    connect_to: Vec<ConnectTo>,
    extra_roots: Vec<CertificateDer<'static>>,
    guest_env: Vec<(String, String)>,
    resolver: Arc<dyn Resolve>,
    call: CallLimits,
    request: RequestLimits,
}

impl Default for ConfigBuilder {
    fn default() -> ConfigBuilder {
        ConfigBuilder {
            imds_endpoint: None,
            vaults: Vec::new(),
            connect_to: Vec::new(),
            extra_roots: Vec::new(),
            guest_env: Vec::new(),
            resolver: Arc::new(SystemResolver),
            call: CallLimits::default(),
            request: RequestLimits::default(),
        }
    }
}

impl ConfigBuilder {
    /// The IMDS base URL, such as `http://127.0.0.1:8080` for an emulator.
    /// The component is told it (`AZURE_POD_IDENTITY_AUTHORITY_HOST`) and
    /// may call its token path, and nothing else on that host.
    pub fn imds_endpoint(mut self, base_url: impl Into<String>) -> ConfigBuilder {
        self.imds_endpoint = Some(base_url.into());
        self
    }

    /// Allows reading secrets from the vault at `vault_url`
    /// (`https://<name>.vault.azure.net`): https on port 443, paths under
    /// `/secrets/` only.
    pub fn allow_vault(mut self, vault_url: impl Into<String>) -> ConfigBuilder {
        self.vaults.push(vault_url.into());
        self
    }

    /// Connects requests for `HOST:PORT` to another address (curl's
    /// `--connect-to`). The target is trusted as given; TLS still verifies
    /// HOST.
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

    /// Sets a variable in the component's environment. Only names in
    /// `GUEST_ENV_ALLOW_LIST` are accepted (checked by `build`). Values set
    /// here win over the ones derived from the rest of the configuration;
    /// the egress policy does not follow them.
    pub fn guest_env(mut self, name: impl Into<String>, value: impl Into<String>) -> ConfigBuilder {
        self.guest_env.push((name.into(), value.into()));
        self
    }

    /// Resolves allowed host names with `resolver` instead of the system's.
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

    /// Limits of each outgoing request.
    pub fn request_limits(mut self, limits: RequestLimits) -> ConfigBuilder {
        self.request = limits;
        self
    }

    /// Validates everything and builds the configuration.
    ///
    /// # Errors
    /// `Error::Config` naming the first invalid value and how to fix it.
    pub fn build(self) -> Result<Config, Error> {
        let ConfigBuilder {
            imds_endpoint,
            vaults,
            connect_to,
            extra_roots,
            guest_env,
            resolver,
            call,
            request,
        } = self;
        let mut env = BTreeMap::new();

        let imds_raw = imds_endpoint.as_deref().unwrap_or(DEFAULT_IMDS_ENDPOINT);
        let (imds_rule, imds_base) = parse_imds_endpoint(imds_raw)?;
        if imds_base != DEFAULT_IMDS_ENDPOINT {
            env.insert(IMDS_ENDPOINT_VAR.to_owned(), imds_base);
        }
        let vaults = vaults
            .iter()
            .map(|v| parse_vault(v))
            .collect::<Result<Vec<_>, _>>()?;
        for (name, value) in guest_env {
            if !GUEST_ENV_ALLOW_LIST.contains(&name.as_str()) {
                return Err(Error::Config(format!(
                    "`{name}` may not be passed to the component; allowed variables: {}",
                    GUEST_ENV_ALLOW_LIST.join(", ")
                )));
            }
            env.insert(name, value);
        }
        if call.timeout.is_zero() || call.cpu.is_zero() {
            return Err(Error::Config(
                "the call timeout and CPU limit must be greater than zero".into(),
            ));
        }
        let policy = EgressPolicy {
            identity_endpoints: vec![imds_rule],
            vaults,
            connect_to,
        };
        let connector = Connector {
            resolver,
            tls: crate::tls::client_config(&extra_roots)?,
            limits: request,
        };
        Ok(Config {
            policy: Arc::new(policy),
            connector: Arc::new(connector),
            guest_env: Arc::new(env),
            limits: call,
        })
    }
}

/// Parses an IMDS base URL into its policy rule and the normalised base
/// handed to the component.
fn parse_imds_endpoint(raw: &str) -> Result<(EndpointRule, String), Error> {
    let invalid = |why: &str| {
        Error::Config(format!(
            "the IMDS endpoint `{raw}` {why}; give a base URL such as http://169.254.169.254 or http://127.0.0.1:8080"
        ))
    };
    let uri: http::Uri = raw.trim().parse().map_err(|_| invalid("is not a URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => {
            return Err(invalid(
                "is not http (IMDS is plain http on a local address)",
            ));
        }
        None => return Err(invalid("has no scheme")),
    }
    if uri.query().is_some() {
        return Err(invalid("has a query string"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
    let (host, port) =
        policy::split_authority(authority.as_str(), Scheme::Http).map_err(|why| invalid(&why))?;
    if let Some(ip) = policy::ip_literal(&host)
        && !EgressPolicy::address_allowed(policy::DestinationKind::IdentityEndpoint, ip)
    {
        return Err(invalid(
            "is not a loopback or link-local address; an identity endpoint is served by this machine (or IMDS at 169.254.169.254), and tokens are never sent in the clear across a network",
        ));
    }
    let base_path = uri.path().trim_end_matches('/');
    let base = if port == 80 {
        format!("http://{host}{base_path}")
    } else {
        format!("http://{host}:{port}{base_path}")
    };
    let rule = EndpointRule {
        scheme: Scheme::Http,
        host,
        port,
        path: format!("{base_path}{IMDS_TOKEN_PATH}"),
    };
    Ok((rule, base))
}

/// Parses an allowed vault URL (or bare host) into its host name.
fn parse_vault(raw: &str) -> Result<String, Error> {
    let invalid = |why: &str| {
        Error::Config(format!(
            "the vault `{raw}` {why}; give https://<vault-name>.vault.azure.net"
        ))
    };
    let with_scheme = if raw.contains("://") {
        raw.trim().to_owned()
    } else {
        format!("https://{}", raw.trim())
    };
    let uri: http::Uri = with_scheme.parse().map_err(|_| invalid("is not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(invalid("is not https"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(invalid("has a path or query"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
    let (host, port) =
        policy::split_authority(authority.as_str(), Scheme::Https).map_err(|why| invalid(&why))?;
    if port != 443 {
        return Err(invalid(
            "is not on port 443 (map an emulator with connect-to instead)",
        ));
    }
    let known = VAULT_SUFFIXES.iter().any(|suffix| {
        host.strip_suffix(suffix)
            .and_then(|name| name.strip_suffix('.'))
            .is_some_and(|name| !name.is_empty() && !name.contains('.'))
    });
    if !known {
        return Err(invalid(
            "is not a Key Vault host (<name>.vault.azure.net, .vault.azure.cn, .vault.usgovcloudapi.net or .vault.microsoftazure.de)",
        ));
    }
    Ok(host)
}

#[cfg(test)]
mod tests;
