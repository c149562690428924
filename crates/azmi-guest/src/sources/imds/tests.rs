use super::*;
use crate::identity::Identity;
use crate::testing::{Expect, FakeTransport, Harness};
use crate::transport::TransportError;
use azmi_core::AZURE_POD_IDENTITY_AUTHORITY_HOST as AUTHORITY_HOST_VAR;

const URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const TOKEN_JSON: &str = r#"{"access_token":"tok","expires_in":"3599","expires_on":"1700003599","resource":"https://vault.azure.net","token_type":"Bearer"}"#;

fn imds(vars: &[(&str, &str)]) -> TokenEndpoint {
    from_env(&Env::from_pairs(vars.iter().copied())).unwrap()
}

#[test]
fn system_assigned_request_shape() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[
                ("api-version", "2018-02-01"),
                ("resource", "https://vault.azure.net"),
            ])
            .header("Metadata", "true")
            .reply(200, "application/json", TOKEN_JSON),
    ]);
    let token = imds(&[])
        .get_token(
            &Harness::new().ctx(&fake),
            "https://vault.azure.net",
            &Identity::SystemAssigned,
        )
        .unwrap();
    assert_eq!(token.token.expose(), "tok");
    assert_eq!(token.expires_on, 1_700_003_599);
    fake.assert_done();
}

#[test]
fn user_assigned_selectors_use_imds_names() {
    for (identity, param) in [
        (Identity::ClientId("c".into()), "client_id"),
        (Identity::ObjectId("o".into()), "object_id"),
        (
            Identity::ResourceId("/subscriptions/r".into()),
            "msi_res_id",
        ),
    ] {
        let value = match &identity {
            Identity::ClientId(v) | Identity::ObjectId(v) | Identity::ResourceId(v) => v.clone(),
            Identity::SystemAssigned => unreachable!(),
        };
        let fake = FakeTransport::new(vec![
            Expect::get(URL)
                .query(&[
                    ("api-version", "2018-02-01"),
                    ("resource", "r"),
                    (param, &value),
                ])
                .header("Metadata", "true")
                .reply(200, "application/json", TOKEN_JSON),
        ]);
        imds(&[])
            .get_token(&Harness::new().ctx(&fake), "r", &identity)
            .unwrap();
        fake.assert_done();
    }
}

#[test]
fn authority_host_variable_overrides_the_base() {
    let fake = FakeTransport::new(vec![
        Expect::get("http://127.0.0.1:8080/metadata/identity/oauth2/token")
            .query(&[("api-version", "2018-02-01"), ("resource", "r")])
            .reply(200, "application/json", TOKEN_JSON),
    ]);
    imds(&[(AUTHORITY_HOST_VAR, "http://127.0.0.1:8080/")])
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap();
    fake.assert_done();
}

#[test]
fn a_bad_authority_host_variable_is_named() {
    let err = from_env(&Env::from_pairs([(AUTHORITY_HOST_VAR, "169.254.169.254")])).unwrap_err();
    let Error::InvalidArgument(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains(AUTHORITY_HOST_VAR) && message.contains("169.254.169.254"),
        "{message}"
    );
}

fn answer(status: u16, content_type: &str, body: &str, identity: Identity) -> Error {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&match &identity {
                Identity::ClientId(v) => vec![
                    ("api-version", "2018-02-01"),
                    ("resource", "r"),
                    ("client_id", v.as_str()),
                ],
                _ => vec![("api-version", "2018-02-01"), ("resource", "r")],
            })
            .reply(status, content_type, body),
    ]);
    imds(&[])
        .get_token(&Harness::no_retries().ctx(&fake), "r", &identity)
        .unwrap_err()
}

#[test]
fn status_400_is_unavailable_for_system_and_not_found_for_user_assigned() {
    let body = r#"{"error":"invalid_request","error_description":"Identity not found"}"#;
    let e = answer(400, "application/json", body, Identity::SystemAssigned);
    assert!(
        matches!(e, Error::Unavailable(ref m) if m.contains("Identity not found")),
        "{e:?}"
    );
    let e = answer(
        400,
        "application/json",
        body,
        Identity::ClientId("c".into()),
    );
    let Error::NotFound(se) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (se.status, se.code.as_str(), se.message.as_str()),
        (400, "invalid_request", "Identity not found")
    );
}

#[test]
fn docker_desktop_403_is_unavailable() {
    let body = r#"{"error":"forbidden","error_description":"A socket operation was attempted to an unreachable network."}"#;
    assert!(matches!(
        answer(403, "application/json", body, Identity::SystemAssigned),
        Error::Unavailable(_)
    ));
    let body = r#"{"error":"forbidden","error_description":"nope"}"#;
    assert!(matches!(
        answer(403, "application/json", body, Identity::SystemAssigned),
        Error::Forbidden(_)
    ));
}

#[test]
fn other_statuses_keep_the_status() {
    for status in [404, 410, 429, 500, 503] {
        let e = answer(
            status,
            "application/json",
            r#"{"error":"x","error_description":"y"}"#,
            Identity::SystemAssigned,
        );
        assert!(
            matches!(e, Error::Service(ref se) if se.status == status),
            "{e:?}"
        );
    }
    let e = answer(302, "text/html", "", Identity::SystemAssigned);
    assert!(
        matches!(e, Error::InvalidResponse(ref m) if m.contains("redirect 302")),
        "{e:?}"
    );
    let e = answer(200, "text/html", "<html>", Identity::SystemAssigned);
    assert!(
        matches!(e, Error::InvalidResponse(ref m) if m.contains("not JSON")),
        "{e:?}"
    );
}

#[test]
fn nothing_listening_is_unavailable() {
    let fake = FakeTransport::new(vec![
        Expect::get(URL)
            .query(&[("api-version", "2018-02-01"), ("resource", "r")])
            .fail(TransportError::ConnectTimeout("2 s".into())),
    ]);
    let e = imds(&[])
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap_err();
    assert!(
        matches!(e, Error::Unavailable(ref m) if m.contains(URL)),
        "{e:?}"
    );
}
