use super::*;

const NOW: u64 = 1_700_000_000;

#[test]
fn served_while_more_than_five_minutes_remain() {
    assert_eq!(freshness(NOW + 301, None, NOW, None), Freshness::Fresh);
    assert_eq!(freshness(NOW + 300, None, NOW, None), Freshness::Stale);
    assert_eq!(freshness(NOW - 1, None, NOW, None), Freshness::Stale);
}

#[test]
fn refresh_from_refresh_at_with_backoff_after_failure() {
    let expires = NOW + 3600;
    assert_eq!(
        freshness(expires, Some(NOW + 1), NOW, None),
        Freshness::Fresh
    );
    assert_eq!(
        freshness(expires, Some(NOW), NOW, None),
        Freshness::RefreshDue
    );
    assert_eq!(
        freshness(expires, Some(NOW - 100), NOW, Some(NOW - 10)),
        Freshness::Fresh,
        "failed 10 s ago"
    );
    assert_eq!(
        freshness(expires, Some(NOW - 100), NOW, Some(NOW - 30)),
        Freshness::RefreshDue
    );
    // Near expiry a token is stale whatever its refresh time says.
    assert_eq!(
        freshness(NOW + 200, Some(NOW - 100), NOW, Some(NOW - 1)),
        Freshness::Stale
    );
}

#[test]
fn refresh_times() {
    assert_eq!(refresh_at(NOW, 86_400, None), Some(NOW + 43_200));
    assert_eq!(refresh_at(NOW, 7_200, None), Some(NOW + 3_600));
    assert_eq!(refresh_at(NOW, 3_599, None), None);
    assert_eq!(refresh_at(NOW, 3_600, Some(600)), Some(NOW + 600));
    assert_eq!(
        refresh_at(NOW, 60, Some(600)),
        Some(NOW + 60),
        "never after expiry"
    );
}
