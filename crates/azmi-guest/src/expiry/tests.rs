use super::*;
use serde_json::json;

#[test]
fn integers_and_digit_strings() {
    assert_eq!(timestamp(&json!(1586984735)), Ok(1586984735));
    assert_eq!(timestamp(&json!("1586984735")), Ok(1586984735));
    assert_eq!(seconds(&json!("3599")), Ok(3599));
    assert_eq!(seconds(&json!(0)), Ok(0));
    assert!(seconds(&json!("1.5")).is_err());
    assert!(seconds(&json!(-1)).is_err());
    assert!(timestamp(&json!(true)).is_err());
}

#[test]
fn app_service_2017_dates() {
    // The reference's test vectors, both platforms (UTC).
    assert_eq!(
        timestamp(&json!("06/20/2019 02:57:58 +00:00")),
        Ok(1_560_999_478)
    );
    assert_eq!(
        timestamp(&json!("1/16/2020 5:24:12 AM +00:00")),
        Ok(1_579_152_252)
    );
    assert_eq!(
        timestamp(&json!("1/16/2020 5:24:12 PM +00:00")),
        Ok(1_579_195_452)
    );
    assert_eq!(
        timestamp(&json!("1/16/2020 12:24:12 AM +00:00")),
        Ok(1_579_134_252)
    );
    // A non-UTC offset moves the instant.
    assert_eq!(
        timestamp(&json!("1/16/2020 7:24:12 AM +02:00")),
        Ok(1_579_152_252)
    );
    assert_eq!(
        timestamp(&json!("02/29/2024 12:00:00 +00:00")),
        Ok(1_709_208_000)
    );
}

#[test]
fn rfc3339_dates() {
    assert_eq!(timestamp(&json!("2019-06-20T02:57:58Z")), Ok(1_560_999_478));
    assert_eq!(
        timestamp(&json!("2019-06-20T04:57:58.123+02:00")),
        Ok(1_560_999_478)
    );
    assert_eq!(timestamp(&json!("2019-06-20 02:57:58Z")), Ok(1_560_999_478));
}

#[test]
fn malformed_dates_are_refused() {
    for bad in [
        "13/01/2020 00:00:00 +00:00",
        "02/30/2021 00:00:00 +00:00",
        "1/16/2020 13:24:12 PM +00:00",
        "1/16/2020 5:24:12 XM +00:00",
        "1/16/2020 5:24 +00:00",
        "1/16/2020 5:24:12",
        "1/16/1969 5:24:12 AM +00:00",
        "2019-06-20T02:57:58",
        "tomorrow",
        "",
        // A multi-byte character across the date's end (found in review).
        "2019-06-0éT02:57:58Z",
    ] {
        assert!(timestamp(&json!(bad)).is_err(), "{bad}");
    }
}
