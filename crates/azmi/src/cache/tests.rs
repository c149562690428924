use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::*;

const NOW: u64 = 1_700_000_000;

/// One resolver for every key of these tests (keys compare it by identity).
fn resolver() -> Arc<dyn crate::Resolve> {
    static RESOLVER: std::sync::OnceLock<Arc<dyn crate::Resolve>> = std::sync::OnceLock::new();
    RESOLVER
        .get_or_init(|| Arc::new(crate::SystemResolver))
        .clone()
}

fn key() -> Key {
    Key {
        source: Source::Imds,
        upstream: Upstream([0; 32]),
        resolver: ResolverKey(resolver()),
        identity: Identity::SystemAssigned,
        resource: "r".into(),
    }
}

fn token(name: &str, lifetime: u64, refresh_at: Option<u64>) -> AccessToken {
    AccessToken {
        token: name.into(),
        token_type: "Bearer".into(),
        resource: "r".into(),
        expires_on: NOW + lifetime,
        refresh_at,
    }
}

#[tokio::test]
async fn serves_fresh_tokens_and_refetches_stale_ones() {
    let cache = Arc::new(TokenCache::default());
    let t = cache
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("a", 3600, None)) },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    let t = cache
        .get(
            key(),
            None,
            || NOW + 100,
            |_| Ok(()),
            || async { panic!("fetched a fresh token") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    // Within five minutes of expiry: fetched again.
    let t = cache
        .get(
            key(),
            None,
            || NOW + 3400,
            |_| Ok(()),
            || async { Ok(token("b", 7200, None)) },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "b");
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 1,
            misses: 2,
            entries: 1,
            ..CacheStats::default()
        }
    );
}

#[tokio::test]
async fn a_failed_refresh_serves_the_valid_token_and_backs_off() {
    let cache = Arc::new(TokenCache::default());
    cache
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("a", 86_400, Some(NOW + 43_200))) },
        )
        .await
        .unwrap();
    let later = NOW + 50_000;
    let t = cache
        .get(
            key(),
            None,
            || later,
            |_| Ok(()),
            || async {
                Err(Error::Service(crate::ServiceError::new(
                    503,
                    String::new(),
                    "down".into(),
                    None,
                )))
            },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    // No new attempt for 30 s.
    let t = cache
        .get(
            key(),
            None,
            || later + 10,
            |_| Ok(()),
            || async { panic!("refreshed again too soon") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    let t = cache
        .get(
            key(),
            None,
            || later + 31,
            |_| Ok(()),
            || async { Ok(token("b", 86_400, None)) },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "b");
    let stats = cache.stats();
    assert_eq!((stats.refreshes, stats.refresh_failures), (2, 1));
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch_and_its_error() {
    let cache = Arc::new(TokenCache::default());
    let fetches = Arc::new(AtomicUsize::new(0));
    let calls = (0..20)
        .map(|_| {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tokio::spawn(async move {
                cache
                    .get(
                        key(),
                        None,
                        || NOW,
                        |_| Ok(()),
                        || async move {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Err::<AccessToken, _>(Error::Unavailable("nothing there".into()))
                        },
                    )
                    .await
            })
        })
        .collect::<Vec<_>>();
    for call in calls {
        assert_eq!(
            call.await.unwrap().unwrap_err(),
            Error::Unavailable("nothing there".into())
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "one request for twenty callers"
    );
    assert_eq!(cache.stats().coalesced, 19);
}

#[tokio::test]
async fn a_cancelled_leader_does_not_strand_its_followers() {
    let cache = Arc::new(TokenCache::default());
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get(
                    key(),
                    None,
                    || NOW,
                    |_| Ok(()),
                    || async { std::future::pending::<Result<AccessToken, Error>>().await },
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    leader.abort();
    let _ = leader.await;
    let t = tokio::time::timeout(
        Duration::from_secs(5),
        cache.get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("a", 3600, None)) },
        ),
    )
    .await
    .expect("not stranded")
    .unwrap();
    assert_eq!(t.token.expose(), "a");
}

/// A refused admission (a tenant's spent budget) is that caller's alone:
/// nothing is fetched, nothing cached, the next caller leads; and a
/// refresh that is not admitted keeps serving the still-valid token.
#[tokio::test]
async fn a_refused_admission_fetches_nothing_and_strands_no_one() {
    let cache = Arc::new(TokenCache::default());
    let err = cache
        .get(
            key(),
            None,
            || NOW,
            |_| Err(Error::Denied("budget".into())),
            || async { panic!("fetched without admission") },
        )
        .await
        .unwrap_err();
    assert_eq!(err, Error::Denied("budget".into()));
    assert_eq!(cache.stats().misses, 0, "a refusal is not a miss");
    let t = cache
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("a", 86_400, Some(NOW + 43_200))) },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    let t = cache
        .get(
            key(),
            None,
            || NOW + 50_000,
            |_| Err(Error::Denied("budget".into())),
            || async { panic!("refreshed without admission") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a", "the still-valid token");
}

/// Two views of one runtime's slots share tokens and count apart.
#[tokio::test]
async fn views_of_one_runtime_share_tokens_and_count_apart() {
    let slots = Arc::new(TokenSlots::default());
    let a = Arc::new(TokenCache::sharing(slots.clone()));
    let b = Arc::new(TokenCache::sharing(slots));
    a.get(
        key(),
        None,
        || NOW,
        |_| Ok(()),
        || async { Ok(token("a", 3600, None)) },
    )
    .await
    .unwrap();
    let t = b
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { panic!("fetched again") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "a");
    assert_eq!((a.stats().misses, a.stats().hits), (1, 0));
    assert_eq!((b.stats().misses, b.stats().hits), (0, 1));
    assert_eq!(b.stats().entries, 1);
}

/// A token a vault refused for one caller is replaced for it, and for the
/// others only once the new one exists: they keep being served meanwhile.
#[tokio::test]
async fn a_refused_token_is_replaced_not_evicted() {
    let slots = Arc::new(TokenSlots::default());
    let refused_by_a_vault = Arc::new(TokenCache::sharing(slots.clone()));
    let other = Arc::new(TokenCache::sharing(slots.clone()));
    refused_by_a_vault
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("old", 3600, None)) },
        )
        .await
        .unwrap();
    // The replacement fails: the others still have the old token.
    let err = refused_by_a_vault
        .get(
            key(),
            Some("old"),
            || NOW,
            |_| Ok(()),
            || async { Err::<AccessToken, _>(Error::Unavailable("down".into())) },
        )
        .await
        .unwrap_err();
    assert_eq!(err, Error::Unavailable("down".into()));
    let t = other
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { panic!("evicted") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "old");
    // The replacement succeeds: everyone gets the new one.
    let t = refused_by_a_vault
        .get(
            key(),
            Some("old"),
            || NOW,
            |_| Ok(()),
            || async { Ok(token("new", 3600, None)) },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "new");
    let t = other
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { panic!("fetched again") },
        )
        .await
        .unwrap();
    assert_eq!(t.token.expose(), "new");
}

/// A leader's failure of its own (its deadline, its limits) is not handed
/// to the callers waiting on it: they fetch under their own.
#[tokio::test]
async fn a_leaders_own_failure_is_not_shared() {
    let cache = Arc::new(TokenCache::default());
    let leader = {
        let cache = cache.clone();
        tokio::spawn(async move {
            cache
                .get(
                    key(),
                    None,
                    || NOW,
                    |_| Ok(()),
                    || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Err::<AccessToken, _>(Error::Timeout("the leader's deadline".into()))
                    },
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let follower = cache
        .get(
            key(),
            None,
            || NOW,
            |_| Ok(()),
            || async { Ok(token("mine", 3600, None)) },
        )
        .await
        .unwrap();
    assert_eq!(follower.token.expose(), "mine");
    assert!(matches!(leader.await.unwrap(), Err(Error::Timeout(_))));
}

/// Failed keys leave nothing behind, and expired tokens are swept once
/// the map has grown.
#[tokio::test]
async fn the_map_does_not_keep_what_it_cannot_serve() {
    let cache = Arc::new(TokenCache::default());
    let failing = |resource: String| Key { resource, ..key() };
    for i in 0..10 {
        let _ = cache
            .get(
                failing(format!("r{i}")),
                None,
                || NOW,
                |_| Ok(()),
                || async { Err::<AccessToken, _>(Error::Unavailable("down".into())) },
            )
            .await;
    }
    let _ = cache
        .get(
            failing("refused".into()),
            None,
            || NOW,
            |_| Err(Error::Denied("budget".into())),
            || async { panic!("not admitted") },
        )
        .await;
    assert_eq!(cache.shared.lock().len(), 0, "no empty slots");
    for i in 0..MIN_SWEEP - 1 {
        cache
            .get(
                failing(format!("short-{i}")),
                None,
                || NOW,
                |_| Ok(()),
                || async { Ok(token("t", 600, None)) },
            )
            .await
            .unwrap();
    }
    assert_eq!(cache.shared.lock().len(), MIN_SWEEP - 1);
    // Later, the one that reaches the sweep size: the expired ones go.
    cache
        .get(
            failing("late".into()),
            None,
            || NOW + 10_000,
            |_| Ok(()),
            || async { Ok(token("t", 20_000, None)) },
        )
        .await
        .unwrap();
    assert_eq!(cache.shared.lock().len(), 1);
}
