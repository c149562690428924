//! The services the emulator runs, and the table that says how each one is
//! served: where it listens, over what, and which handler answers it.

use std::net::SocketAddr;
use std::sync::Arc;

use azmi_core::Source;

use super::{EmulatorConfig, Shared, entra, imds, keyvault, platforms, server};

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
    /// Microsoft Entra's token endpoint, for workload identity.
    WorkloadIdentity,
}

impl Service {
    /// Every service, in the order the emulator starts them.
    pub const ALL: [Service; 8] = [
        Service::Imds,
        Service::Vault,
        Service::Arc,
        Service::AppService,
        Service::AppService2017,
        Service::ServiceFabric,
        Service::CloudShell,
        Service::WorkloadIdentity,
    ];

    /// The service named `name` (`imds`, `vault`, or another source's
    /// name: `arc`, `app-service`, …).
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its name: `vault`, or the name of the source it serves.
    pub fn name(self) -> &'static str {
        match self {
            Service::Vault => "vault",
            Service::Imds => Source::Imds.name(),
            Service::Arc => Source::Arc.name(),
            Service::AppService => Source::AppService.name(),
            Service::AppService2017 => Source::AppService2017.name(),
            Service::ServiceFabric => Source::ServiceFabric.name(),
            Service::CloudShell => Source::CloudShell.name(),
            Service::WorkloadIdentity => Source::WorkloadIdentity.name(),
        }
    }

    /// Its place in the per-service tables (the order of `ALL`).
    pub(crate) fn index(self) -> usize {
        self as usize
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
            Source::WorkloadIdentity => Service::WorkloadIdentity,
        }
    }
}

pub(crate) type HandlerFn =
    fn(&Arc<Shared>, &http::Request<bytes::Bytes>) -> http::Response<server::Body>;

/// Which certificate a service serves, if any.
#[derive(Clone, Copy)]
pub(crate) enum Tls {
    Plain,
    /// The vault's, issued by the emulator's CA.
    Vault,
    /// Service Fabric's self-signed one, trusted by thumbprint.
    SelfSigned,
    /// Entra's, issued by the emulator's CA.
    Entra,
}

/// One emulated service: its name in messages, where it listens, what it
/// serves over, and its handler.
pub(crate) struct ServiceSpec {
    pub(crate) service: Service,
    pub(crate) what: &'static str,
    pub(crate) listen: fn(&EmulatorConfig) -> SocketAddr,
    pub(crate) tls: Tls,
    pub(crate) handler: HandlerFn,
}

fn platform(config: &EmulatorConfig) -> SocketAddr {
    SocketAddr::new(config.platform_ip, 0)
}

/// Every service, in the order of `Service::ALL`.
pub(crate) const SPECS: [ServiceSpec; Service::ALL.len()] = [
    ServiceSpec {
        service: Service::Imds,
        what: "IMDS",
        listen: |c| c.imds_listen,
        tls: Tls::Plain,
        handler: imds::handle,
    },
    ServiceSpec {
        service: Service::Vault,
        what: "Key Vault",
        listen: |c| c.vault_listen,
        tls: Tls::Vault,
        handler: keyvault::handle,
    },
    ServiceSpec {
        service: Service::Arc,
        what: "Azure Arc",
        listen: platform,
        tls: Tls::Plain,
        handler: platforms::arc,
    },
    ServiceSpec {
        service: Service::AppService,
        what: "App Service",
        listen: platform,
        tls: Tls::Plain,
        handler: |state, request| platforms::handle(&platforms::APP_SERVICE, state, request),
    },
    ServiceSpec {
        service: Service::AppService2017,
        what: "App Service 2017",
        listen: platform,
        tls: Tls::Plain,
        handler: |state, request| platforms::handle(&platforms::APP_SERVICE_2017, state, request),
    },
    ServiceSpec {
        service: Service::ServiceFabric,
        what: "Service Fabric",
        listen: platform,
        tls: Tls::SelfSigned,
        handler: |state, request| platforms::handle(&platforms::SERVICE_FABRIC, state, request),
    },
    ServiceSpec {
        service: Service::CloudShell,
        what: "Cloud Shell",
        listen: platform,
        tls: Tls::Plain,
        handler: |state, request| platforms::handle(&platforms::CLOUD_SHELL, state, request),
    },
    ServiceSpec {
        service: Service::WorkloadIdentity,
        what: "Microsoft Entra (workload identity)",
        listen: |c| c.workload_identity.listen,
        tls: Tls::Entra,
        handler: entra::handle,
    },
];
