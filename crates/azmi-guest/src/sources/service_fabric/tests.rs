use super::*;
use crate::identity::Identity;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "https://127.0.0.1:2377/metadata/identity/oauth2/token";
const THUMBPRINT: &str = "0123456789abcdef0123456789abcdef01234567";

fn env(endpoint: &str) -> Env {
    Env::from_pairs([
        (IDENTITY_ENDPOINT, endpoint),
        (IDENTITY_HEADER, "SF-SECRET"),
        (IDENTITY_SERVER_THUMBPRINT, THUMBPRINT),
    ])
}

#[test]
fn request_shape() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", "2019-07-01-preview"), ("resource", "r")])
            .header("Secret", "SF-SECRET")
            .reply(200, "application/json", r#"{"access_token":"t","expires_on":1700003600,"token_type":"Bearer","resource":"r"}"#),
    ]);
    from_env(&env(URL))
        .unwrap()
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap();
    fake.assert_done();
}

#[test]
fn refuses_http_and_user_assigned() {
    let err = from_env(&env("http://127.0.0.1:2377/t")).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("must be https")),
        "{err:?}"
    );
    let fake = FakeTransport::new(vec![]);
    let err = from_env(&env(URL))
        .unwrap()
        .get_token(
            &Harness::new().ctx(&fake),
            "r",
            &Identity::ClientId("c".into()),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("cluster's configuration")),
        "{err:?}"
    );
}
