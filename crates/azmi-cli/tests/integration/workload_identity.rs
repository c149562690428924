//! AKS workload identity end to end: the real component reads the token
//! kubelet projects (the emulator plays kubelet and rotates it) and
//! exchanges it at the emulated Entra, over TLS, pinned to loopback.

use azmi::{Error, Identity, Source};
use azmi_emulator::{Emulator, Fault, Service, TokenFileFault, demo};
use azmi_testkit::{assert_error, jwt_claims as claims};

use crate::support::{azmi, ca_file, credential, emulator, fresh_resource};

fn workload(emulator: &Emulator) -> azmi::Credential {
    credential(
        emulator
            .config_builder_for(Source::WorkloadIdentity)
            .unwrap()
            .build()
            .unwrap(),
    )
}

/// The next projected token is `fault`'s.
fn project(emulator: &Emulator, fault: TokenFileFault) {
    emulator.inject(Service::WorkloadIdentity, [Fault::TokenFile(fault)]);
    emulator.rotate_workload_identity_token().unwrap();
}

#[tokio::test]
async fn the_file_is_read_again_for_every_exchange() {
    let emulator = emulator().await;
    let credential = workload(&emulator);
    let first = emulator.workload_identity_token_id();
    let token = credential
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(claims(token.token.expose())["oid"], demo::USER_OBJECT_ID);
    assert_eq!(emulator.accepted_assertions(), std::slice::from_ref(&first));
    // kubelet rotates the file; the next uncached call sends the new token.
    emulator.rotate_workload_identity_token().unwrap();
    let second = emulator.workload_identity_token_id();
    assert_ne!(first, second);
    credential
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.accepted_assertions(), [first, second]);
    assert_eq!(emulator.requests(Service::WorkloadIdentity), 2);
}

#[tokio::test]
async fn another_client_id_selects_another_federated_identity() {
    let emulator = emulator().await;
    let credential = workload(&emulator);
    let token = credential
        .get_token(
            &fresh_resource(),
            &Identity::ClientId(demo::WORKLOAD_CLIENT_ID.into()),
        )
        .await
        .unwrap();
    assert_eq!(
        claims(token.token.expose())["oid"],
        demo::WORKLOAD_OBJECT_ID
    );
    // The system-assigned identity's client id has no federated credential
    // (and Entra does not know it as an application in the demo tenant).
    let err = credential
        .get_token(
            &fresh_resource(),
            &Identity::ClientId(demo::SYSTEM_CLIENT_ID.into()),
        )
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::NotFound(_),
        demo::SYSTEM_CLIENT_ID,
        "AZURE_CLIENT_ID"
    );
    let err = credential
        .get_token(
            &fresh_resource(),
            &Identity::ObjectId(demo::USER_OBJECT_ID.into()),
        )
        .await
        .unwrap_err();
    assert_error!(err, Error::InvalidArgument(_), "client id only");
}

#[tokio::test]
async fn a_stale_file_names_kubelet_and_the_path() {
    let emulator = emulator().await;
    project(&emulator, TokenFileFault::Stale);
    let err = workload(&emulator)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap_err();
    let file = emulator
        .workload_identity_token_file()
        .display()
        .to_string();
    assert_error!(
        err,
        Error::Unauthorized(_),
        "expired",
        "kubelet has not rotated",
        &file,
        "AADSTS700024"
    );
    // Refused, not retried.
    assert_eq!(emulator.requests(Service::WorkloadIdentity), 1);
}

#[tokio::test]
async fn a_wrong_audience_or_subject_names_what_to_check() {
    let emulator = emulator().await;
    for (fault, shown) in [
        (
            TokenFileFault::WrongAudience,
            "audience `https://kubernetes.default.svc`",
        ),
        (
            TokenFileFault::WrongSubject,
            "subject `system:serviceaccount:default:someone-else`",
        ),
    ] {
        project(&emulator, fault);
        let err = workload(&emulator)
            .get_token(&fresh_resource(), &Identity::SystemAssigned)
            .await
            .unwrap_err();
        assert_error!(
            err,
            Error::Unauthorized(_),
            "no federated credential of identity",
            demo::USER_CLIENT_ID,
            shown,
            emulator.service_account_issuer(),
            "AADSTS70021"
        );
    }
    assert!(emulator.accepted_assertions().is_empty());
}

#[tokio::test]
async fn a_file_that_is_not_a_token_is_never_sent() {
    let emulator = emulator().await;
    project(&emulator, TokenFileFault::Malformed);
    let err = workload(&emulator)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::InvalidArgument(_),
        "not a service-account token and was not sent"
    );
    assert_eq!(emulator.requests(Service::WorkloadIdentity), 0);
}

#[tokio::test]
async fn entra_outages_and_throttling_are_retried() {
    let emulator = emulator().await;
    emulator.inject(
        Service::WorkloadIdentity,
        [Fault::Status(503), Fault::RetryAfter(429, 0)],
    );
    workload(&emulator)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.requests(Service::WorkloadIdentity), 3);
}

#[tokio::test]
async fn the_cli_gets_a_token_and_a_secret_and_never_shows_the_assertion() {
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let vars = emulator.source_variables(Source::WorkloadIdentity);
    let env: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let pins = format!(
        "{},{}",
        emulator.connect_to(),
        emulator.authority_connect_to()
    );
    let ca_path = ca.path().display().to_string();
    let vault = emulator.vault_url();
    let common = ["-v", "--connect-to", &pins, "--ca-file", &ca_path];
    let token = azmi(
        &[&common[..], &["token", "--source", "workload-identity"]].concat(),
        &env,
    )
    .await;
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&token.stdout).unwrap();
    assert_eq!(
        claims(json["access_token"].as_str().unwrap())["oid"],
        demo::USER_OBJECT_ID
    );
    let secret = azmi(
        &[
            &common[..],
            &["secret", "--vault", &vault, "--name", "mysecret"],
        ]
        .concat(),
        &env,
    )
    .await;
    assert!(
        secret.status.success(),
        "{}",
        String::from_utf8_lossy(&secret.stderr)
    );
    let assertion = std::fs::read_to_string(emulator.workload_identity_token_file()).unwrap();
    for output in [&token, &secret] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("workload-identity"), "{stderr}");
        for piece in assertion.trim().split('.') {
            assert!(
                !stderr.contains(piece),
                "stderr shows the assertion: {stderr}"
            );
        }
    }
    // An authority that is not Entra's is refused at start, before
    // anything is read or sent, naming the pin that would allow it.
    let mut unpinned = env.clone();
    unpinned.retain(|(n, _)| *n != "AZURE_AUTHORITY_HOST");
    unpinned.push(("AZURE_AUTHORITY_HOST", "https://entra.example.test/"));
    let refused = azmi(&["token", "--ca-file", &ca_path], &unpinned).await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not a Microsoft Entra authority")
            && stderr.contains("--connect-to entra.example.test:443"),
        "{stderr}"
    );
}

#[tokio::test]
async fn pods_share_one_broker_whose_upstream_is_workload_identity() {
    use crate::serve::Broker;
    let emulator = emulator().await;
    let ca = ca_file(&emulator);
    let mut env: Vec<(&str, String)> = emulator.source_variables(Source::WorkloadIdentity);
    env.push((
        "AZMI_CONNECT_TO",
        format!(
            "{},{}",
            emulator.connect_to(),
            emulator.authority_connect_to()
        ),
    ));
    env.push(("AZMI_CA_FILE", ca.path().display().to_string()));
    let broker = std::sync::Arc::new(
        Broker::spawn_with(
            &emulator,
            &["-v", "serve", "--source", "workload-identity"],
            tempfile::tempdir().unwrap(),
            &env,
        )
        .await,
    );
    // Twenty SDK clients on the node ask the broker at once, in IMDS form:
    // one exchange at Entra.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let broker = broker.clone();
        clients.spawn(async move { broker.imds("https%3A%2F%2Fvault.azure.net").await });
    }
    while let Some(answer) = clients.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        let token = answer.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims(&token)["oid"], demo::USER_OBJECT_ID);
    }
    assert_eq!(emulator.requests(Service::WorkloadIdentity), 1);
    assert_eq!(emulator.imds_requests(), 0);
}
