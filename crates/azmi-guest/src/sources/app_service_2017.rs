//! App Service api-version 2017-09-01 and Azure ML: `MSI_ENDPOINT` with the
//! `secret` header; a user-assigned identity only by client id, as
//! `clientid`. Expiry may come as a
//! date string.

use azmi_core::{DEFAULT_IDENTITY_CLIENT_ID, MSI_ENDPOINT, MSI_SECRET};

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer, TokenCall};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Kind};
use crate::token::Token;
use crate::transport::{Method, Request};
use crate::url::{Url, query};

pub(crate) const API_VERSION: &str = "2017-09-01";

pub(crate) struct AppService2017 {
    endpoint: Url,
    /// A credential; never logged or shown.
    secret: String,
    /// Azure ML compute's default identity.
    default_client_id: Option<String>,
}

impl std::fmt::Debug for AppService2017 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService2017")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AppService2017 {
    pub(crate) fn from_env(env: &Env) -> Result<AppService2017, Error> {
        Ok(AppService2017 {
            endpoint: super::parse_endpoint(MSI_ENDPOINT, super::required(env, MSI_ENDPOINT)?)?,
            secret: super::required(env, MSI_SECRET)?.to_owned(),
            default_client_id: env.get(DEFAULT_IDENTITY_CLIENT_ID).map(str::to_owned),
        })
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        let client_id = match identity {
            Identity::SystemAssigned => self.default_client_id.as_deref(),
            Identity::ClientId(id) => Some(id.as_str()),
            Identity::ObjectId(_) | Identity::ResourceId(_) => {
                return Err(Error::InvalidArgument(
                    "App Service 2017-09-01 and Azure ML select a user-assigned identity by client id only; pass its client id".into(),
                ));
            }
        };
        let mut params = vec![("api-version", API_VERSION), ("resource", resource)];
        // `clientid`, without the underscore: with `client_id` this API
        // silently returns another identity's token (azure-sdk-for-net#8834).
        params.extend(client_id.map(|id| ("clientid", id)));
        let request = Request {
            method: Method::Get,
            scheme: self.endpoint.scheme,
            authority: self.endpoint.authority(),
            path_and_query: format!("{}{}", self.endpoint.request_path(), query(&params)),
            headers: vec![("secret", self.secret.clone())],
            body: None,
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        };
        let what = format!(
            "the App Service 2017 identity endpoint {}",
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
                    secret: Some(&self.secret),
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

    const URL: &str = "http://127.0.0.1:8081/msi/token";

    fn source(extra: &[(&str, &str)]) -> AppService2017 {
        let mut vars = vec![(MSI_ENDPOINT, URL), (MSI_SECRET, "S-SECRET")];
        vars.extend_from_slice(extra);
        AppService2017::from_env(&Env::from_pairs(vars)).unwrap()
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
}
