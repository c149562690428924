//! Every managed-identity source end to end: the real component, detected
//! from the environment the platform sets, against the emulator's endpoint
//! for that platform, through the sandbox.

use azmi::{Config, Error, Identity, Source};
use azmi_emulator::{ArcBehavior, EmulatorConfig, Service, demo};
use azmi_testkit::assert_error;

use crate::support::{credential, emulator, emulator_with, token_error};

const VAULT: &str = "https://vault.azure.net";

use azmi_testkit::jwt_claims as claims;

#[tokio::test]
async fn every_source_gets_a_token_and_reads_a_secret() {
    let emulator = emulator().await;
    for source in Source::ALL {
        let config = emulator
            .config_builder_for(source)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(
            config.source(),
            source,
            "detected from the platform's variables"
        );
        let credential = credential(config);
        let token = credential
            .get_token(VAULT, &Identity::SystemAssigned)
            .await
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert_eq!(claims(token.token.expose())["aud"], VAULT, "{source}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            token.expires_on > now + 86_000,
            "{source}: expiry parsed from its format: {}",
            token.expires_on
        );
        let secret = credential
            .get_secret(
                &emulator.vault_url(),
                "mysecret",
                None,
                &Identity::SystemAssigned,
            )
            .await
            .unwrap();
        assert_eq!(secret.value.expose(), "TOPSECRET", "{source}");
    }
    // One token request per source (two for Arc: the challenge and the
    // retry), each at its own endpoint: get-secret's token comes from the
    // cache. Each secret read is a discovery and a read.
    for (service, expected) in [
        (Service::Imds, 1),
        (Service::Arc, 2),
        (Service::AppService, 1),
        (Service::AppService2017, 1),
        (Service::ServiceFabric, 1),
        (Service::CloudShell, 1),
        (Service::WorkloadIdentity, 1),
        (Service::Vault, 14),
    ] {
        assert_eq!(emulator.requests(service), expected, "{service:?}");
    }
}

#[tokio::test]
async fn user_assigned_identities_where_the_platform_has_them() {
    let emulator = emulator().await;
    for source in [Source::Imds, Source::Arc, Source::AppService] {
        let credential = credential(
            emulator
                .config_builder_for(source)
                .unwrap()
                .build()
                .unwrap(),
        );
        for identity in [
            Identity::ClientId(demo::USER_CLIENT_ID.into()),
            Identity::ObjectId(demo::USER_OBJECT_ID.into()),
            Identity::ResourceId(demo::USER_RESOURCE_ID.into()),
        ] {
            let token = credential
                .get_token(VAULT, &identity)
                .await
                .unwrap_or_else(|e| panic!("{source} {identity:?}: {e}"));
            assert_eq!(
                claims(token.token.expose())["oid"],
                demo::USER_OBJECT_ID,
                "{source} {identity:?}"
            );
        }
    }
    // App Service 2017 / Azure ML: by client id only.
    let credential = credential(
        emulator
            .config_builder_for(Source::AppService2017)
            .unwrap()
            .build()
            .unwrap(),
    );
    let token = credential
        .get_token(VAULT, &Identity::ClientId(demo::USER_CLIENT_ID.into()))
        .await
        .unwrap();
    assert_eq!(claims(token.token.expose())["oid"], demo::USER_OBJECT_ID);
    let err = credential
        .get_token(VAULT, &Identity::ObjectId(demo::USER_OBJECT_ID.into()))
        .await
        .unwrap_err();
    assert_error!(err, Error::InvalidArgument(_), "client id only");
    // Service Fabric and Cloud Shell: refused, not silently replaced.
    for source in [Source::ServiceFabric, Source::CloudShell] {
        let credential = crate::support::credential(
            emulator
                .config_builder_for(source)
                .unwrap()
                .build()
                .unwrap(),
        );
        let err = credential
            .get_token(VAULT, &Identity::ClientId(demo::USER_CLIENT_ID.into()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{source}: {err:?}"
        );
    }
}

#[tokio::test]
async fn arc_fails_closed_when_the_agent_ignores_the_user_assigned_identity() {
    let emulator = emulator_with(EmulatorConfig {
        arc: ArcBehavior::Legacy,
        ..EmulatorConfig::demo()
    })
    .await;
    let credential = credential(
        emulator
            .config_builder_for(Source::Arc)
            .unwrap()
            .build()
            .unwrap(),
    );
    let err = credential
        .get_token(VAULT, &Identity::ClientId(demo::USER_CLIENT_ID.into()))
        .await
        .unwrap_err();
    assert_error!(err, Error::InvalidResponse(_), "did not confirm");
    // The system-assigned identity needs no echo.
    credential
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();
}

#[tokio::test]
async fn service_fabric_refuses_a_certificate_with_another_thumbprint() {
    let emulator = emulator().await;
    let mut variables = emulator.source_variables(Source::ServiceFabric);
    for (name, value) in &mut variables {
        if *name == "IDENTITY_SERVER_THUMBPRINT" {
            // One digit off.
            let first = if value.starts_with('0') { "1" } else { "0" };
            *value = format!("{first}{}", &value[1..]);
        }
    }
    let config = variables
        .into_iter()
        .fold(Config::builder(), |b, (n, v)| b.identity_variable(n, v))
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert_error!(err, Error::Other(_), "TLS", "not trusted");
    assert_eq!(
        emulator.requests(Service::ServiceFabric),
        0,
        "no request reached the endpoint"
    );
}

#[tokio::test]
async fn a_wrong_identity_header_is_refused_by_the_platform() {
    let emulator = emulator().await;
    let config = emulator
        .source_variables(Source::AppService)
        .into_iter()
        .map(|(n, v)| {
            if n == "IDENTITY_HEADER" {
                (n, "wrong".to_owned())
            } else {
                (n, v)
            }
        })
        .fold(Config::builder(), |b, (n, v)| b.identity_variable(n, v))
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert!(
        matches!(err, Error::Unauthorized(ref e) if e.message.contains("X-IDENTITY-HEADER")),
        "{err:?}"
    );
}

#[tokio::test]
async fn only_the_chosen_sources_endpoint_is_reachable() {
    // App Service chosen: IMDS (also configured, and live) is off limits.
    let emulator = emulator().await;
    let config = emulator
        .config_builder_for(Source::AppService)
        .unwrap()
        .identity_variable(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            emulator.imds_endpoint(),
        )
        .build()
        .unwrap();
    assert_eq!(config.source(), Source::AppService);
    assert!(
        !config.describe_policy().contains(&emulator.imds_endpoint()),
        "{}",
        config.describe_policy()
    );
    assert_eq!(
        config.guest_variables(),
        [
            "AZMI_IDENTITY_SOURCE",
            "AZMI_RETRY",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER"
        ]
    );
}
