//! What the SDKs send and what they get: both protocols, the shared cache,
//! and each tenant held to its grant.

use super::{ALPHA_KEY, BETA_KEY, Broker, TENANTS, USER_CLIENT_ID};
use crate::support::{emulator, fresh_resource};

const VAULT: &str = "https%3A%2F%2Fvault.azure.net";

#[tokio::test]
async fn both_protocols_answer_with_the_body_every_sdk_parses_from_one_cache() {
    let emulator = emulator().await;
    let broker = Broker::start(&emulator, TENANTS, &[]).await;
    let before = emulator.imds_requests();

    // IMDS mode, as MSAL Java and Node build the path.
    let imds = broker
        .get(
            &format!("//metadata/identity/oauth2/token/?api-version=2018-02-01&resource={VAULT}"),
            &[("Metadata", "true")],
        )
        .await;
    assert_eq!(imds.status, 200, "{}", imds.body);
    assert_eq!(
        imds.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(imds.header("server").is_none_or(|s| !s.contains("IMDS")));
    let body = imds.json();
    for field in ["expires_in", "expires_on"] {
        let text = body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string"));
        assert!(text.parse::<u64>().is_ok(), "{field} = {text}");
    }
    let expires_on: u64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    let expires_in: u64 = body["expires_in"].as_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        expires_on.abs_diff(now + expires_in) <= 2,
        "the real token's expiry"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://vault.azure.net");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // App Service mode, tenant alpha: the same identity and audience, so
    // the same cached token, and no second request upstream.
    let alpha = broker
        .app_service(ALPHA_KEY, "https://vault.azure.net", "")
        .await;
    assert_eq!(alpha.status, 200, "{}", alpha.body);
    assert_eq!(alpha.json()["access_token"], token.as_str());
    assert_eq!(emulator.imds_requests() - before, 1);

    // Tenant beta: its own identity, by default and by name.
    let beta = broker
        .app_service(BETA_KEY, "https://vault.azure.net", "")
        .await;
    assert_eq!(beta.status, 200, "{}", beta.body);
    let named = broker
        .app_service(
            BETA_KEY,
            "https://vault.azure.net",
            &format!("&client_id={USER_CLIENT_ID}"),
        )
        .await;
    assert_eq!(named.json()["access_token"], beta.json()["access_token"]);
    assert_ne!(beta.json()["access_token"], token.as_str());
    assert_eq!(emulator.imds_requests() - before, 2);

    // The metrics count per tenant, and hold no key and no token.
    let metrics = broker.metrics().await;
    for line in [
        "azmi_serve_token_requests_total{tenant=\"anonymous\",code=\"200\"} 1",
        "azmi_serve_token_requests_total{tenant=\"alpha\",code=\"200\"} 1",
        "azmi_serve_token_requests_total{tenant=\"beta\",code=\"200\"} 2",
        "azmi_cache_hits_total{tenant=\"alpha\"} 1",
        "azmi_upstream_requests_total 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
    let (status, stderr) = broker.terminate().await;
    assert!(status.success(), "{stderr}");
    for secret in [ALPHA_KEY, BETA_KEY, &token] {
        assert!(!metrics.contains(secret), "metrics leak");
        assert!(!stderr.contains(secret), "the -v log leaks: {stderr}");
    }
    assert!(
        stderr.contains("tenant alpha"),
        "the -v log says who asked: {stderr}"
    );
}

#[tokio::test]
async fn a_tenant_gets_only_its_grant_and_refusals_cost_the_upstream_nothing() {
    let emulator = emulator().await;
    let broker = Broker::start(&emulator, TENANTS, &[]).await;
    let before = emulator.imds_requests();
    let fresh = fresh_resource();
    // Alpha asks for beta's identity, or an audience outside its grant.
    for (answer, description) in [
        (
            broker
                .app_service(
                    ALPHA_KEY,
                    "https://vault.azure.net",
                    &format!("&client_id={USER_CLIENT_ID}"),
                )
                .await,
            "Identity not found",
        ),
        (
            broker.app_service(ALPHA_KEY, &fresh, "").await,
            "rule `resources`",
        ),
        (
            broker
                .app_service(ALPHA_KEY, "https://storage.azure.com", "")
                .await,
            "rule `resources`",
        ),
    ] {
        assert_eq!(answer.status, 400, "{}", answer.body);
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(description), "{message}");
        assert_eq!(answer.json()["statusCode"], 400);
    }
    // IMDS mode: the anonymous grant, refusals in IMDS's shape.
    let imds = broker
        .get(
            &format!("/metadata/identity/oauth2/token?api-version=2018-02-01&resource={VAULT}&client_id={USER_CLIENT_ID}"),
            &[("Metadata", "true")],
        )
        .await;
    assert_eq!(
        (imds.status, imds.json()["error_description"].as_str()),
        (400, Some("Identity not found"))
    );
    assert_eq!(imds.json()["error"], "invalid_request");
    assert_eq!(
        emulator.imds_requests(),
        before,
        "no refusal reached the upstream"
    );

    let metrics = broker.metrics().await;
    for line in [
        "azmi_grant_denials_total{tenant=\"alpha\",rule=\"identities\"} 1",
        "azmi_grant_denials_total{tenant=\"alpha\",rule=\"resources\"} 2",
        "azmi_grant_denials_total{tenant=\"anonymous\",rule=\"identities\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn protocol_errors_are_the_protocols_own_and_the_broker_keeps_serving() {
    let emulator = emulator().await;
    let broker = Broker::start(&emulator, TENANTS, &[]).await;
    let token_path =
        format!("/metadata/identity/oauth2/token?api-version=2018-02-01&resource={VAULT}");
    let cases: Vec<(super::Answer, u16, &str)> = vec![
        // The probes chains send: header-less token path → 400, IMDS v2 → 404.
        (
            broker.get(&token_path, &[]).await,
            400,
            "Required metadata header not specified",
        ),
        (
            broker.get(&token_path, &[("Metadata", "false")]).await,
            400,
            "Required metadata header",
        ),
        (
            broker
                .get(
                    "/metadata/identity/getplatformmetadata?cred-api-version=2.0",
                    &[],
                )
                .await,
            404,
            "",
        ),
        (
            broker
                .get(
                    "/metadata/identity/issuecredential",
                    &[("Metadata", "true")],
                )
                .await,
            404,
            "",
        ),
        (
            broker
                .get(
                    &token_path,
                    &[("Metadata", "true"), ("X-Forwarded-For", "10.0.0.1")],
                )
                .await,
            400,
            "X-Forwarded-For",
        ),
        (
            broker
                .get(
                    "/metadata/identity/oauth2/token?resource=x",
                    &[("Metadata", "true")],
                )
                .await,
            400,
            "api-version",
        ),
        (
            broker
                .get(
                    "/metadata/identity/oauth2/token?api-version=2018-02-01",
                    &[("Metadata", "true")],
                )
                .await,
            400,
            "audience",
        ),
        (
            broker
                .get(
                    &format!("{token_path}&resource=again"),
                    &[("Metadata", "true")],
                )
                .await,
            400,
            "more than once",
        ),
        (
            broker
                .app_service("not-a-tenant-key-0123456789", "https://vault.azure.net", "")
                .await,
            401,
            "X-IDENTITY-HEADER",
        ),
        (
            broker
                .get("/msi/token?api-version=2019-08-01&resource=x", &[])
                .await,
            401,
            "X-IDENTITY-HEADER",
        ),
        (
            broker
                .get(
                    "/msi/token?api-version=2017-09-01&resource=x",
                    &[("X-IDENTITY-HEADER", ALPHA_KEY)],
                )
                .await,
            400,
            "2019-08-01",
        ),
        (
            broker
                .get(&token_path, &[("Metadata", "true"), ("Metadata", "true")])
                .await,
            400,
            "more than one metadata header",
        ),
        (
            broker
                .raw(b"POST /msi/token HTTP/1.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await,
            405,
            "",
        ),
    ];
    for (answer, status, text) in cases {
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(answer.body.contains(text), "{status}: {}", answer.body);
        if status != 404 && status != 405 {
            answer.json();
        }
        // Still serving.
        assert_eq!(broker.get("/healthz", &[]).await.status, 200);
    }
    // What hyper refuses before the broker sees it: a head too large, a
    // garbage request line; then still serving.
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(broker.raw(huge.as_bytes()).await.status, 431);
    assert_eq!(broker.raw(b"\x16\x03\x01GARBAGE\r\n\r\n").await.status, 400);
    assert_eq!(broker.raw(b"GET\r\n\r\n").await.status, 400);
    let ok = broker.imds(VAULT).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let (status, stderr) = broker.terminate().await;
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn without_an_anonymous_grant_imds_mode_is_refused_as_identity_not_found() {
    let emulator = emulator().await;
    let config = TENANTS.split("[anonymous]").next().unwrap();
    let broker = Broker::start(&emulator, config, &[]).await;
    assert!(
        broker
            .printed
            .iter()
            .any(|l| l.contains("IMDS mode: refused")),
        "{:?}",
        broker.printed
    );
    let answer = broker.imds(VAULT).await;
    assert_eq!(
        (answer.status, answer.json()["error_description"].as_str()),
        (400, Some("Identity not found"))
    );
    assert_eq!(emulator.imds_requests(), 0);
}

#[tokio::test]
async fn fifty_clients_at_once_cost_the_upstream_one_request() {
    let emulator = emulator().await;
    let broker = std::sync::Arc::new(Broker::start(&emulator, TENANTS, &[]).await);
    let before = emulator.imds_requests();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let broker = broker.clone();
        clients.spawn(async move { broker.imds("https%3A%2F%2Fstorage.azure.com").await });
    }
    let mut tokens = std::collections::BTreeSet::new();
    while let Some(answer) = clients.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        tokens.insert(answer.json()["access_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 1, "every client got the one token");
    assert_eq!(emulator.imds_requests() - before, 1);
    let metrics = broker.metrics().await;
    for line in [
        "azmi_upstream_requests_total 1",
        "azmi_cache_misses_total{tenant=\"anonymous\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in:\n{metrics}"
        );
    }
}
