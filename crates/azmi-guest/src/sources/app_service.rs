//! App Service, Functions and Container Apps (api-version 2019-08-01): a GET
//! to `IDENTITY_ENDPOINT` with the platform's `X-IDENTITY-HEADER`.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;

pub(crate) const API_VERSION: &str = "2019-08-01";

pub(crate) const APP_SERVICE: Descriptor = Descriptor {
    describe: "the App Service identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[],
    credential_header: Some("x-identity-header"),
    resource_in: ResourceIn::Query,
    client_id: Selector::Param("client_id"),
    object_id: Selector::Param("object_id"),
    // App Service honours only `mi_res_id` (azure-sdk-for-rust#2407).
    resource_id: Selector::Param("mi_res_id"),
    peer: Peer::Platform,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    Ok(TokenEndpoint {
        descriptor: &APP_SERVICE,
        url: super::parse_endpoint(IDENTITY_ENDPOINT, super::required(env, IDENTITY_ENDPOINT)?)?,
        credential: Some(super::required(env, IDENTITY_HEADER)?.to_owned()),
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests {
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
}
