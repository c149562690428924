//! A local emulator of the Azure services azmi talks to, on loopback, for
//! the demo, the tests and anyone trying azmi off Azure: the identity
//! endpoint of every managed-identity source (IMDS, Arc, App Service,
//! App Service 2017, Service Fabric, Cloud Shell) and a Key Vault (HTTPS
//! with a throw-away CA).
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

mod config;
pub mod demo;
mod faults;
mod imds;
mod jwt;
mod keyvault;
mod pki;
mod platforms;
mod server;
mod tokens;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use azmi_core::Source;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use config::{ArcBehavior, EmulatedIdentity, EmulatedSecret, EmulatorConfig, SecretVersion};
pub use faults::{ExpiryForm, FAULTS_SHOWN, Fault, parse_fault_list};

use crate::{Config, ConfigBuilder, ConnectTo, Error};

/// The services the emulator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Instance Metadata Service.
    Imds,
    /// The Key Vault.
    Vault,
    /// The Azure Arc agent.
    Arc,
    /// App Service (2019-08-01).
    AppService,
    /// App Service 2017-09-01 / Azure ML.
    AppService2017,
    /// Service Fabric.
    ServiceFabric,
    /// Cloud Shell.
    CloudShell,
}

impl Service {
    const ALL: [Service; 7] = [
        Service::Imds,
        Service::Vault,
        Service::Arc,
        Service::AppService,
        Service::AppService2017,
        Service::ServiceFabric,
        Service::CloudShell,
    ];

    /// The service named `name` (`imds`, `vault`, `arc`, `app-service`,
    /// `app-service-2017`, `service-fabric`, `cloud-shell`).
    pub fn from_name(name: &str) -> Option<Service> {
        Some(match name {
            "imds" => Service::Imds,
            "vault" => Service::Vault,
            _ => Service::of(Source::from_name(name)?),
        })
    }

    fn index(self) -> usize {
        Service::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or_default()
    }

    /// The identity endpoint's service for `source`.
    pub fn of(source: Source) -> Service {
        match source {
            Source::Imds => Service::Imds,
            Source::Arc => Service::Arc,
            Source::AppService => Service::AppService,
            Source::AppService2017 => Service::AppService2017,
            Source::ServiceFabric => Service::ServiceFabric,
            Source::CloudShell => Service::CloudShell,
        }
    }
}

/// The Arc agent's key files: each challenge writes a fresh one, each
/// accepted key is used once and deleted.
struct ArcKeys {
    dir: PathBuf,
    issued: Mutex<HashMap<String, PathBuf>>,
}

impl ArcKeys {
    /// Writes a new key file; returns its path as the agent names it.
    fn issue(&self) -> Result<String, String> {
        let name = format!("{}.key", random_hex(8)?);
        let key = random_hex(32)?;
        let path = self.dir.join(&name);
        write_private(&path, key.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.issued
            .lock()
            .map_err(|_| "lock poisoned")?
            .insert(key, path);
        Ok(format!("{}/{name}", azmi_core::ARC_TOKEN_DIR))
    }

    /// Accepts `key` once.
    fn redeem(&self, key: &str) -> bool {
        let Ok(mut issued) = self.issued.lock() else {
            return false;
        };
        match issued.remove(key) {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                true
            }
            None => false,
        }
    }
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf)
        .map_err(|_| "no randomness".to_owned())?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read, as the Arc agent's keys are.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

struct State {
    config: EmulatorConfig,
    signer: jwt::Signer,
    counters: [AtomicU64; 7],
    connections: [AtomicU64; 7],
    open_connections: Arc<[AtomicU64; 7]>,
    arc_keys: ArcKeys,
    /// App Service's and Service Fabric's `IDENTITY_HEADER`.
    identity_header: String,
    /// App Service 2017's `MSI_SECRET`.
    msi_secret: String,
    faults: faults::Faults,
}

impl State {
    fn count(&self, service: Service) {
        self.counters[service.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// A running emulator. Its services stop when it is dropped.
pub struct Emulator {
    addrs: HashMap<&'static str, SocketAddr>,
    vault_host: String,
    ca_pem: String,
    service_fabric_thumbprint: String,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
    _arc_dir: Option<tempfile::TempDir>,
}

type HandlerFn = fn(&Arc<State>, &http::Request<bytes::Bytes>) -> http::Response<server::Body>;

/// Counts `service`'s connections, and those still open: the guard it
/// returns lives as long as the connection.
fn accepted(state: &Arc<State>, service: Service) -> impl Fn() -> OpenConnection + Send + 'static {
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
    open: Arc<[AtomicU64; 7]>,
    index: usize,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open[self.index].fetch_sub(1, Ordering::Relaxed);
    }
}

/// `service`'s handler: counts the request, then answers it with the next
/// queued fault applied (or plainly).
fn handler(state: &Arc<State>, service: Service, f: HandlerFn) -> server::Handler {
    let state = state.clone();
    Arc::new(move |request| {
        state.count(service);
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
    /// A message naming the address that could not be bound, or why the
    /// certificates or the Arc token directory could not be made.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, String> {
        let bind = |addr: SocketAddr, what: &'static str| async move {
            let listener = listen(addr)
                .map_err(|e| format!("the emulator cannot listen on {addr} for {what}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            Ok::<_, String>((listener, local))
        };
        let platform = SocketAddr::new(config.platform_ip, 0);
        let (imds, imds_addr) = bind(config.imds_listen, "IMDS").await?;
        let (vault, vault_addr) = bind(config.vault_listen, "Key Vault").await?;
        let (arc, arc_addr) = bind(platform, "Azure Arc").await?;
        let (app, app_addr) = bind(platform, "App Service").await?;
        let (app2017, app2017_addr) = bind(platform, "App Service 2017").await?;
        let (fabric, fabric_addr) = bind(platform, "Service Fabric").await?;
        let (shell, shell_addr) = bind(platform, "Cloud Shell").await?;

        let pki = pki::generate(std::slice::from_ref(&config.vault_host))?;
        let local_names = vec!["localhost".to_owned(), config.platform_ip.to_string()];
        let (fabric_tls, service_fabric_thumbprint) = pki::self_signed(&local_names)?;
        let (arc_dir, temp_dir) = match &config.arc_token_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("azmi-arc-tokens-")
                    .tempdir()
                    .map_err(|e| format!("cannot create the Arc token directory: {e}"))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let vault_host = config.vault_host.clone();
        let state = Arc::new(State {
            config,
            signer: jwt::Signer::new()?,
            counters: Default::default(),
            connections: Default::default(),
            open_connections: Default::default(),
            arc_keys: ArcKeys {
                dir: arc_dir,
                issued: Mutex::new(HashMap::new()),
            },
            identity_header: random_hex(16)?,
            msi_secret: random_hex(16)?,
            faults: faults::Faults::default(),
        });
        for (service, faults) in &state.config.faults {
            state.faults.push(*service, faults.iter().cloned());
        }
        let tls = |config: Arc<rustls::ServerConfig>| Some(tokio_rustls::TlsAcceptor::from(config));
        let tasks = vec![
            tokio::spawn(server::serve(
                imds,
                None,
                handler(&state, Service::Imds, imds::handle),
                accepted(&state, Service::Imds),
            )),
            tokio::spawn(server::serve(
                vault,
                tls(pki.server_config),
                handler(&state, Service::Vault, keyvault::handle),
                accepted(&state, Service::Vault),
            )),
            tokio::spawn(server::serve(
                arc,
                None,
                handler(&state, Service::Arc, platforms::arc),
                accepted(&state, Service::Arc),
            )),
            tokio::spawn(server::serve(
                app,
                None,
                handler(&state, Service::AppService, platforms::app_service),
                accepted(&state, Service::AppService),
            )),
            tokio::spawn(server::serve(
                app2017,
                None,
                handler(&state, Service::AppService2017, platforms::app_service_2017),
                accepted(&state, Service::AppService2017),
            )),
            tokio::spawn(server::serve(
                fabric,
                tls(fabric_tls),
                handler(&state, Service::ServiceFabric, platforms::service_fabric),
                accepted(&state, Service::ServiceFabric),
            )),
            tokio::spawn(server::serve(
                shell,
                None,
                handler(&state, Service::CloudShell, platforms::cloud_shell),
                accepted(&state, Service::CloudShell),
            )),
        ];
        let addrs = HashMap::from([
            ("imds", imds_addr),
            ("vault", vault_addr),
            ("arc", arc_addr),
            ("app", app_addr),
            ("app2017", app2017_addr),
            ("fabric", fabric_addr),
            ("shell", shell_addr),
        ]);
        Ok(Emulator {
            addrs,
            vault_host,
            ca_pem: pki.ca_pem,
            service_fabric_thumbprint,
            state,
            tasks,
            _arc_dir: temp_dir,
        })
    }

    fn addr(&self, name: &str) -> SocketAddr {
        self.addrs[name]
    }

    /// The IMDS base URL, `http://127.0.0.1:<port>`.
    pub fn imds_endpoint(&self) -> String {
        format!("http://{}", self.addr("imds"))
    }

    /// Where the vault listens.
    pub fn vault_addr(&self) -> SocketAddr {
        self.addr("vault")
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
            target_host: self.vault_addr().ip().to_string(),
            target_port: self.vault_addr().port(),
        }
    }

    /// The CA certificate (PEM) of the vault's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The directory the Arc agent writes its key files to; grant it to the
    /// sandbox (`--arc-token-dir`).
    pub fn arc_token_dir(&self) -> &Path {
        &self.state.arc_keys.dir
    }

    /// The thumbprint of the Service Fabric endpoint's certificate.
    pub fn service_fabric_thumbprint(&self) -> &str {
        &self.service_fabric_thumbprint
    }

    /// Queues faults for `service`'s next requests, after those already
    /// queued.
    pub fn inject(&self, service: Service, faults: impl IntoIterator<Item = Fault>) {
        self.state.faults.push(service, faults);
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
        let token_url = |name: &str, path: &str| format!("http://{}{path}", self.addr(name));
        match source {
            Source::Imds => vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, self.imds_endpoint())],
            Source::Arc => vec![
                (IDENTITY_ENDPOINT, token_url("arc", platforms::TOKEN_PATH)),
                (IMDS_ENDPOINT, format!("http://{}", self.addr("arc"))),
            ],
            Source::AppService => vec![
                (
                    IDENTITY_ENDPOINT,
                    token_url("app", platforms::APP_SERVICE_PATH),
                ),
                (IDENTITY_HEADER, self.state.identity_header.clone()),
            ],
            Source::AppService2017 => vec![
                (
                    MSI_ENDPOINT,
                    token_url("app2017", platforms::APP_SERVICE_PATH),
                ),
                (MSI_SECRET, self.state.msi_secret.clone()),
            ],
            Source::ServiceFabric => vec![
                (
                    IDENTITY_ENDPOINT,
                    format!("https://{}{}", self.addr("fabric"), platforms::TOKEN_PATH),
                ),
                (IDENTITY_HEADER, self.state.identity_header.clone()),
                (
                    IDENTITY_SERVER_THUMBPRINT,
                    self.service_fabric_thumbprint.clone(),
                ),
            ],
            Source::CloudShell => vec![(
                MSI_ENDPOINT,
                token_url("shell", platforms::CLOUD_SHELL_PATH),
            )],
        }
    }

    /// A configuration pointing at this emulator's IMDS and vault: the
    /// vault allowed and pinned to the emulator, its CA trusted.
    ///
    /// # Errors
    /// Not expected: the CA was generated here.
    pub fn config_builder(&self) -> Result<ConfigBuilder, Error> {
        self.config_builder_for(Source::Imds)
    }

    /// As `config_builder`, with `source`'s variables set (and, for Arc,
    /// the emulator's token directory granted).
    ///
    /// # Errors
    /// Not expected: the CA was generated here.
    pub fn config_builder_for(&self, source: Source) -> Result<ConfigBuilder, Error> {
        let builder = self
            .source_variables(source)
            .into_iter()
            .fold(Config::builder(), |b, (name, value)| {
                b.identity_variable(name, value)
            })
            .arc_token_dir(self.arc_token_dir())
            .allow_vault(self.vault_url())
            .connect_to(self.connect_to());
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
