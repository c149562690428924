use super::*;
use crate::identity::Identity;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "http://localhost:50342/oauth2/token";

#[test]
fn posts_the_resource_as_a_form() {
    let fake = FakeTransport::new(vec![
        Expect::post(URL, "resource=https%3A%2F%2Fvault.azure.net")
            .header("Metadata", "true")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .reply(
                200,
                "application/json",
                r#"{"access_token":"t","expires_in":"3600","expires_on":"1700003600"}"#,
            ),
    ]);
    let source = from_env(&Env::from_pairs([(MSI_ENDPOINT, URL)])).unwrap();
    source
        .get_token(
            &Harness::new().ctx(&fake),
            "https://vault.azure.net",
            &Identity::SystemAssigned,
        )
        .unwrap();
    fake.assert_done();
    let err = source
        .get_token(
            &Harness::new().ctx(&fake),
            "r",
            &Identity::ObjectId("o".into()),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("signed-in user")),
        "{err:?}"
    );
}
