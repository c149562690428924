//! A local emulator of the Azure services azmi talks to: the IMDS token
//! endpoint (plain HTTP) and a Key Vault (HTTPS with a throw-away CA), on
//! loopback, for the demo, the tests and anyone trying azmi off Azure.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use azmi::emulator::{Emulator, EmulatorConfig};
//! use azmi::{Credential, Identity, Runtime};
//!
//! let emulator = Emulator::start(EmulatorConfig::demo()).await?;
//! let config = emulator.config_builder()?.build()?;
//! let credential = Credential::new(Runtime::new()?, config);
//! let secret = credential
//!     .get_secret(&emulator.vault_url(), "mysecret", None, &Identity::SystemAssigned)
//!     .await?;
//! assert_eq!(secret.value, "TOPSECRET");
//! # Ok(())
//! # }
//! ```

mod imds;
mod jwt;
mod keyvault;
mod pki;
mod server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Config, ConfigBuilder, ConnectTo, Error};

/// An identity the emulated IMDS issues tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedIdentity {
    /// A name for humans.
    pub name: String,
    /// The client (application) id.
    pub client_id: String,
    /// The object (principal) id; Key Vault authorises on it.
    pub object_id: String,
    /// The ARM resource id of a user-assigned identity.
    pub resource_id: Option<String>,
}

/// One version of an emulated secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersion {
    /// 32 hexadecimal characters.
    pub version: String,
    /// The value.
    pub value: String,
    /// Content type, if any.
    pub content_type: Option<String>,
    /// Disabled versions answer 403 `SecretDisabled`.
    pub enabled: bool,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Tags.
    pub tags: Vec<(String, String)>,
}

impl std::fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version", &self.version)
            .field("value", &"[redacted]")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// An emulated secret; the last version is the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatedSecret {
    /// The secret name.
    pub name: String,
    /// Versions, oldest first.
    pub versions: Vec<SecretVersion>,
    /// Object ids that may read it; `None` means the vault's readers.
    pub readers: Option<Vec<String>>,
}

/// What the emulator serves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The tenant tokens are issued in.
    pub tenant_id: String,
    /// The system-assigned identity, if the emulated resource has one.
    pub system_identity: Option<EmulatedIdentity>,
    /// User-assigned identities.
    pub user_assigned: Vec<EmulatedIdentity>,
    /// The vault's host name, such as `myvault.vault.azure.net`.
    pub vault_host: String,
    /// Object ids that may read every secret without its own `readers`.
    pub vault_readers: Vec<String>,
    /// The secrets.
    pub secrets: Vec<EmulatedSecret>,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// Issue every token for this audience, whatever was asked: reproduces
    /// the classic mistake that Key Vault answers with `AKV10022`.
    pub audience_override: Option<String>,
    /// Where IMDS listens (port 0 for an ephemeral port).
    pub imds_listen: SocketAddr,
    /// Where the vault listens.
    pub vault_listen: SocketAddr,
}

/// Ids of the demo data, for tests and documentation.
pub mod demo {
    /// The demo tenant.
    pub const TENANT_ID: &str = "4f1c7b9e-2d3a-4c5b-8e6f-7a8b9c0d1e2f";
    /// Client id of the system-assigned identity.
    pub const SYSTEM_CLIENT_ID: &str = "0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e8";
    /// Object id of the system-assigned identity.
    pub const SYSTEM_OBJECT_ID: &str = "5b1e8c2a-7d4f-4a3b-9c6e-1f2a3b4c5d6e";
    /// Client id of the user-assigned identity `azmi-demo`.
    pub const USER_CLIENT_ID: &str = "a5b6c7d8-e9f0-4a1b-8c2d-3e4f5a6b7c8d";
    /// Object id of `azmi-demo`.
    pub const USER_OBJECT_ID: &str = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
    /// ARM resource id of `azmi-demo`.
    pub const USER_RESOURCE_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/azmi-demo/providers/Microsoft.ManagedIdentity/userAssignedIdentities/azmi-demo";
    /// The demo vault.
    pub const VAULT_HOST: &str = "myvault.vault.azure.net";
    /// The current version of `mysecret` (value `TOPSECRET`).
    pub const MYSECRET_VERSION: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
    /// The previous version of `mysecret` (value `OLDSECRET`).
    pub const MYSECRET_OLD_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
}

impl EmulatorConfig {
    /// The demo resource: a system-assigned identity and one user-assigned
    /// identity (`azmi-demo`), both readers of `myvault.vault.azure.net`,
    /// which holds `mysecret` (`TOPSECRET`, and an older `OLDSECRET`),
    /// `uami-only` (readable by `azmi-demo` only) and `disabled-secret`.
    pub fn demo() -> EmulatorConfig {
        let version = |version: &str, value: &str, created: u64, enabled: bool| SecretVersion {
            version: version.into(),
            value: value.into(),
            content_type: Some("text/plain".into()),
            enabled,
            created,
            tags: vec![("env".into(), "demo".into())],
        };
        let secret = |name: &str, versions, readers| EmulatedSecret {
            name: name.into(),
            versions,
            readers,
        };
        EmulatorConfig {
            tenant_id: demo::TENANT_ID.into(),
            system_identity: Some(EmulatedIdentity {
                name: "system-assigned".into(),
                client_id: demo::SYSTEM_CLIENT_ID.into(),
                object_id: demo::SYSTEM_OBJECT_ID.into(),
                resource_id: None,
            }),
            user_assigned: vec![EmulatedIdentity {
                name: "azmi-demo".into(),
                client_id: demo::USER_CLIENT_ID.into(),
                object_id: demo::USER_OBJECT_ID.into(),
                resource_id: Some(demo::USER_RESOURCE_ID.into()),
            }],
            vault_host: demo::VAULT_HOST.into(),
            vault_readers: vec![demo::SYSTEM_OBJECT_ID.into(), demo::USER_OBJECT_ID.into()],
            secrets: vec![
                secret(
                    "mysecret",
                    vec![
                        version(demo::MYSECRET_OLD_VERSION, "OLDSECRET", 1_700_000_000, true),
                        version(demo::MYSECRET_VERSION, "TOPSECRET", 1_750_000_000, true),
                    ],
                    None,
                ),
                secret(
                    "uami-only",
                    vec![version(
                        "feedfacefeedfacefeedfacefeedface",
                        "UAMISECRET",
                        1_750_000_000,
                        true,
                    )],
                    Some(vec![demo::USER_OBJECT_ID.into()]),
                ),
                secret(
                    "disabled-secret",
                    vec![version(
                        "deadbeefdeadbeefdeadbeefdeadbeef",
                        "NEVERSHOWN",
                        1_750_000_000,
                        false,
                    )],
                    None,
                ),
            ],
            token_lifetime: Duration::from_secs(86_399),
            audience_override: None,
            imds_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            vault_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig::demo()
    }
}

#[derive(Default)]
struct Counters {
    imds: AtomicU64,
    vault: AtomicU64,
}

struct State {
    config: EmulatorConfig,
    signer: jwt::Signer,
    counters: Counters,
}

/// A running emulator. Its services stop when it is dropped.
pub struct Emulator {
    imds_addr: SocketAddr,
    vault_addr: SocketAddr,
    vault_host: String,
    ca_pem: String,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Starts both services on the current tokio runtime.
    ///
    /// # Errors
    /// A message naming the address that could not be bound, or why the
    /// certificates could not be made.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, String> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("the emulator cannot listen on {addr} for {what}: {e}"))
        };
        let imds_listener = bind(config.imds_listen, "IMDS").await?;
        let vault_listener = bind(config.vault_listen, "Key Vault").await?;
        let local = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
        let (imds_addr, vault_addr) = (local(&imds_listener)?, local(&vault_listener)?);
        let pki = pki::generate(std::slice::from_ref(&config.vault_host))?;
        let vault_host = config.vault_host.clone();
        let state = Arc::new(State {
            config,
            signer: jwt::Signer::new()?,
            counters: Counters::default(),
        });

        let imds_state = state.clone();
        let imds: server::Handler = Arc::new(move |request| {
            let response = imds::handle(&imds_state, &request);
            Box::pin(async move { response })
        });
        let vault_state = state.clone();
        let vault: server::Handler = Arc::new(move |request| {
            let response = keyvault::handle(&vault_state, &request);
            Box::pin(async move { response })
        });
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config);
        let tasks = vec![
            tokio::spawn(server::serve(imds_listener, None, imds)),
            tokio::spawn(server::serve(vault_listener, Some(acceptor), vault)),
        ];
        Ok(Emulator {
            imds_addr,
            vault_addr,
            vault_host,
            ca_pem: pki.ca_pem,
            state,
            tasks,
        })
    }

    /// The IMDS base URL, `http://127.0.0.1:<port>`.
    pub fn imds_endpoint(&self) -> String {
        format!("http://{}", self.imds_addr)
    }

    /// Where the vault listens.
    pub fn vault_addr(&self) -> SocketAddr {
        self.vault_addr
    }

    /// The vault's URL as clients name it, `https://myvault.vault.azure.net`.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_host)
    }

    /// The pin that sends the vault's name to the emulator.
    pub fn connect_to(&self) -> ConnectTo {
        ConnectTo {
            host: self.vault_host.clone(),
            port: 443,
            target_host: self.vault_addr.ip().to_string(),
            target_port: self.vault_addr.port(),
        }
    }

    /// The emulator's CA certificate (PEM), to trust for the vault.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Token requests served so far.
    pub fn imds_requests(&self) -> u64 {
        self.state.counters.imds.load(Ordering::Relaxed)
    }

    /// Vault requests served so far.
    pub fn vault_requests(&self) -> u64 {
        self.state.counters.vault.load(Ordering::Relaxed)
    }

    /// A configuration pointing at this emulator: its IMDS endpoint, its
    /// vault allowed and pinned to it, its CA trusted.
    ///
    /// # Errors
    /// Not expected: the CA was generated here.
    pub fn config_builder(&self) -> Result<ConfigBuilder, Error> {
        Config::builder()
            .imds_endpoint(self.imds_endpoint())
            .allow_vault(self.vault_url())
            .connect_to(self.connect_to())
            .add_root_certificates_pem(self.ca_pem.as_bytes(), "the emulator's CA")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
