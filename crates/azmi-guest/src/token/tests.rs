use super::*;

const NOW: u64 = 1_700_000_000;

fn parse(body: &str) -> Result<Token, Error> {
    parse_token_response(
        body.as_bytes(),
        "https://vault.azure.net",
        NOW,
        "IMDS at http://x",
    )
}

#[test]
fn parses_imds_strings() {
    let t = parse(
        r#"{"access_token":"eyJ0","refresh_token":"","expires_in":"3599","expires_on":"1700003599",
            "not_before":"1699999699","resource":"https://vault.azure.net","token_type":"Bearer"}"#,
    )
    .unwrap();
    assert_eq!(t.expires_on, 1_700_003_599);
    assert_eq!(
        t.refresh_at, None,
        "a one-hour token has no half-life refresh"
    );
    assert_eq!(t.token_type, "Bearer");
}

#[test]
fn parses_integers_and_expires_in_only() {
    let t = parse(r#"{"access_token":"a","expires_in":86399}"#).unwrap();
    assert_eq!(t.expires_on, NOW + 86_399);
    assert_eq!(
        t.refresh_at,
        Some(NOW + 86_399 / 2),
        "≥ 2 h tokens refresh at half-life"
    );
    assert_eq!(
        t.resource, "https://vault.azure.net",
        "falls back to the requested resource"
    );
}

#[test]
fn expires_on_wins_over_expires_in() {
    let t = parse(r#"{"access_token":"a","expires_in":0,"expires_on":"1700000042"}"#).unwrap();
    assert_eq!(t.expires_on, 1_700_000_042);
}

#[test]
fn refresh_in_is_authoritative() {
    let t = parse(r#"{"access_token":"a","expires_in":"86400","refresh_in":"600"}"#).unwrap();
    assert_eq!(t.refresh_at, Some(NOW + 600));
}

#[test]
fn refuses_malformed_responses_without_quoting_them() {
    for body in [
        "<html>proxy</html>",
        "[]",
        r#"{"expires_in":"3600"}"#,
        r#"{"access_token":"","expires_in":"3600"}"#,
        r#"{"access_token":"SECRET-TOKEN"}"#,
        r#"{"access_token":"SECRET-TOKEN","expires_in":"-5"}"#,
        r#"{"access_token":"SECRET-TOKEN","expires_in":"soon"}"#,
        r#"{"access_token":"SECRET-TOKEN","expires_on":1.5}"#,
        r#"{"access_token":"SECRET-TOKEN","expires_on":"1699999999"}"#,
        r#"{"access_token":"SECRET-TOKEN","expires_in":"99999999999999999999999"}"#,
    ] {
        let Err(Error::InvalidResponse(message)) = parse(body) else {
            panic!("accepted {body}");
        };
        assert!(!message.contains("SECRET-TOKEN"), "{message}");
        assert!(
            message.starts_with("IMDS at http://x answered 200 but"),
            "{message}"
        );
    }
}

#[test]
fn debug_redacts_the_token() {
    let t = parse(r#"{"access_token":"SECRET-TOKEN","expires_in":3600}"#).unwrap();
    assert!(!format!("{t:?}").contains("SECRET-TOKEN"));
}
