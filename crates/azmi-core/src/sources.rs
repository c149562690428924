//! Which managed-identity source serves a machine, decided from its
//! environment alone, the way azure-identity decides it, plus the Arc agent's presence on disk.
//!
//! The guest detects when it runs in any host; azmi's host detects first,
//! grants only that source's endpoint, files and variables, and tells the
//! guest its decision, so both always agree.

use std::fmt;

/// App Service / Functions / Container Apps, Service Fabric and Arc: the token URL.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
/// App Service (`X-IDENTITY-HEADER`) and Service Fabric (`Secret`): a credential.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";
/// Service Fabric: SHA-1 thumbprint of the endpoint's certificate.
pub const IDENTITY_SERVER_THUMBPRINT: &str = "IDENTITY_SERVER_THUMBPRINT";
/// Arc: marks the agent (`http://localhost:40342`); never used as a URL.
pub const IMDS_ENDPOINT: &str = "IMDS_ENDPOINT";
/// App Service 2017 / Azure ML and Cloud Shell: the token URL.
pub const MSI_ENDPOINT: &str = "MSI_ENDPOINT";
/// App Service 2017 / Azure ML: the `secret` header, a credential.
pub const MSI_SECRET: &str = "MSI_SECRET";
/// Azure ML: the default client id.
pub const DEFAULT_IDENTITY_CLIENT_ID: &str = "DEFAULT_IDENTITY_CLIENT_ID";
/// IMDS base URL override (aad-pod-identity; honoured by the Python and .NET SDKs).
pub const AZURE_POD_IDENTITY_AUTHORITY_HOST: &str = "AZURE_POD_IDENTITY_AUTHORITY_HOST";
/// Workload identity (AKS): the projected service-account token file.
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// Workload identity: the client id of the user-assigned identity federated
/// to the service account.
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// Workload identity: the identity's tenant.
pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
/// Workload identity: the Entra authority (`https://login.microsoftonline.com/`
/// when unset).
pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
/// azmi: the source a host decided on (a `Source::name`), which the guest
/// then uses instead of detecting.
pub const AZMI_IDENTITY_SOURCE: &str = "AZMI_IDENTITY_SOURCE";
/// azmi: `present` when the host found the Arc agent's `himds` binary; the
/// guest cannot look at the host's disk itself.
pub const AZMI_ARC_AGENT: &str = "AZMI_ARC_AGENT";
/// azmi: the retry settings a host chose (`max_retries=5,base_ms=800,…`).
pub const AZMI_RETRY: &str = "AZMI_RETRY";

/// Every variable a guest may be given. Nothing else reaches it.
pub const VARIABLES: &[&str] = &[
    IDENTITY_ENDPOINT,
    IDENTITY_HEADER,
    IDENTITY_SERVER_THUMBPRINT,
    IMDS_ENDPOINT,
    MSI_ENDPOINT,
    MSI_SECRET,
    DEFAULT_IDENTITY_CLIENT_ID,
    AZURE_POD_IDENTITY_AUTHORITY_HOST,
    AZURE_FEDERATED_TOKEN_FILE,
    AZURE_CLIENT_ID,
    AZURE_TENANT_ID,
    AZURE_AUTHORITY_HOST,
    AZMI_IDENTITY_SOURCE,
    AZMI_ARC_AGENT,
    AZMI_RETRY,
];

/// Variables whose values are credentials: never log them.
pub const SECRET_VARIABLES: &[&str] = &[IDENTITY_HEADER, MSI_SECRET];

/// The IMDS base URL when nothing overrides it.
pub const IMDS_DEFAULT_BASE: &str = "http://169.254.169.254";
/// The managed-identity token path, under IMDS's base URL and the Arc
/// agent's.
macro_rules! token_path {
    () => {
        "/metadata/identity/oauth2/token"
    };
}

/// The path of the token endpoint below an IMDS base URL (and the Arc
/// agent's address).
pub const IMDS_TOKEN_PATH: &str = token_path!();

/// The Arc agent's token endpoint when `IDENTITY_ENDPOINT` is not set.
pub const ARC_DEFAULT_ENDPOINT: &str = concat!("http://localhost:40342", token_path!());
/// Where the Arc agent puts its key files, as it names them in the challenge.
pub const ARC_TOKEN_DIR: &str = "/var/opt/azcmagent/tokens";
/// The Arc agent binary whose presence means "this is an Arc server".
pub const ARC_AGENT_BINARY: &str = "/opt/azcmagent/bin/himds";

/// A managed-identity source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Azure Instance Metadata Service: VMs, scale sets, AKS nodes.
    Imds,
    /// Azure Arc-enabled servers (the `himds` agent's challenge flow).
    Arc,
    /// App Service, Functions, Container Apps (api-version 2019-08-01).
    AppService,
    /// App Service api-version 2017-09-01 and Azure ML.
    AppService2017,
    /// Service Fabric (https, certificate pinned by thumbprint).
    ServiceFabric,
    /// Azure Cloud Shell.
    CloudShell,
    /// AKS workload identity: a service-account token exchanged at
    /// Microsoft Entra for a user-assigned identity's token.
    WorkloadIdentity,
}

impl Source {
    /// Every source, in detection order's spirit.
    pub const ALL: [Source; 7] = [
        Source::WorkloadIdentity,
        Source::Imds,
        Source::Arc,
        Source::AppService,
        Source::AppService2017,
        Source::ServiceFabric,
        Source::CloudShell,
    ];

    /// The source's name, as `--source` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Source::Imds => "imds",
            Source::Arc => "arc",
            Source::AppService => "app-service",
            Source::AppService2017 => "app-service-2017",
            Source::ServiceFabric => "service-fabric",
            Source::CloudShell => "cloud-shell",
            Source::WorkloadIdentity => "workload-identity",
        }
    }

    /// The source named `name`.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The variables the source needs; forcing a source without them is an
    /// error.
    pub fn required_variables(self) -> &'static [&'static str] {
        match self {
            Source::Imds | Source::Arc => &[],
            Source::AppService => &[IDENTITY_ENDPOINT, IDENTITY_HEADER],
            Source::AppService2017 => &[MSI_ENDPOINT, MSI_SECRET],
            Source::ServiceFabric => &[
                IDENTITY_ENDPOINT,
                IDENTITY_HEADER,
                IDENTITY_SERVER_THUMBPRINT,
            ],
            Source::CloudShell => &[MSI_ENDPOINT],
            Source::WorkloadIdentity => WORKLOAD_IDENTITY_REQUIRED,
        }
    }

    /// Every variable the source reads (the ones a host passes on).
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Source::Imds => &[AZURE_POD_IDENTITY_AUTHORITY_HOST],
            Source::Arc => &[IDENTITY_ENDPOINT, IMDS_ENDPOINT],
            Source::AppService => &[IDENTITY_ENDPOINT, IDENTITY_HEADER],
            Source::AppService2017 => &[MSI_ENDPOINT, MSI_SECRET, DEFAULT_IDENTITY_CLIENT_ID],
            Source::ServiceFabric => &[
                IDENTITY_ENDPOINT,
                IDENTITY_HEADER,
                IDENTITY_SERVER_THUMBPRINT,
            ],
            Source::CloudShell => &[MSI_ENDPOINT],
            Source::WorkloadIdentity => &[
                AZURE_FEDERATED_TOKEN_FILE,
                AZURE_CLIENT_ID,
                AZURE_TENANT_ID,
                AZURE_AUTHORITY_HOST,
            ],
        }
    }
}

/// What a workload-identity pod is given (the webhook sets all three, and
/// `AZURE_AUTHORITY_HOST`, which defaults to the public cloud).
const WORKLOAD_IDENTITY_REQUIRED: &[&str] =
    &[AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID];

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why no source could be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DetectError {
    /// `IDENTITY_ENDPOINT` is set with neither `IDENTITY_HEADER` nor
    /// `IMDS_ENDPOINT`: no known platform sets it alone, and azure-identity
    /// does not fall back to IMDS then.
    IdentityEndpointAlone,
    /// A forced source lacks a variable it needs.
    MissingVariable {
        /// The forced source.
        source: Source,
        /// The first missing variable.
        variable: &'static str,
    },
    /// `AZMI_IDENTITY_SOURCE` names no source.
    UnknownSource(String),
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectError::IdentityEndpointAlone => write!(
                f,
                "{IDENTITY_ENDPOINT} is set but neither {IDENTITY_HEADER} (App Service, Service Fabric) nor {IMDS_ENDPOINT} (Azure Arc) is; set the platform's variables, or unset {IDENTITY_ENDPOINT} to use IMDS"
            ),
            DetectError::MissingVariable { source, variable } => {
                write!(f, "the {source} source needs {variable}, which is not set")
            }
            DetectError::UnknownSource(name) => write!(
                f,
                "`{name}` is not a managed-identity source; use one of workload-identity, imds, arc, app-service, app-service-2017, service-fabric, cloud-shell"
            ),
        }
    }
}

/// Decides the source from `env` (a variable's value, `None` when unset or
/// empty) and whether the Arc agent is installed:
///
/// 0. `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID` and `AZURE_TENANT_ID`
///    all set: workload identity (`DefaultAzureCredential` tries it before
///    managed identity).
/// 1. `IDENTITY_ENDPOINT` set: with `IDENTITY_HEADER`, Service Fabric if
///    `IDENTITY_SERVER_THUMBPRINT` is set too, else App Service; with
///    `IMDS_ENDPOINT`, Arc; alone, an error.
/// 2. `MSI_ENDPOINT` set: App Service 2017 / Azure ML with `MSI_SECRET`,
///    else Cloud Shell.
/// 3. The Arc agent installed: Arc at `http://localhost:40342`.
/// 4. Otherwise IMDS.
pub fn detect(
    env: &dyn Fn(&str) -> Option<String>,
    arc_agent_present: bool,
) -> Result<Source, DetectError> {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    if WORKLOAD_IDENTITY_REQUIRED.iter().all(|name| set(name)) {
        return Ok(Source::WorkloadIdentity);
    }
    if set(IDENTITY_ENDPOINT) {
        return if set(IDENTITY_HEADER) {
            Ok(if set(IDENTITY_SERVER_THUMBPRINT) {
                Source::ServiceFabric
            } else {
                Source::AppService
            })
        } else if set(IMDS_ENDPOINT) {
            Ok(Source::Arc)
        } else {
            Err(DetectError::IdentityEndpointAlone)
        };
    }
    if set(MSI_ENDPOINT) {
        return Ok(if set(MSI_SECRET) {
            Source::AppService2017
        } else {
            Source::CloudShell
        });
    }
    Ok(if arc_agent_present {
        Source::Arc
    } else {
        Source::Imds
    })
}

/// The source to use: `forced` when given (checking that its variables are
/// set), else `detect`.
pub fn resolve(
    forced: Option<Source>,
    env: &dyn Fn(&str) -> Option<String>,
    arc_agent_present: bool,
) -> Result<Source, DetectError> {
    let Some(source) = forced else {
        return detect(env, arc_agent_present);
    };
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    match source.required_variables().iter().find(|v| !set(v)) {
        Some(variable) => Err(DetectError::MissingVariable { source, variable }),
        None => Ok(source),
    }
}

#[cfg(test)]
mod tests;
