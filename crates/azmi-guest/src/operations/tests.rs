use super::*;
use crate::testing::{Expect, FakeTransport, Harness};

const IMDS: &str = "http://127.0.0.1:9/metadata/identity/oauth2/token";
const SECRET_URL: &str = "https://myvault.vault.azure.net/secrets/mysecret/";
const CHALLENGE: &str = r#"Bearer authorization="https://login.windows.net/tenant", resource="https://vault.azure.net""#;
const BUNDLE: &str =
    r#"{"value":"TOPSECRET","id":"https://myvault.vault.azure.net/secrets/mysecret/0123"}"#;

fn env() -> Env {
    Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")])
}

fn imds(resource: &str, token: &str) -> Expect {
    Expect::get(IMDS)
        .query(&[("api-version", "2018-02-01"), ("resource", resource)])
        .reply(
            200,
            "application/json",
            &format!(r#"{{"access_token":"{token}","expires_in":3600}}"#),
        )
}

fn vault(bearer: Option<&str>) -> Expect {
    let e = Expect::get(SECRET_URL).query(&[("api-version", keyvault::API_VERSION)]);
    match bearer {
        Some(token) => e.header("authorization", &format!("Bearer {token}")),
        None => e,
    }
}

fn challenge(header: &str) -> Expect {
    vault(None).reply_headers(
        401,
        &[
            ("www-authenticate", header),
            ("content-type", "application/json"),
        ],
        "{}",
    )
}

fn run_secret(h: &mut Harness, fake: &FakeTransport) -> Result<Secret, Error> {
    get_secret(
        &mut h.ctx(fake),
        &env(),
        "https://myvault.vault.azure.net",
        "mysecret",
        None,
        &Identity::SystemAssigned,
    )
}

#[test]
fn challenge_then_token_then_secret() {
    let fake = FakeTransport::new(vec![
        challenge(CHALLENGE),
        imds("https://vault.azure.net", "vault-token"),
        vault(Some("vault-token")).reply(200, "application/json", BUNDLE),
    ]);
    let mut h = Harness::new();
    assert_eq!(
        run_secret(&mut h, &fake).unwrap().value.expose(),
        "TOPSECRET"
    );
    fake.assert_done();
    // The instance remembers the challenge and the token.
    let fake = FakeTransport::new(vec![vault(Some("vault-token")).reply(
        200,
        "application/json",
        BUNDLE,
    )]);
    run_secret(&mut h, &fake).unwrap();
    fake.assert_done();
}

#[test]
fn a_challenge_for_another_audience_gets_no_token() {
    for header in [
        r#"Bearer authorization="https://login.windows.net/t", resource="https://management.azure.com""#,
        r#"Bearer authorization="https://login.windows.net/t", scope="https://evil.example/.default""#,
    ] {
        // No IMDS request is expected: the fake would panic on one.
        let fake = FakeTransport::new(vec![challenge(header)]);
        let err = run_secret(&mut Harness::new(), &fake).unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse(ref m) if m.contains("is not under that domain")),
            "{err:?}"
        );
        fake.assert_done();
    }
}

#[test]
fn a_vault_that_does_not_challenge_is_not_key_vault() {
    let fake = FakeTransport::new(vec![vault(None).reply(200, "application/json", BUNDLE)]);
    let err = run_secret(&mut Harness::new(), &fake).unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(ref m) if m.contains("without asking for a token")),
        "{err:?}"
    );
}

#[test]
fn a_401_with_a_token_rediscovers_once() {
    let refused = |token: &str| {
        vault(Some(token)).reply(
            401,
            "application/json",
            r#"{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer."}}"#,
        )
    };
    let fake = FakeTransport::new(vec![
        challenge(CHALLENGE),
        imds("https://vault.azure.net", "t1"),
        refused("t1"),
        challenge(CHALLENGE),
        imds("https://vault.azure.net", "t2"),
        vault(Some("t2")).reply(200, "application/json", BUNDLE),
    ]);
    assert_eq!(
        run_secret(&mut Harness::new(), &fake)
            .unwrap()
            .value
            .expose(),
        "TOPSECRET"
    );
    fake.assert_done();

    let fake = FakeTransport::new(vec![
        challenge(CHALLENGE),
        imds("https://vault.azure.net", "t1"),
        refused("t1"),
        challenge(CHALLENGE),
        imds("https://vault.azure.net", "t2"),
        refused("t2"),
    ]);
    let err = run_secret(&mut Harness::new(), &fake).unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized(ref e) if e.message.contains("AKV10032")),
        "{err:?}"
    );
    fake.assert_done();
}

#[test]
fn cached_tokens_are_served_and_refreshed_proactively() {
    let fake = FakeTransport::new(vec![
        Expect::get(IMDS)
            .query(&[("api-version", "2018-02-01"), ("resource", "r")])
            .reply(
                200,
                "application/json",
                r#"{"access_token":"long","expires_in":86400}"#,
            ),
    ]);
    let mut h = Harness::new();
    let first = get_token(&mut h.ctx(&fake), &env(), "r", &Identity::SystemAssigned).unwrap();
    // Same resource spelled as a scope: served from the cache.
    let again = get_token(
        &mut h.ctx(&fake),
        &env(),
        "r/.default",
        &Identity::SystemAssigned,
    )
    .unwrap();
    assert_eq!(first, again);
    fake.assert_done();

    // Past half-life: a refresh is attempted; when it fails the valid token is served.
    h.now += 50_000;
    let failing = FakeTransport::new(vec![
        Expect::get(IMDS)
            .query(&[("api-version", "2018-02-01"), ("resource", "r")])
            .reply(
                400,
                "application/json",
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
            ),
    ]);
    let served = get_token(&mut h.ctx(&failing), &env(), "r", &Identity::SystemAssigned).unwrap();
    assert_eq!(served.token.expose(), "long");
    failing.assert_done();
    // The failure is not retried on every call.
    let none = FakeTransport::new(vec![]);
    get_token(&mut h.ctx(&none), &env(), "r", &Identity::SystemAssigned).unwrap();
}

#[test]
fn bad_arguments_fail_before_any_request() {
    let fake = FakeTransport::new(vec![]);
    let mut h = Harness::new();
    let id = Identity::SystemAssigned;
    let v = "https://myvault.vault.azure.net";
    let mut ctx = h.ctx(&fake);
    for result in [
        get_secret(&mut ctx, &env(), "https://evil.example", "s", None, &id).map(|_| ()),
        get_secret(&mut ctx, &env(), v, "a/b", None, &id).map(|_| ()),
        get_secret(&mut ctx, &env(), v, "s", Some("../x"), &id).map(|_| ()),
        get_secret(
            &mut ctx,
            &env(),
            v,
            "s",
            None,
            &Identity::ClientId("x".into()),
        )
        .map(|_| ()),
        get_secret_with_token(&mut ctx, v, "s", None, "bad token\r\nX: y").map(|_| ()),
        get_token(&mut ctx, &env(), "a b", &id).map(|_| ()),
        get_token(
            &mut ctx,
            &Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "nope")]),
            "r",
            &id,
        )
        .map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::InvalidArgument(_))),
            "{result:?}"
        );
    }
    assert_eq!(*fake.calls.borrow(), 0);
}
