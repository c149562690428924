//! The demo data: one resource with a system-assigned identity, one
//! user-assigned identity, and a vault with three secrets. Its ids are
//! public so tests and docs can name them.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{
    ArcBehavior, EmulatedIdentity, EmulatedSecret, EmulatorConfig, FederatedCredential,
    SecretVersion, WorkloadIdentityConfig,
};

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
/// A second user-assigned identity, federated (like the first) to the
/// demo pod's service account: `--client-id` selects it.
pub const WORKLOAD_CLIENT_ID: &str = "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f";
/// Its object id.
pub const WORKLOAD_OBJECT_ID: &str = "e1f2a3b4-c5d6-4e7f-9a8b-0c1d2e3f4a5b";
/// The demo pod's service account, as its projected token's subject.
pub const SERVICE_ACCOUNT: &str = "system:serviceaccount:default:azmi-demo";
/// The name clients use for Microsoft Entra (the public cloud's), pinned
/// to the emulator.
pub const AUTHORITY_HOST: &str = "login.microsoftonline.com";
/// The current version of `mysecret` (value `TOPSECRET`).
pub const MYSECRET_VERSION: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
/// The previous version of `mysecret` (value `OLDSECRET`).
pub const MYSECRET_OLD_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

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
            tenant_id: TENANT_ID.into(),
            system_identity: Some(EmulatedIdentity {
                name: "system-assigned".into(),
                client_id: SYSTEM_CLIENT_ID.into(),
                object_id: SYSTEM_OBJECT_ID.into(),
                resource_id: None,
            }),
            user_assigned: vec![
                EmulatedIdentity {
                    name: "azmi-demo".into(),
                    client_id: USER_CLIENT_ID.into(),
                    object_id: USER_OBJECT_ID.into(),
                    resource_id: Some(USER_RESOURCE_ID.into()),
                },
                EmulatedIdentity {
                    name: "azmi-workload".into(),
                    client_id: WORKLOAD_CLIENT_ID.into(),
                    object_id: WORKLOAD_OBJECT_ID.into(),
                    resource_id: None,
                },
            ],
            vault_host: VAULT_HOST.into(),
            vault_readers: vec![
                SYSTEM_OBJECT_ID.into(),
                USER_OBJECT_ID.into(),
                WORKLOAD_OBJECT_ID.into(),
            ],
            secrets: vec![
                secret(
                    "mysecret",
                    vec![
                        version(MYSECRET_OLD_VERSION, "OLDSECRET", 1_700_000_000, true),
                        version(MYSECRET_VERSION, "TOPSECRET", 1_750_000_000, true),
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
                    Some(vec![USER_OBJECT_ID.into()]),
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
            vault_plaintext_listen: None,
            platform_ip: IpAddr::from([127, 0, 0, 1]),
            arc: ArcBehavior::Normal,
            arc_token_dir: None,
            workload_identity: WorkloadIdentityConfig {
                subject: SERVICE_ACCOUNT.into(),
                audience: azmi_core::entra::EXCHANGE_AUDIENCE.into(),
                token_lifetime: Duration::from_secs(3600),
                rotate_every: None,
                token_dir: None,
                authority_host: AUTHORITY_HOST.into(),
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                federated: [USER_CLIENT_ID, WORKLOAD_CLIENT_ID]
                    .into_iter()
                    .map(|client_id| FederatedCredential {
                        client_id: client_id.into(),
                        issuer: None,
                        subject: SERVICE_ACCOUNT.into(),
                        audience: azmi_core::entra::EXCHANGE_AUDIENCE.into(),
                    })
                    .collect(),
            },
            faults: Vec::new(),
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> EmulatorConfig {
        EmulatorConfig::demo()
    }
}
