//! Many tenants in one process: each has its own policy, connection pool
//! and request limit, and they share the runtime's token cache;
//! connections are reused within a tenant.

use azmi_testkit::assert_error;
use std::time::Duration;

use azmi::{CallLimits, Credential, Error, Identity, Pooling, RequestLimits, Runtime};
use azmi_emulator::{Fault, Service, demo};

use crate::support::{config_for, credential, emulator};

#[tokio::test]
async fn connections_are_reused_within_a_tenant() {
    let emulator = emulator().await;
    let tenant = credential(config_for(&emulator).build().unwrap());
    for i in 0..3 {
        tenant
            .get_token(
                &format!("https://resource-{i}.example"),
                &Identity::SystemAssigned,
            )
            .await
            .unwrap();
    }
    let vault = emulator.vault_url();
    tenant
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap();
    tenant
        .get_secret(
            &vault,
            "mysecret",
            Some(azmi_emulator::demo::MYSECRET_OLD_VERSION),
            &Identity::SystemAssigned,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            emulator.imds_requests(),
            emulator.connections(Service::Imds)
        ),
        (4, 1)
    );
    assert_eq!(
        (
            emulator.vault_requests(),
            emulator.connections(Service::Vault)
        ),
        (3, 1)
    );
}

#[tokio::test]
async fn tenants_share_tokens_and_nothing_else() {
    let emulator = emulator().await;
    let a = credential(config_for(&emulator).build().unwrap());
    let b = credential(config_for(&emulator).build().unwrap());
    a.get_token("https://vault.azure.net", &Identity::SystemAssigned)
        .await
        .unwrap();
    b.get_token("https://vault.azure.net", &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(
        emulator.imds_requests(),
        1,
        "the runtime's one cache serves every tenant that reaches the same endpoint"
    );
    assert_eq!((a.cache_stats().misses, b.cache_stats().hits), (1, 1));
    // Connections are each tenant's own.
    a.get_token("https://storage.azure.com", &Identity::SystemAssigned)
        .await
        .unwrap();
    b.get_token("https://management.azure.com", &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(
        emulator.connections(Service::Imds),
        2,
        "each tenant has its own connections"
    );
}

#[tokio::test]
async fn a_tenants_request_limit_refuses_the_excess() {
    let emulator = emulator().await;
    emulator.inject(
        Service::Imds,
        vec![Fault::Delay(Duration::from_millis(800))],
    );
    let limits = RequestLimits::default().max_concurrent_requests(1);
    let tenant = credential(
        config_for(&emulator)
            .request_limits(limits)
            .build()
            .unwrap(),
    );
    let slow = tokio::spawn({
        let tenant = tenant.clone();
        async move {
            tenant
                .get_token("https://slow.example", &Identity::SystemAssigned)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = tenant
        .get_token("https://other.example", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::ResourceLimit(_),
        "more than 1 requests in flight"
    );
    // Another tenant is not affected by this one's limit, while the slow
    // request still holds it.
    credential(config_for(&emulator).build().unwrap())
        .get_token("https://x.example", &Identity::SystemAssigned)
        .await
        .unwrap();
    assert!(!slow.is_finished());
    slow.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_connection_is_not_reused_after_a_response_that_was_not_read_to_its_end() {
    let emulator = emulator().await;
    let tenant = || {
        credential(
            config_for(&emulator)
                .retry_policy(azmi::RetryPolicy::default().time_scale(0.01))
                .build()
                .unwrap(),
        )
    };
    // An oversized answer (refused unread) or a truncated one (retried):
    // its connection is dropped, and the next request opens another, which
    // the request after reuses.
    for (fault, resource) in [
        (Fault::Oversized(100_000), "https://a.example"),
        (Fault::Truncated, "https://b.example"),
    ] {
        let tenant = tenant();
        let before = emulator.connections(Service::Imds);
        emulator.inject(Service::Imds, [fault.clone()]);
        let _ = tenant.get_token(resource, &Identity::SystemAssigned).await;
        tenant
            .get_token(&format!("{resource}/next"), &Identity::SystemAssigned)
            .await
            .unwrap();
        assert_eq!(
            emulator.connections(Service::Imds) - before,
            2,
            "{fault:?}: the first connection was reused, or the second not"
        );
    }
    // A complete answer leaves its connection for the next request.
    let tenant = tenant();
    tenant
        .get_token("https://first.example", &Identity::SystemAssigned)
        .await
        .unwrap();
    let before = emulator.connections(Service::Imds);
    for resource in ["https://c.example", "https://d.example"] {
        tenant
            .get_token(resource, &Identity::SystemAssigned)
            .await
            .unwrap();
    }
    assert_eq!(emulator.connections(Service::Imds) - before, 0);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let emulator = emulator().await;
    let quick = credential(
        config_for(&emulator)
            .request_limits(
                RequestLimits::default().idle_connection_timeout(Duration::from_millis(200)),
            )
            .build()
            .unwrap(),
    );
    let kept = credential(config_for(&emulator).build().unwrap());
    // Two resources: the tenants share the runtime's token cache, not
    // connections.
    for (tenant, resource) in [
        (&quick, "https://vault.azure.net"),
        (&kept, "https://storage.azure.com"),
    ] {
        tenant
            .get_token(resource, &Identity::SystemAssigned)
            .await
            .unwrap();
    }
    assert_eq!(emulator.open_connections(Service::Imds), 2);
    // The quick tenant's connection is closed by its pool, with no further
    // call; the other tenant's is kept.
    let mut open = 2;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        open = emulator.open_connections(Service::Imds);
        if open == 1 {
            break;
        }
    }
    assert_eq!(open, 1, "the idle connection was not closed");
    // Dropping a tenant closes its connections.
    drop(kept);
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = emulator.open_connections(Service::Imds);
        if open == 0 {
            break;
        }
    }
    assert_eq!(open, 0, "a dropped tenant's connection stayed open");
}

#[tokio::test]
async fn a_pooled_runtime_queues_calls_beyond_its_slots() {
    let runtime = Runtime::builder()
        .pooling(Pooling::default().instances(1))
        .cache_dir(crate::support::cache_dir())
        .build()
        .unwrap();
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    // Pooled instances work like the others, slot after slot.
    let tenant = Credential::new(runtime.clone(), config_for(&emulator).build().unwrap());
    let secret = tenant
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap();
    assert_eq!(secret.value.expose(), "TOPSECRET");

    // One slot, held by a call the emulator keeps waiting: a second
    // tenant's call waits for the slot, within its own deadline.
    emulator.inject(
        Service::Imds,
        vec![Fault::Delay(Duration::from_millis(1500))],
    );
    let slow = tokio::spawn({
        let tenant = tenant.clone();
        async move {
            tenant
                .get_token("https://slow.example", &Identity::SystemAssigned)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let impatient = Credential::new(
        runtime.clone(),
        config_for(&emulator)
            .call_limits(CallLimits::default().timeout(Duration::from_millis(200)))
            .build()
            .unwrap(),
    );
    let err = impatient
        .get_token("https://x.example", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::Timeout(_), "no instance slot");
    let patient = Credential::new(runtime.clone(), config_for(&emulator).build().unwrap());
    patient
        .get_token("https://y.example", &Identity::SystemAssigned)
        .await
        .unwrap();
    slow.await.unwrap().unwrap();

    // A tenant may not ask for more memory than a slot holds.
    let greedy = Credential::new(
        runtime,
        config_for(&emulator)
            .call_limits(CallLimits::default().memory_bytes(Pooling::default().memory_bytes * 2))
            .build()
            .unwrap(),
    );
    let err = greedy
        .get_token("https://z.example", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::Config(_), "Pooling::memory_bytes");
}

#[tokio::test]
async fn each_tenant_uses_its_own_identity() {
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    let system = credential(config_for(&emulator).build().unwrap());
    let user = credential(
        config_for(&emulator)
            .identity(Identity::ClientId(demo::USER_CLIENT_ID.into()))
            .build()
            .unwrap(),
    );
    // Only the user-assigned identity may read `uami-only`.
    assert_eq!(
        user.secret(&vault, "uami-only", None)
            .await
            .unwrap()
            .value
            .expose(),
        "UAMISECRET"
    );
    let err = system.secret(&vault, "uami-only", None).await.unwrap_err();
    assert!(
        matches!(err, Error::Forbidden(ref e) if e.inner_code.as_deref() == Some("ForbiddenByRbac")),
        "{err:?}"
    );
    // `token` asks for the configured identity too.
    let token = user.token("https://management.azure.com").await.unwrap();
    assert_eq!(
        token,
        user.get_token(
            "https://management.azure.com",
            &Identity::ClientId(demo::USER_CLIENT_ID.into())
        )
        .await
        .unwrap(),
        "the same cache entry"
    );
    assert_eq!(user.cache_stats().hits, 1);
}

#[tokio::test]
async fn check_instantiates_under_the_tenants_limits() {
    let emulator = emulator().await;
    credential(config_for(&emulator).build().unwrap())
        .check()
        .await
        .unwrap();
    let tiny = credential(
        config_for(&emulator)
            .call_limits(CallLimits::default().memory_bytes(64 * 1024))
            .build()
            .unwrap(),
    );
    let err = tiny.check().await.unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "memory limit of 65536 bytes");
    assert_eq!(emulator.imds_requests(), 0, "nothing was called");
}
