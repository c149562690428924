//! The library API end to end: tokens and secrets through the real
//! component against the emulator.

use azmi::{Error, Identity};
use azmi_emulator::{EmulatorConfig, demo};
use azmi_testkit::assert_error;

use crate::support::{config_for, credential, emulator, emulator_with};

#[tokio::test]
async fn system_assigned_token() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let token = credential
        .get_token(
            "https://vault.azure.net/.default",
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(token.resource, "https://vault.azure.net");
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.token.expose().split('.').count(), 3, "JWT-shaped");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 86_000..=now + 86_400).contains(&token.expires_on),
        "{}",
        token.expires_on
    );
    assert_eq!(
        token.refresh_at.map(|r| r.abs_diff(now + 86_399 / 2) <= 2),
        Some(true),
        "half-life refresh"
    );
    assert!(
        !format!("{token:?}").contains(token.token.expose()),
        "Debug redacts the token"
    );
    assert_eq!(emulator.imds_requests(), 1);
}

#[tokio::test]
async fn user_assigned_tokens_by_each_selector() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    for identity in [
        Identity::ClientId(demo::USER_CLIENT_ID.into()),
        Identity::ObjectId(demo::USER_OBJECT_ID.into()),
        Identity::ResourceId(demo::USER_RESOURCE_ID.into()),
    ] {
        let token = credential
            .get_token("https://management.azure.com/", &identity)
            .await
            .unwrap();
        assert_eq!(
            token.resource, "https://management.azure.com/",
            "{identity:?}"
        );
        // The token names the user-assigned identity, not the system one.
        let claims = azmi_testkit::jwt_claims(token.token.expose());
        assert_eq!(claims["oid"], demo::USER_OBJECT_ID, "{identity:?}");
    }
}

#[tokio::test]
async fn unassigned_identity_is_not_found_and_no_identity_is_unavailable() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let err = credential
        .get_token(
            "https://vault.azure.net",
            &Identity::ClientId("00000000-0000-0000-0000-000000000000".into()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref e) if e.status == 400 && e.message == "Identity not found"),
        "{err:?}"
    );

    let bare = emulator_with(EmulatorConfig {
        system_identity: None,
        user_assigned: vec![],
        ..EmulatorConfig::demo()
    })
    .await;
    let err = crate::support::credential(config_for(&bare).build().unwrap())
        .get_token("https://vault.azure.net", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::Unavailable(_), "Identity not found");
}

#[tokio::test]
async fn secret_latest_and_by_version() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let latest = credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(latest.value.expose(), "TOPSECRET");
    assert_eq!(latest.version, demo::MYSECRET_VERSION);
    assert_eq!(
        latest.id,
        format!(
            "https://myvault.vault.azure.net/secrets/mysecret/{}",
            demo::MYSECRET_VERSION
        )
    );
    assert_eq!(latest.content_type.as_deref(), Some("text/plain"));
    assert!(latest.enabled);
    assert_eq!(latest.tags, vec![("env".to_owned(), "demo".to_owned())]);
    assert!(
        !format!("{latest:?}").contains("TOPSECRET"),
        "Debug redacts the value"
    );

    let old = credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            Some(demo::MYSECRET_OLD_VERSION),
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(
        (old.value.expose(), old.version.as_str()),
        ("OLDSECRET", demo::MYSECRET_OLD_VERSION)
    );
}

#[tokio::test]
async fn secret_errors_map_to_their_cases() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let vault = emulator.vault_url();
    let system = Identity::SystemAssigned;

    let err = credential
        .get_secret(&vault, "nope", None, &system)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref e) if e.status == 404 && e.code == "SecretNotFound"),
        "{err:?}"
    );

    let err = credential
        .get_secret(
            &vault,
            "mysecret",
            Some("ffffffffffffffffffffffffffffffff"),
            &system,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref e) if e.code == "SecretNotFound"),
        "{err:?}"
    );

    let err = credential
        .get_secret(&vault, "uami-only", None, &system)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Forbidden(ref e) if e.inner_code.as_deref() == Some("ForbiddenByRbac")),
        "{err:?}"
    );
    let uami = Identity::ClientId(demo::USER_CLIENT_ID.into());
    assert_eq!(
        credential
            .get_secret(&vault, "uami-only", None, &uami)
            .await
            .unwrap()
            .value
            .expose(),
        "UAMISECRET"
    );

    let err = credential
        .get_secret(&vault, "disabled-secret", None, &system)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Forbidden(ref e) if e.inner_code.as_deref() == Some("SecretDisabled")),
        "{err:?}"
    );

    for (vault, name, version) in [
        ("http://myvault.vault.azure.net", "mysecret", None),
        ("https://myvault.vault.azure.net", "my/secret", None),
        (
            "https://myvault.vault.azure.net",
            "mysecret",
            Some("../../x"),
        ),
    ] {
        let err = credential
            .get_secret(vault, name, version, &system)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(_)),
            "{vault} {name}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_token_for_the_wrong_audience_is_refused_by_the_vault() {
    let emulator = emulator_with(EmulatorConfig {
        audience_override: Some("https://myvault.vault.azure.net/".into()),
        ..EmulatorConfig::demo()
    })
    .await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let err = credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap_err();
    let Error::Unauthorized(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!((e.status, e.code.as_str()), (401, "Unauthorized"));
    assert!(
        e.message.starts_with("AKV10022: Invalid audience"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_credential_and_its_cache() {
    let emulator = emulator().await;
    let credential = credential(config_for(&emulator).build().unwrap());
    let vault = emulator.vault_url();
    // Warm: the challenge and the token are fetched once…
    credential
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(
        (emulator.imds_requests(), emulator.vault_requests()),
        (1, 2)
    );
    // …then sixteen concurrent reads need neither again.
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let credential = credential.clone();
            let vault = vault.clone();
            tokio::spawn(async move {
                credential
                    .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().value.expose(), "TOPSECRET");
    }
    assert_eq!(
        (emulator.imds_requests(), emulator.vault_requests()),
        (1, 18)
    );
}

#[tokio::test]
async fn limits_of_duration_max_mean_no_limit() {
    // The natural way to say "no limit" must never make deadline
    // arithmetic overflow, in the host or in the component it tells.
    use std::time::Duration;
    let emulator = emulator().await;
    let forever = Duration::MAX;
    let config = config_for(&emulator)
        .call_limits(azmi::CallLimits::default().timeout(forever).cpu(forever))
        .request_limits(
            azmi::RequestLimits::default()
                .max_connect_timeout(forever)
                .max_first_byte_timeout(forever)
                .max_between_bytes_timeout(forever)
                .idle_connection_timeout(forever),
        )
        .retry_policy(
            azmi::RetryPolicy::default()
                .max_delay(forever)
                .gone_min_total(forever)
                .retry_after_cap(forever),
        )
        .build()
        .unwrap();
    let credential = credential(config);
    credential
        .get_token("https://vault.azure.net", &Identity::SystemAssigned)
        .await
        .unwrap();
    let secret = credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(secret.value.expose(), "TOPSECRET");
}
