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

pub mod demo;
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
