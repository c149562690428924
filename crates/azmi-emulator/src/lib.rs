//! A local emulator of the Azure services azmi talks to, on loopback, for
//! the demo, the tests and anyone trying azmi off Azure: the identity
//! endpoint of every managed-identity source (IMDS, Arc, App Service,
//! App Service 2017, Service Fabric, Cloud Shell) and a Key Vault (HTTPS
//! with a throw-away CA).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use azmi_emulator::{Emulator, EmulatorConfig};
//! use azmi::{Credential, Identity, Runtime};
//!
//! let emulator = Emulator::start(EmulatorConfig::demo()).await?;
//! let config = emulator.config_builder()?.build()?;
//! let credential = Credential::new(Runtime::new()?, config);
//! let secret = credential
//!     .get_secret(&emulator.vault_url(), "mysecret", None, &Identity::SystemAssigned)
//!     .await?;
//! assert_eq!(secret.value.expose(), "TOPSECRET");
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod arc_keys;
mod config;
pub mod demo;
mod entra;
mod error;
mod faults;
mod imds;
mod jwt;
mod keyvault;
mod kubelet;
mod pki;
mod platforms;
mod server;
mod service;
mod tokens;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use azmi_core::Source;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{
    ArcBehavior, EmulatedIdentity, EmulatedSecret, EmulatorConfig, FederatedCredential,
    SecretVersion, WorkloadIdentityConfig,
};
pub use error::{Error, FaultSyntaxError};
pub use faults::{ExpiryForm, FAULTS_SHOWN, Fault, parse_fault_list};
pub use kubelet::{TOKEN_FILE_NAME, TokenFileFault};
pub use service::Service;

use arc_keys::ArcKeys;
use service::{HandlerFn, SPECS, Tls};

use azmi::{Config, ConfigBuilder, ConnectTo};

/// What every service's handlers share: the configuration, the signer,
/// the counters, the keys and the faults.
struct Shared {
    config: EmulatorConfig,
    signer: jwt::Signer,
    counters: [AtomicU64; SERVICES],
    connections: [AtomicU64; SERVICES],
    open_connections: Arc<[AtomicU64; SERVICES]>,
    arc_keys: ArcKeys,
    /// App Service's and Service Fabric's `IDENTITY_HEADER`.
    identity_header: String,
    /// App Service 2017's `MSI_SECRET`.
    msi_secret: String,
    faults: faults::Faults,
    /// The cluster's service-account issuer, and kubelet projecting its
    /// token (workload identity).
    issuer: kubelet::Issuer,
    kubelet: kubelet::Kubelet,
    /// The `jti` of every assertion Entra accepted, in order.
    assertions: std::sync::Mutex<Vec<String>>,
}

/// How many services the emulator runs (`Service::ALL`).
const SERVICES: usize = Service::ALL.len();

impl Shared {
    fn count(&self, service: Service) {
        self.counters[service.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Queues `faults` for `service`; kubelet takes the token-file ones.
    fn inject(&self, service: Service, faults: impl IntoIterator<Item = Fault>) {
        let (files, requests): (Vec<Fault>, Vec<Fault>) = faults
            .into_iter()
            .partition(|f| matches!(f, Fault::TokenFile(_)));
        self.kubelet
            .queue(files.into_iter().filter_map(|f| match f {
                Fault::TokenFile(file) => Some(file),
                _ => None,
            }));
        self.faults.push(service, requests);
    }

    fn record_assertion(&self, id: &str) {
        self.assertions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id.to_owned());
    }
}

/// `bytes` random bytes, as hexadecimal.
pub(crate) fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| Error::setup("random values", "the system has no randomness".into()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A running emulator. Its services stop when it is dropped.
pub struct Emulator {
    /// Where each service listens, by `Service::index`.
    addrs: [SocketAddr; SERVICES],
    vault_plaintext_addr: Option<SocketAddr>,
    vault_host: String,
    pin: ConnectTo,
    ca_pem: String,
    service_fabric_thumbprint: String,
    state: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    _arc_dir: Option<tempfile::TempDir>,
    _token_dir: Option<tempfile::TempDir>,
    authority_pin: ConnectTo,
}

/// Counts `service`'s connections, and those still open: the guard it
/// returns lives as long as the connection.
fn accepted(state: &Arc<Shared>, service: Service) -> impl Fn() -> OpenConnection + Send + 'static {
    let state = state.clone();
    move || {
        state.connections[service.index()].fetch_add(1, Ordering::Relaxed);
        state.open_connections[service.index()].fetch_add(1, Ordering::Relaxed);
        OpenConnection {
            open: state.open_connections.clone(),
            index: service.index(),
        }
    }
}

/// One open connection of a service; closing it (dropping this) counts it.
pub(crate) struct OpenConnection {
    open: Arc<[AtomicU64; SERVICES]>,
    index: usize,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}

/// `service`'s handler: counts the request, then answers it with the next
/// queued fault applied (or plainly).
fn handler(state: &Arc<Shared>, service: Service, f: HandlerFn) -> server::Handler {
    let state = state.clone();
    Arc::new(move |request| {
        state.count(service);
        // With `azmi -v emulator`, one line per request: the path and query
        // (resource and identity ids, no credential: those travel in headers).
        tracing::debug!(
            target: "azmi::emulator",
            "request: {} {} {}",
            service.name(),
            request.method(),
            request.uri().path_and_query().map_or("/", |p| p.as_str())
        );
        let fault = state.faults.next(service).unwrap_or(Fault::Normal);
        let state = state.clone();
        Box::pin(async move {
            faults::apply(fault, service, request.headers(), || f(&state, &request)).await
        })
    })
}

/// A listener with a deep accept queue: under load (thousands of tenants
/// opening connections while the CPU is busy) a short queue drops SYNs, and
/// clients see connect timeouts the real services would not cause.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

impl Emulator {
    /// Starts every service on the current tokio runtime.
    ///
    /// # Errors
    /// `Error::Listen` naming the address that could not be bound, or
    /// `Error::Setup` when the certificates, the Arc token directory or the
    /// vault's pin could not be made.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, Error> {
        let mut listeners = Vec::with_capacity(SERVICES);
        for spec in &SPECS {
            let addr = (spec.listen)(&config);
            let listener = listen(addr).map_err(|source| Error::Listen {
                addr,
                service: spec.what,
                source,
            })?;
            let local = listener.local_addr().map_err(|source| Error::Listen {
                addr,
                service: spec.what,
                source,
            })?;
            listeners.push((listener, local));
        }
        let addrs: [SocketAddr; SERVICES] = std::array::from_fn(|i| listeners[i].1);
        let plaintext_vault = match config.vault_plaintext_listen {
            None => None,
            Some(addr) => {
                let listener = listen(addr).map_err(|source| Error::Listen {
                    addr,
                    service: "Key Vault (plain HTTP)",
                    source,
                })?;
                let local = listener.local_addr().map_err(|source| Error::Listen {
                    addr,
                    service: "Key Vault (plain HTTP)",
                    source,
                })?;
                Some((listener, local))
            }
        };
        let vault_plaintext_addr = plaintext_vault.as_ref().map(|(_, addr)| *addr);

        let entra_host = config.workload_identity.authority_host.clone();
        let pki = pki::generate(
            std::slice::from_ref(&config.vault_host),
            &[entra_host.clone(), "localhost".into(), "127.0.0.1".into()],
        )?;
        let (token_dir, token_temp) = match &config.workload_identity.token_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("azmi-workload-identity-")
                    .tempdir()
                    .map_err(|e| Error::setup("the projected token's directory", e.to_string()))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let entra_addr = addrs[Service::WorkloadIdentity.index()];
        let authority_pin = ConnectTo::new(
            &entra_host,
            443,
            &entra_addr.ip().to_string(),
            entra_addr.port(),
        )
        .map_err(|e| Error::setup("Entra's connect-to pin", e.to_string()))?;
        let local_names = vec!["localhost".to_owned(), config.platform_ip.to_string()];
        let (fabric_tls, service_fabric_thumbprint) = pki::self_signed(&local_names)?;
        let (arc_dir, temp_dir) = match &config.arc_token_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("azmi-arc-tokens-")
                    .tempdir()
                    .map_err(|e| Error::setup("the Arc token directory", e.to_string()))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let vault_host = config.vault_host.clone();
        let vault_addr = addrs[Service::Vault.index()];
        let pin = ConnectTo::new(
            &vault_host,
            443,
            &vault_addr.ip().to_string(),
            vault_addr.port(),
        )
        .map_err(|e| Error::setup("the vault's connect-to pin", e.to_string()))?;
        let state = Arc::new(Shared {
            signer: jwt::Signer::new()?,
            counters: Default::default(),
            connections: Default::default(),
            open_connections: Default::default(),
            arc_keys: ArcKeys::new(arc_dir),
            identity_header: random_hex(16)?,
            msi_secret: random_hex(16)?,
            faults: faults::Faults::default(),
            issuer: kubelet::Issuer::new(&config.tenant_id)?,
            kubelet: kubelet::Kubelet::new(token_dir, config.workload_identity.clone()),
            assertions: Default::default(),
            config,
        });
        for (service, faults) in &state.config.faults {
            state.inject(*service, faults.iter().cloned());
        }
        state.kubelet.rotate(&state.issuer)?;
        let acceptor = |config: &Arc<rustls::ServerConfig>| {
            Some(tokio_rustls::TlsAcceptor::from(config.clone()))
        };
        let mut tasks: Vec<JoinHandle<()>> = listeners
            .into_iter()
            .zip(&SPECS)
            .map(|((listener, _), spec)| {
                let tls = match spec.tls {
                    Tls::Plain => None,
                    Tls::Vault => acceptor(&pki.server_config),
                    Tls::SelfSigned => acceptor(&fabric_tls),
                    Tls::Entra => acceptor(&pki.entra_config),
                };
                tokio::spawn(server::serve(
                    listener,
                    tls,
                    handler(&state, spec.service, spec.handler),
                    accepted(&state, spec.service),
                ))
            })
            .collect();
        if let Some(every) = state.config.workload_identity.rotate_every {
            let state = state.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if let Err(e) = state.kubelet.rotate(&state.issuer) {
                        tracing::warn!(target: "azmi::emulator", "kubelet: {e}");
                    }
                }
            }));
        }
        if let Some((listener, _)) = plaintext_vault {
            tasks.push(tokio::spawn(server::serve(
                listener,
                None,
                handler(&state, Service::Vault, keyvault::handle),
                accepted(&state, Service::Vault),
            )));
        }
        Ok(Emulator {
            addrs,
            vault_plaintext_addr,
            vault_host,
            pin,
            ca_pem: pki.ca_pem,
            service_fabric_thumbprint,
            state,
            tasks,
            _arc_dir: temp_dir,
            _token_dir: token_temp,
            authority_pin,
        })
    }

    /// Where `service` listens.
    pub fn addr(&self, service: Service) -> SocketAddr {
        self.addrs[service.index()]
    }

    /// The IMDS base URL, `http://127.0.0.1:<port>`.
    pub fn imds_endpoint(&self) -> String {
        format!("http://{}", self.addr(Service::Imds))
    }

    /// Where the vault also listens in plain HTTP, when
    /// `EmulatorConfig::vault_plaintext_listen` asked for it.
    pub fn vault_plaintext_addr(&self) -> Option<SocketAddr> {
        self.vault_plaintext_addr
    }

    /// Where the vault listens (TLS with the emulator's CA).
    pub fn vault_addr(&self) -> SocketAddr {
        self.addr(Service::Vault)
    }

    /// The vault's URL as clients name it, `https://myvault.vault.azure.net`.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_host)
    }

    /// The pin that sends the vault's name to the emulator.
    pub fn connect_to(&self) -> ConnectTo {
        self.pin.clone()
    }

    /// The CA certificate (PEM) of the vault's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The directory the Arc agent writes its key files to; grant it to the
    /// sandbox (`--arc-token-dir`).
    pub fn arc_token_dir(&self) -> &Path {
        self.state.arc_keys.dir()
    }

    /// The thumbprint of the Service Fabric endpoint's certificate.
    pub fn service_fabric_thumbprint(&self) -> &str {
        &self.service_fabric_thumbprint
    }

    /// Queues faults for `service`'s next requests, after those already
    /// queued. For `Service::WorkloadIdentity`, `Fault::TokenFile` faults
    /// are what kubelet writes at its next rotations instead.
    pub fn inject(&self, service: Service, faults: impl IntoIterator<Item = Fault>) {
        self.state.inject(service, faults);
    }

    /// The projected service-account token file, as a pod sees it.
    pub fn workload_identity_token_file(&self) -> std::path::PathBuf {
        self.state.kubelet.file()
    }

    /// Has kubelet replace the projected token now (with the next queued
    /// `Fault::TokenFile`, if any).
    ///
    /// # Errors
    /// `Error::Setup` when the file cannot be written.
    pub fn rotate_workload_identity_token(&self) -> Result<(), Error> {
        self.state.kubelet.rotate(&self.state.issuer)
    }

    /// The id (`jti`) of the projected token in the file now.
    pub fn workload_identity_token_id(&self) -> String {
        self.state.kubelet.current()
    }

    /// The ids of the assertions Entra accepted so far, in order.
    pub fn accepted_assertions(&self) -> Vec<String> {
        self.state
            .assertions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The service-account issuer's URL (the `iss` of projected tokens).
    pub fn service_account_issuer(&self) -> &str {
        &self.state.issuer.url
    }

    /// Entra's authority as clients name it, `https://login.microsoftonline.com/`.
    pub fn authority_host(&self) -> String {
        format!(
            "https://{}/",
            self.state.config.workload_identity.authority_host
        )
    }

    /// Where the emulated Entra listens (TLS with the emulator's CA, for
    /// the authority's name, `localhost` and `127.0.0.1`).
    pub fn entra_addr(&self) -> SocketAddr {
        self.addr(Service::WorkloadIdentity)
    }

    /// The pin that sends the authority's name to the emulator.
    pub fn authority_connect_to(&self) -> ConnectTo {
        self.authority_pin.clone()
    }

    /// Requests `service` has answered so far.
    pub fn requests(&self, service: Service) -> u64 {
        self.state.counters[service.index()].load(Ordering::Relaxed)
    }

    /// Connections `service` has accepted so far (fewer than requests when
    /// clients keep connections alive).
    pub fn connections(&self, service: Service) -> u64 {
        self.state.connections[service.index()].load(Ordering::Relaxed)
    }

    /// `service`'s connections open now (the client has not closed them).
    pub fn open_connections(&self, service: Service) -> u64 {
        self.state.open_connections[service.index()].load(Ordering::Relaxed)
    }

    /// Token requests served by IMDS so far.
    pub fn imds_requests(&self) -> u64 {
        self.requests(Service::Imds)
    }

    /// Vault requests served so far.
    pub fn vault_requests(&self) -> u64 {
        self.requests(Service::Vault)
    }

    /// The variables a platform sets for `source`, pointing at this
    /// emulator. They include credentials (`IDENTITY_HEADER`, `MSI_SECRET`).
    pub fn source_variables(&self, source: Source) -> Vec<(&'static str, String)> {
        use azmi_core::*;
        let token_url = |service, path: &str| format!("http://{}{path}", self.addr(service));
        match source {
            Source::Imds => vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, self.imds_endpoint())],
            Source::Arc => vec![
                (
                    IDENTITY_ENDPOINT,
                    token_url(Service::Arc, platforms::TOKEN_PATH),
                ),
                (IMDS_ENDPOINT, format!("http://{}", self.addr(Service::Arc))),
            ],
            Source::AppService => vec![
                (
                    IDENTITY_ENDPOINT,
                    token_url(Service::AppService, platforms::APP_SERVICE_PATH),
                ),
                (IDENTITY_HEADER, self.state.identity_header.clone()),
            ],
            Source::AppService2017 => vec![
                (
                    MSI_ENDPOINT,
                    token_url(Service::AppService2017, platforms::APP_SERVICE_PATH),
                ),
                (MSI_SECRET, self.state.msi_secret.clone()),
            ],
            Source::ServiceFabric => vec![
                (
                    IDENTITY_ENDPOINT,
                    format!(
                        "https://{}{}",
                        self.addr(Service::ServiceFabric),
                        platforms::TOKEN_PATH
                    ),
                ),
                (IDENTITY_HEADER, self.state.identity_header.clone()),
                (
                    IDENTITY_SERVER_THUMBPRINT,
                    self.service_fabric_thumbprint.clone(),
                ),
            ],
            Source::CloudShell => vec![(
                MSI_ENDPOINT,
                token_url(Service::CloudShell, platforms::CLOUD_SHELL_PATH),
            )],
            Source::WorkloadIdentity => vec![
                (
                    AZURE_FEDERATED_TOKEN_FILE,
                    self.workload_identity_token_file().display().to_string(),
                ),
                (
                    AZURE_CLIENT_ID,
                    self.state
                        .config
                        .workload_identity
                        .federated
                        .first()
                        .map(|f| f.client_id.clone())
                        .unwrap_or_default(),
                ),
                (AZURE_TENANT_ID, self.state.config.tenant_id.clone()),
                (AZURE_AUTHORITY_HOST, self.authority_host()),
            ],
        }
    }

    /// A configuration pointing at this emulator's IMDS and vault: the
    /// vault allowed and pinned to the emulator, its CA trusted.
    ///
    /// # Errors
    /// Not expected: the CA was generated here.
    pub fn config_builder(&self) -> Result<ConfigBuilder, azmi::Error> {
        self.config_builder_for(Source::Imds)
    }

    /// As `config_builder`, with `source`'s variables set (for Arc, the
    /// emulator's token directory granted; for workload identity, the
    /// authority pinned to the emulated Entra).
    ///
    /// # Errors
    /// Not expected: the CA was generated here.
    pub fn config_builder_for(&self, source: Source) -> Result<ConfigBuilder, azmi::Error> {
        let builder = self
            .source_variables(source)
            .into_iter()
            .fold(Config::builder(), |b, (name, value)| {
                b.identity_variable(name, value)
            })
            .arc_token_dir(self.arc_token_dir())
            .allow_vault(self.vault_url())
            .connect_to(self.connect_to());
        let builder = if source == Source::WorkloadIdentity {
            builder.connect_to(self.authority_connect_to())
        } else {
            builder
        };
        builder.add_root_certificates_pem(self.ca_pem.as_bytes(), "the emulator's CA")
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
