use super::*;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "http://127.0.0.1:40342/metadata/identity/oauth2/token";
const CLIENT: &str = "0d5ad0b2-33b4-4e1c-9a52-5c5b0b3d54e8";

struct Fixture {
    dir: tempfile::TempDir,
    arc: Arc,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("abc.key"), "KEY-0123").unwrap();
    let endpoint = Url::parse("http://127.0.0.1:40342/metadata/identity/oauth2/token").unwrap();
    let arc = Arc::new(endpoint, dir.path().to_str().unwrap());
    Fixture { dir, arc }
}

impl Fixture {
    fn realm(&self) -> String {
        format!("Basic realm={}", self.dir.path().join("abc.key").display())
    }
}

fn query<'a>(extra: Option<(&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![("api-version", "2020-06-01"), ("resource", "r")];
    q.extend(extra);
    q
}

fn challenge(f: &Fixture, extra: Option<(&str, &str)>) -> Expect {
    Expect::get(URL)
        .query(&query(extra))
        .header("Metadata", "true")
        .reply_headers(401, &[("www-authenticate", &f.realm())], "")
}

#[test]
fn challenge_then_key_then_token() {
    let f = fixture();
    let fake = FakeTransport::new(vec![
        challenge(&f, None),
        Expect::get(URL)
            .query(&query(None))
            .header("Authorization", "Basic KEY-0123")
            .header("Metadata", "true")
            .reply(
                200,
                "application/json",
                r#"{"access_token":"t","expires_in":"3600","resource":"r"}"#,
            ),
    ]);
    let token = f
        .arc
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap();
    assert_eq!(token.token.expose(), "t");
    fake.assert_done();
}

#[test]
fn a_reply_other_than_the_challenge_is_refused() {
    let f = fixture();
    for (status, check) in [
        (200, "instead of its 401 challenge"),
        (302, "instead of its 401 challenge"),
        (500, "HTTP 500"),
    ] {
        let fake = FakeTransport::new(vec![Expect::get(URL).query(&query(None)).reply(
            status,
            "application/json",
            "{}",
        )]);
        let err = f
            .arc
            .get_token(
                &Harness::no_retries().ctx(&fake),
                "r",
                &Identity::SystemAssigned,
            )
            .unwrap_err();
        assert!(err.to_string().contains(check), "{status}: {err}");
    }
}

#[test]
fn a_second_401_means_the_key_was_refused_and_never_shows_it() {
    let f = fixture();
    let fake = FakeTransport::new(vec![
        challenge(&f, None),
        Expect::get(URL).query(&query(None)).reply(
            401,
            "application/json",
            r#"{"error":"unauthorized","error_description":"bad key KEY-0123"}"#,
        ),
    ]);
    let err = f
        .arc
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap_err();
    let Error::Unauthorized(e) = &err else {
        panic!("{err:?}")
    };
    assert!(e.message.contains("refused the key from"), "{}", e.message);
    assert!(!format!("{err:?}").contains("KEY-0123"), "{err:?}");
}

#[test]
fn an_echoed_key_is_redacted_whatever_the_status() {
    let f = fixture();
    for status in [400, 403, 500] {
        let fake = FakeTransport::new(vec![
            challenge(&f, None),
            Expect::get(URL).query(&query(None)).reply(
                status,
                "application/json",
                r#"{"error":"x","error_description":"echo KEY-0123"}"#,
            ),
        ]);
        std::fs::write(f.dir.path().join("abc.key"), "KEY-0123").unwrap();
        let err = f
            .arc
            .get_token(
                &Harness::no_retries().ctx(&fake),
                "r",
                &Identity::SystemAssigned,
            )
            .unwrap_err();
        assert!(
            !format!("{err:?}").contains("KEY-0123"),
            "{status}: {err:?}"
        );
    }
}

#[test]
fn user_assigned_requires_the_echo() {
    let f = fixture();
    let run = |body: &str, identity: Identity, param: (&'static str, String)| {
        let value = param.1.clone();
        let fake = FakeTransport::new(vec![
            challenge(&f, Some((param.0, &value))),
            Expect::get(URL)
                .query(&query(Some((param.0, &value))))
                .reply(200, "application/json", body),
        ]);
        f.arc.get_token(&Harness::new().ctx(&fake), "r", &identity)
    };
    let client = || Identity::ClientId(CLIENT.into());
    let echo = format!(
        r#"{{"access_token":"t","expires_in":3600,"client_id":"{}"}}"#,
        CLIENT.to_uppercase()
    );
    run(&echo, client(), ("client_id", CLIENT.into())).unwrap();
    for body in [
        r#"{"access_token":"t","expires_in":3600}"#.to_owned(),
        r#"{"access_token":"t","expires_in":3600,"client_id":"11111111-1111-1111-1111-111111111111"}"#.to_owned(),
    ] {
        let err = run(&body, client(), ("client_id", CLIENT.into())).unwrap_err();
        assert!(matches!(err, Error::InvalidResponse(ref m) if m.contains("did not confirm")), "{err:?}");
    }
    let rid = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u";
    let body = format!(r#"{{"access_token":"t","expires_in":3600,"mi_res_id":"{rid}"}}"#);
    run(
        &body,
        Identity::ResourceId(rid.into()),
        ("msi_res_id", rid.into()),
    )
    .unwrap();
}

#[test]
fn a_hostile_realm_is_refused_before_reading() {
    let f = fixture();
    let fake = FakeTransport::new(vec![Expect::get(URL).query(&query(None)).reply_headers(
        401,
        &[("www-authenticate", "Basic realm=/etc/shadow")],
        "",
    )]);
    let err = f
        .arc
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(ref m) if m.contains("not directly in the Arc token directory")),
        "{err:?}"
    );
    fake.assert_done();
}
