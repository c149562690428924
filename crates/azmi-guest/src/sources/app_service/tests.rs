use super::*;
use crate::identity::Identity;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "http://127.0.0.1:41741/MSI/token";

fn source() -> TokenEndpoint {
    from_env(&Env::from_pairs([
        (IDENTITY_ENDPOINT, URL),
        (IDENTITY_HEADER, "H-SECRET"),
    ]))
    .unwrap()
}

#[test]
fn request_shape_and_epoch_string_expiry() {
    for (identity, param) in [
        (Identity::SystemAssigned, None),
        (Identity::ClientId("c".into()), Some(("client_id", "c"))),
        (Identity::ObjectId("o".into()), Some(("object_id", "o"))),
        (
            Identity::ResourceId("/subscriptions/x".into()),
            Some(("mi_res_id", "/subscriptions/x")),
        ),
    ] {
        let mut q = vec![("api-version", "2019-08-01"), ("resource", "r")];
        q.extend(param);
        for body in [
            r#"{"access_token":"t","expires_on":"1700003600","resource":"r","token_type":"Bearer"}"#,
            r#"{"access_token":"t","expires_on":1700003600}"#,
        ] {
            let fake = FakeTransport::new(vec![
                Expect::get(URL)
                    .query(&q)
                    .header("X-IDENTITY-HEADER", "H-SECRET")
                    .reply(200, "application/json", body),
            ]);
            let token = source()
                .get_token(&Harness::new().ctx(&fake), "r", &identity)
                .unwrap();
            assert_eq!(token.expires_on, 1_700_003_600);
        }
    }
}

#[test]
fn an_echoed_header_is_redacted_from_errors() {
    for status in [400, 403, 500] {
        let fake = FakeTransport::new(vec![
            Expect::get(URL)
                .query(&[("api-version", "2019-08-01"), ("resource", "r")])
                .reply(
                    status,
                    "application/json",
                    r#"{"statusCode":500,"message":"bad header H-SECRET"}"#,
                ),
        ]);
        let err = source()
            .get_token(
                &Harness::no_retries().ctx(&fake),
                "r",
                &Identity::SystemAssigned,
            )
            .unwrap_err();
        assert!(
            !format!("{err:?}").contains("H-SECRET"),
            "{status}: {err:?}"
        );
        assert!(err.to_string().contains("[redacted]"), "{err}");
    }
}

#[test]
fn debug_hides_the_header() {
    assert!(!format!("{:?}", source()).contains("H-SECRET"));
}
