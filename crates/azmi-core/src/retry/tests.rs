use super::*;

#[test]
fn encoding_round_trips() {
    let settings = RetrySettings {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
        gone_min_total: Duration::from_secs(2),
        retry_after_cap: Duration::from_secs(3),
        deadline: Duration::from_secs(4),
        scale: 0.5,
    };
    assert_eq!(RetrySettings::parse(&settings.encode()), Ok(settings));
    assert_eq!(RetrySettings::parse(""), Ok(RetrySettings::default()));
    // "Forever" stays forever, never an overflow.
    let forever = RetrySettings {
        max_delay: Duration::MAX,
        ..RetrySettings::default()
    };
    let parsed = RetrySettings::parse(&forever.encode()).unwrap();
    assert_eq!(parsed.max_delay, Duration::from_millis(u64::MAX));
}

#[test]
fn parsing_is_strict() {
    for bad in [
        "x",
        "max_retries=-1",
        "base_ms=1.5",
        "scale=0",
        "scale=2",
        "scale=NaN",
        "colour=red",
    ] {
        assert!(RetrySettings::parse(bad).is_err(), "{bad}");
    }
}
