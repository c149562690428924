//! Azure Cloud Shell: a form POST of `resource=` to `MSI_ENDPOINT` with
//! `Metadata: true`. Cloud Shell ignores
//! identity selectors and returns the signed-in user's token, so a
//! user-assigned identity is refused rather than silently replaced.

use azmi_core::MSI_ENDPOINT;

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer, TokenCall};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Kind};
use crate::token::Token;
use crate::transport::{Method, Request};
use crate::url::{Url, encode_query_value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloudShell {
    endpoint: Url,
}

impl CloudShell {
    pub(crate) fn from_env(env: &Env) -> Result<CloudShell, Error> {
        Ok(CloudShell {
            endpoint: super::parse_endpoint(MSI_ENDPOINT, super::required(env, MSI_ENDPOINT)?)?,
        })
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        if identity.is_user_assigned() {
            return Err(Error::InvalidArgument(
                "Cloud Shell issues tokens for the signed-in user only; it cannot use a user-assigned identity".into(),
            ));
        }
        let request = Request {
            method: Method::Post,
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority(),
            path_and_query: self.endpoint.request_path().to_owned(),
            headers: vec![
                ("metadata", "true".to_owned()),
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_owned(),
                ),
            ],
            body: Some(format!("resource={}", encode_query_value(resource)).into_bytes()),
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        };
        let what = format!(
            "the Cloud Shell identity endpoint {}",
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
                    secret: None,
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
        let source = CloudShell::from_env(&Env::from_pairs([(MSI_ENDPOINT, URL)])).unwrap();
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
}
