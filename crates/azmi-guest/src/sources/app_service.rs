//! App Service, Functions and Container Apps (api-version 2019-08-01): a GET
//! to `IDENTITY_ENDPOINT` with the platform's `X-IDENTITY-HEADER`.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER};

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer, TokenCall};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Kind};
use crate::token::Token;
use crate::transport::{Method, Request};
use crate::url::{Url, query};

pub(crate) const API_VERSION: &str = "2019-08-01";

pub(crate) struct AppService {
    endpoint: Url,
    /// A credential the platform rotates; never logged or shown.
    header: String,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AppService {
    pub(crate) fn from_env(env: &Env) -> Result<AppService, Error> {
        Ok(AppService {
            endpoint: super::parse_endpoint(
                IDENTITY_ENDPOINT,
                super::required(env, IDENTITY_ENDPOINT)?,
            )?,
            header: super::required(env, IDENTITY_HEADER)?.to_owned(),
        })
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
        match identity {
            Identity::SystemAssigned => {}
            Identity::ClientId(id) => params.push(("client_id", id)),
            Identity::ObjectId(id) => params.push(("object_id", id)),
            // App Service honours only `mi_res_id` (azure-sdk-for-rust#2407).
            Identity::ResourceId(id) => params.push(("mi_res_id", id)),
        }
        let request = Request {
            method: Method::Get,
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority(),
            path_and_query: format!("{}{}", self.endpoint.request_path(), query(&params)),
            headers: vec![("x-identity-header", self.header.clone())],
            body: None,
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        };
        let what = format!(
            "the App Service identity endpoint {}",
            request.display_url()
        );
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            let request = request.clone().within(remaining);
            let response = endpoint::attempt(ctx, &request, Peer::IdentityEndpoint)?;
            endpoint::token_attempt(
                &response,
                &TokenCall {
                    kind: Kind::Platform,
                    what: &what,
                    resource,
                    identity,
                    secret: Some(&self.header),
                    now: ctx.now,
                },
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Expect, FakeTransport, Harness};

    const URL: &str = "http://127.0.0.1:41741/MSI/token";

    fn source() -> AppService {
        AppService::from_env(&Env::from_pairs([
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
