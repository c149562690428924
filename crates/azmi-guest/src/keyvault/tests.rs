use super::*;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "https://myvault.vault.azure.net/secrets/mysecret/";
const BUNDLE: &str = r#"{"value":"TOPSECRET","id":"https://myvault.vault.azure.net/secrets/mysecret/0123456789abcdef0123456789abcdef","attributes":{"enabled":true}}"#;

fn vault() -> Vault {
    Vault::parse("https://myvault.vault.azure.net").unwrap()
}

#[test]
fn latest_version_request_shape() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", API_VERSION)])
            .header("Authorization", "Bearer tok")
            .header("Accept", "application/json")
            .reply(200, "application/json; charset=utf-8", BUNDLE),
    ]);
    let s = read(
        &Harness::new().ctx(&fake),
        &vault(),
        "mysecret",
        None,
        "tok",
    )
    .unwrap();
    assert_eq!(s.value.expose(), "TOPSECRET");
    fake.assert_done();
}

#[test]
fn pinned_version_request_shape() {
    let v = "0123456789abcdef0123456789abcdef";
    let fake = FakeTransport::new(vec![
        Expect::get(&format!("{URL}{v}"))
            .query(&[("api-version", API_VERSION)])
            .reply(200, "application/json", BUNDLE),
    ]);
    assert_eq!(
        read(
            &Harness::new().ctx(&fake),
            &vault(),
            "mysecret",
            Some(v),
            "tok"
        )
        .unwrap()
        .version,
        v
    );
}

fn fail(status: u16, body: &str) -> Error {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", API_VERSION)])
            .reply(status, "application/json", body),
    ]);
    let mut h = Harness::new();
    h.policy.max_retries = 0;
    read(&h.ctx(&fake), &vault(), "mysecret", None, "eyJ.tok.sig").unwrap_err()
}

#[test]
fn service_errors_map_by_status() {
    let e = fail(
        404,
        r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) mysecret was not found in this key vault."}}"#,
    );
    assert!(
        matches!(e, Error::NotFound(ref se) if se.code == "SecretNotFound" && se.status == 404),
        "{e:?}"
    );
    let e = fail(
        401,
        r#"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience. token eyJ.tok.sig"}}"#,
    );
    let Error::Unauthorized(se) = e else {
        panic!("{e:?}")
    };
    assert!(
        se.message.contains("AKV10022") && !se.message.contains("eyJ.tok.sig"),
        "{se:?}"
    );
    let e = fail(
        403,
        r#"{"error":{"code":"Forbidden","message":"denied","innererror":{"code":"ForbiddenByRbac"}}}"#,
    );
    assert!(
        matches!(e, Error::Forbidden(ref se) if se.inner_code.as_deref() == Some("ForbiddenByRbac")),
        "{e:?}"
    );
    let e = fail(
        429,
        r#"{"error":{"code":"Throttled","message":"slow down"}}"#,
    );
    assert!(
        matches!(e, Error::Service(ref se) if se.status == 429),
        "{e:?}"
    );
    let e = fail(301, "");
    assert!(matches!(e, Error::InvalidResponse(_)), "{e:?}");
    let e = fail(200, "{}");
    assert!(
        matches!(e, Error::InvalidResponse(ref m) if m.contains("no string `value`")),
        "{e:?}"
    );
}

#[test]
fn throttling_is_retried_with_retry_after() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", API_VERSION)])
            .reply_headers(
                429,
                &[("retry-after", "2"), ("content-type", "application/json")],
                "{}",
            ),
        Expect::get(URL)
            .query(&[("api-version", API_VERSION)])
            .reply(200, "application/json", BUNDLE),
    ]);
    let h = &mut Harness::new();
    read(&h.ctx(&fake), &vault(), "mysecret", None, "tok").unwrap();
    assert_eq!(*h.clock.slept.borrow(), [std::time::Duration::from_secs(2)]);
}

#[test]
fn discovery_sends_no_token_and_verifies_the_challenge() {
    let challenge =
        r#"Bearer authorization="https://login.windows.net/t", resource="https://vault.azure.net""#;
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", API_VERSION)])
            .reply_headers(401, &[("www-authenticate", challenge)], ""),
    ]);
    let c = discover(&Harness::new().ctx(&fake), &vault(), "mysecret", None).unwrap();
    assert_eq!(
        (c.resource.as_str(), c.tenant.as_deref()),
        ("https://vault.azure.net", Some("t"))
    );
}
