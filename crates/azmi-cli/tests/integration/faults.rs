//! The real component against every fault the emulator can inject: each
//! ends in success through a retry, or in a clear error of the right kind
//! within the deadline. Backoff runs at 1/100 of real time, so IMDS's
//! 70-second floor after a 410 takes 0.7 s here.

use azmi_testkit::assert_error;
use std::time::Duration;

use azmi::{CallLimits, Config, Credential, Error, Identity, RequestLimits, RetryPolicy, Source};
use azmi_emulator::{Emulator, ExpiryForm, Fault, Service};

use crate::support::{credential, emulator, fresh_resource, token_error};

const VAULT: &str = "https://vault.azure.net";

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default().time_scale(0.01)
}

fn for_source(emulator: &Emulator, source: Source) -> Credential {
    credential(
        emulator
            .config_builder_for(source)
            .unwrap()
            .retry_policy(fast_retries())
            .build()
            .unwrap(),
    )
}

async fn token(emulator: &Emulator, faults: Vec<Fault>) -> Result<azmi::AccessToken, Error> {
    emulator.inject(Service::Imds, faults);
    for_source(emulator, Source::Imds)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
}

#[tokio::test]
async fn transient_statuses_are_retried_to_success() {
    for (faults, requests) in [
        (
            vec![Fault::Status(410), Fault::Status(410), Fault::Normal],
            3,
        ),
        (
            vec![
                Fault::Status(500),
                Fault::Status(500),
                Fault::Status(500),
                Fault::Normal,
            ],
            4,
        ),
        (vec![Fault::Status(404), Fault::Normal], 2),
        (vec![Fault::RetryAfter(429, 2), Fault::Normal], 2),
        (
            vec![Fault::Status(503), Fault::Status(504), Fault::Normal],
            3,
        ),
    ] {
        let emulator = emulator().await;
        let shown = format!("{faults:?}");
        token(&emulator, faults)
            .await
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert_eq!(emulator.imds_requests(), requests, "{shown}");
    }
}

#[tokio::test]
async fn after_a_410_imds_is_tried_for_seventy_seconds_of_service_time() {
    let emulator = emulator().await;
    let err = token(&emulator, vec![Fault::Status(410); 200])
        .await
        .unwrap_err();
    let Error::Service(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.status, 410);
    assert!(e.message.contains("attempts"), "{}", e.message);
    // More than the five retries of any other status: the floor kept going.
    assert!(emulator.imds_requests() > 6, "{}", emulator.imds_requests());
}

#[tokio::test]
async fn final_statuses_are_not_retried() {
    let emulator = emulator().await;
    let err = token(&emulator, vec![Fault::Status(400)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
    let err = token(&emulator, vec![Fault::Status(403)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    assert_eq!(emulator.imds_requests(), 2);
}

#[tokio::test]
async fn broken_bodies_are_retried_or_refused() {
    let emulator = emulator().await;
    // A connection cut mid-body is transient.
    token(&emulator, vec![Fault::Truncated, Fault::Normal])
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 2);
    // A delay within the deadlines is just slow.
    token(&emulator, vec![Fault::Delay(Duration::from_millis(300))])
        .await
        .unwrap();
    token(&emulator, vec![Fault::SlowBody(Duration::from_millis(5))])
        .await
        .unwrap();
    // Valid JSON mislabelled is still a token.
    token(&emulator, vec![Fault::WrongContentType])
        .await
        .unwrap();
    // Refused: not a token response at all; too large; and a redirect,
    // never followed and its target never quoted.
    for (fault, wanted) in [
        (Fault::MalformedJson, &["not JSON"][..]),
        (Fault::Oversized(100_000), &["larger than 65536 bytes"]),
        (
            Fault::HugeHeader(40_000),
            &["headers larger than the host accepts"],
        ),
        (Fault::Status(302), &["redirect 302", "never followed"]),
    ] {
        let label = format!("{fault:?}");
        let err = token(&emulator, vec![fault]).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse(ref m) if wanted.iter().all(|w| m.contains(w))),
            "{label}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_hanging_endpoint_ends_in_a_timeout_within_the_deadline() {
    let emulator = emulator().await;
    emulator.inject(Service::Imds, vec![Fault::Hang; 50]);
    let config = emulator
        .config_builder()
        .unwrap()
        .retry_policy(fast_retries())
        .call_limits(CallLimits::default().timeout(Duration::from_secs(3)))
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");

    // A body that stalls longer than the host allows between bytes.
    let emulator = crate::support::emulator().await;
    emulator.inject(
        Service::Imds,
        vec![Fault::SlowBody(Duration::from_millis(400)); 50],
    );
    let config = emulator
        .config_builder()
        .unwrap()
        .retry_policy(fast_retries())
        .call_limits(CallLimits::default().timeout(Duration::from_secs(3)))
        .request_limits(
            RequestLimits::default().max_between_bytes_timeout(Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn every_expiry_format_is_understood() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for form in [
        ExpiryForm::Integer,
        ExpiryForm::DigitString,
        ExpiryForm::LinuxDate,
        ExpiryForm::WindowsDate,
    ] {
        let emulator = emulator().await;
        let token = token(&emulator, vec![Fault::Expiry(form)])
            .await
            .unwrap_or_else(|e| panic!("{form:?}: {e}"));
        assert!(
            (now + 86_000..now + 86_500).contains(&token.expires_on),
            "{form:?}: {}",
            token.expires_on
        );
        assert_eq!(
            token.refresh_at.map(|r| r.abs_diff(now + 43_200) < 30),
            Some(true),
            "{form:?}: half-life"
        );
    }
    let emulator = emulator().await;
    let err = token(&emulator, vec![Fault::Expiry(ExpiryForm::Expired)])
        .await
        .unwrap_err();
    assert_error!(err, Error::InvalidResponse(_), "check this machine's clock");
    let token = token(
        &emulator,
        vec![Fault::Lifetime {
            seconds: 3_000,
            refresh_in: None,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        token.refresh_at, None,
        "no half-life refresh under two hours"
    );
}

#[tokio::test]
async fn the_vault_is_retried_and_its_challenge_verified() {
    let emulator = emulator().await;
    let credential = for_source(&emulator, Source::Imds);
    let vault = emulator.vault_url();
    // Discovery throttled, then the read failing twice: retried through.
    emulator.inject(
        Service::Vault,
        vec![
            Fault::RetryAfter(429, 1),
            Fault::Normal,
            Fault::Status(503),
            Fault::Status(500),
            Fault::Normal,
        ],
    );
    let secret = credential
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(secret.value.expose(), "TOPSECRET");
    assert_eq!(emulator.vault_requests(), 5);

    // A challenge for another audience: refused before any token request.
    let emulator = crate::support::emulator().await;
    let credential = for_source(&emulator, Source::Imds);
    emulator.inject(
        Service::Vault,
        vec![Fault::Challenge(r#"Bearer authorization="https://login.windows.net/t", resource="https://management.azure.com""#.into())],
    );
    let err = credential
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::InvalidResponse(_), "is not under that domain");
    assert_eq!(
        emulator.imds_requests(),
        0,
        "no token was requested for the foreign audience"
    );
}

#[tokio::test]
async fn the_cache_serves_refreshes_and_coalesces() {
    let emulator = emulator().await;
    let credential = for_source(&emulator, Source::Imds);
    for _ in 0..5 {
        credential
            .get_token(VAULT, &Identity::SystemAssigned)
            .await
            .unwrap();
    }
    credential
        .get_token(
            "https://vault.azure.net/.default",
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 1, "one request for six calls");
    let stats = credential.cache_stats();
    assert_eq!((stats.misses, stats.hits), (1, 5));

    // Twenty concurrent cold callers: one request.
    let cold = for_source(&emulator, Source::Imds);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let cold = cold.clone();
            tokio::spawn(async move {
                cold.get_token("https://management.azure.com/", &Identity::SystemAssigned)
                    .await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(emulator.imds_requests(), 2);
    assert_eq!(cold.cache_stats().misses, 1);

    // A token that is due for refresh after a second, refreshed against an
    // endpoint that fails: the still-valid token is served.
    let emulator = crate::support::emulator().await;
    let credential = for_source(&emulator, Source::Imds);
    emulator.inject(
        Service::Imds,
        vec![Fault::Lifetime {
            seconds: 3_600,
            refresh_in: Some(1),
        }],
    );
    let first = credential
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    emulator.inject(Service::Imds, vec![Fault::Status(400)]);
    let served = credential
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(served.token.expose(), first.token.expose());
    assert_eq!(credential.cache_stats().refresh_failures, 1);
    assert_eq!(emulator.imds_requests(), 2);

    // A token within five minutes of expiry is fetched again.
    let emulator = crate::support::emulator().await;
    let credential = for_source(&emulator, Source::Imds);
    emulator.inject(
        Service::Imds,
        vec![Fault::Lifetime {
            seconds: 200,
            refresh_in: None,
        }],
    );
    credential
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();
    credential
        .get_token(VAULT, &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 2);
}

#[tokio::test]
async fn other_sources_follow_their_own_retry_rules() {
    let emulator = emulator().await;
    // App Service: 503 is retried, 404 is not.
    emulator.inject(Service::AppService, vec![Fault::Status(503), Fault::Normal]);
    for_source(&emulator, Source::AppService)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.requests(Service::AppService), 2);
    emulator.inject(Service::AppService, vec![Fault::Status(404)]);
    let err = for_source(&emulator, Source::AppService)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Service(ref e) if e.status == 404),
        "{err:?}"
    );
    assert_eq!(emulator.requests(Service::AppService), 3);
    // Arc: a 503 before the challenge is retried, the whole dance again.
    emulator.inject(
        Service::Arc,
        vec![Fault::Status(503), Fault::Normal, Fault::Normal],
    );
    for_source(&emulator, Source::Arc)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.requests(Service::Arc), 3);
    // App Service 2017's Windows dates.
    emulator.inject(
        Service::AppService2017,
        vec![Fault::Expiry(ExpiryForm::WindowsDate)],
    );
    for_source(&emulator, Source::AppService2017)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
}

#[tokio::test]
async fn settings_reach_the_component() {
    // No retries at all: one request even for a 503.
    let emulator = emulator().await;
    emulator.inject(Service::Imds, vec![Fault::Status(503), Fault::Normal]);
    let config: Config = emulator
        .config_builder()
        .unwrap()
        .retry_policy(fast_retries().max_retries(0))
        .build()
        .unwrap();
    let err = token_error(config).await;
    assert!(
        matches!(err, Error::Service(ref e) if e.status == 503),
        "{err:?}"
    );
    assert_eq!(emulator.imds_requests(), 1);
}

#[tokio::test]
async fn a_long_retry_series_leaves_nothing_behind_in_the_sandbox() {
    // More attempts in one call than the sandbox's resource table holds
    // entries: every request must give back what it took (wasmtime 48 left
    // each request's options behind), or the call would end in
    // `resource-limit` instead of the token.
    let emulator = emulator().await;
    emulator.inject(Service::Imds, vec![Fault::RetryAfter(503, 0); 80]);
    let retry = fast_retries().max_retries(100);
    let config = emulator
        .config_builder()
        .unwrap()
        .retry_policy(retry)
        .build()
        .unwrap();
    credential(config)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 81);
}
