use super::*;
use crate::identity::Identity;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "http://127.0.0.1:8081/msi/token";

fn source(extra: &[(&str, &str)]) -> TokenEndpoint {
    let mut vars = vec![(MSI_ENDPOINT, URL), (MSI_SECRET, "S-SECRET")];
    vars.extend_from_slice(extra);
    from_env(&Env::from_pairs(vars)).unwrap()
}

#[test]
fn clientid_secret_header_and_date_expiry() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[
                ("api-version", "2017-09-01"),
                ("resource", "r"),
                ("clientid", "c"),
            ])
            .header("secret", "S-SECRET")
            .reply(
                200,
                "application/json",
                r#"{"access_token":"t","expires_on":"1/16/2030 5:24:12 AM +00:00"}"#,
            ),
    ]);
    let token = source(&[])
        .get_token(
            &Harness::new().ctx(&fake),
            "r",
            &Identity::ClientId("c".into()),
        )
        .unwrap();
    assert_eq!(token.expires_on, 1_894_771_452);
}

#[test]
fn default_client_id_applies_to_system_requests() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[
                ("api-version", "2017-09-01"),
                ("resource", "r"),
                ("clientid", "ml-default"),
            ])
            .reply(
                200,
                "application/json",
                r#"{"access_token":"t","expires_on":"06/20/2030 02:57:58 +00:00"}"#,
            ),
    ]);
    source(&[(DEFAULT_IDENTITY_CLIENT_ID, "ml-default")])
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap();
}

#[test]
fn object_and_resource_ids_are_refused() {
    let fake = FakeTransport::new(vec![]);
    for identity in [
        Identity::ObjectId("o".into()),
        Identity::ResourceId("/subscriptions/r".into()),
    ] {
        let err = source(&[])
            .get_token(&Harness::new().ctx(&fake), "r", &identity)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("client id only")),
            "{err:?}"
        );
    }
}
