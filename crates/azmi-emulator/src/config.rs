//! What the emulator serves: identities, secrets, addresses, and how the
//! Arc agent behaves (including the hostile ways the tests need).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// An identity the emulated endpoints issue tokens for.
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

/// A federated credential on a user-assigned identity: Entra issues that
/// identity's tokens for a service-account token with exactly this issuer,
/// subject and audience (compared case-sensitively, as Entra does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedCredential {
    /// The client id of the user-assigned identity it is on.
    pub client_id: String,
    /// The issuer; `None` is the emulator's own service-account issuer.
    pub issuer: Option<String>,
    /// `system:serviceaccount:<namespace>:<name>`.
    pub subject: String,
    /// `api://AzureADTokenExchange`, normally.
    pub audience: String,
}

/// The emulated AKS side of workload identity: the service account whose
/// token kubelet projects into the pod, and how it rotates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadIdentityConfig {
    /// The pod's service account, `system:serviceaccount:<namespace>:<name>`.
    pub subject: String,
    /// The audience the projected token is for.
    pub audience: String,
    /// Lifetime of each projected token (kubelet's default is an hour).
    pub token_lifetime: Duration,
    /// Rotate the file this often on its own; `None` only when asked
    /// (`Emulator::rotate_workload_identity_token`).
    pub rotate_every: Option<Duration>,
    /// The projected volume's directory; `None` makes a temporary one that
    /// lives as long as the emulator.
    pub token_dir: Option<PathBuf>,
    /// The host name clients use for Entra, which the emulator's
    /// certificate names (pin it to `Emulator::entra_addr`).
    pub authority_host: String,
    /// Where the emulated Entra listens (TLS).
    pub listen: SocketAddr,
    /// Federated credentials on the user-assigned identities.
    pub federated: Vec<FederatedCredential>,
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
    /// Where the vault also listens in plain HTTP, if anywhere: for a host
    /// that cannot be given the emulator's CA (`wasmtime serve` trusts
    /// only the public web PKI), through a test component that sends its
    /// `https` requests as `http`. The same vault, secrets and counters.
    pub vault_plaintext_listen: Option<SocketAddr>,
    /// The address the other platforms' endpoints listen on (ephemeral ports).
    pub platform_ip: IpAddr,
    /// How the emulated Arc agent behaves.
    pub arc: ArcBehavior,
    /// Where the Arc agent writes its key files; `None` makes a temporary
    /// directory that lives as long as the emulator.
    pub arc_token_dir: Option<PathBuf>,
    /// Workload identity: the projected token and the emulated Entra.
    pub workload_identity: WorkloadIdentityConfig,
    /// Faults queued per service from the start (see `Emulator::inject`).
    pub faults: Vec<(super::Service, Vec<super::Fault>)>,
}

/// How the emulated Arc agent answers. `Normal` is the agent; the others
/// are the misbehaviours a client must survive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ArcBehavior {
    /// Challenge with a fresh key file, accept it once, echo the identity used.
    #[default]
    Normal,
    /// An agent too old for user-assigned identities: it ignores the
    /// selector and answers for the system-assigned identity, echoing nothing.
    Legacy,
    /// Challenge with this `WWW-Authenticate` value (or none), as given.
    Challenge(Option<String>),
    /// Answer the first request with this status instead of the challenge.
    FirstStatus(u16),
    /// Refuse every key with a second 401.
    RejectKey,
}
