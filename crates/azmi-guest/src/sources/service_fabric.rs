//! Service Fabric: an https GET to `IDENTITY_ENDPOINT` with the `Secret`
//! header. The endpoint's certificate is
//! self-signed and trusted by its SHA-1 thumbprint
//! (`IDENTITY_SERVER_THUMBPRINT`); a component cannot see TLS, so the host
//! pins it for exactly this endpoint. User-assigned identities are the
//! cluster's configuration, not the caller's choice.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT};

use crate::context::Ctx;
use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer, TokenCall};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::retry::{self, Kind};
use crate::token::Token;
use crate::transport::{Method, Request};
use crate::url::{Scheme, Url, query};

pub(crate) const API_VERSION: &str = "2019-07-01-preview";

pub(crate) struct ServiceFabric {
    endpoint: Url,
    /// A credential; never logged or shown.
    secret: String,
}

impl std::fmt::Debug for ServiceFabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFabric")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl ServiceFabric {
    pub(crate) fn from_env(env: &Env) -> Result<ServiceFabric, Error> {
        let endpoint =
            super::parse_endpoint(IDENTITY_ENDPOINT, super::required(env, IDENTITY_ENDPOINT)?)?;
        if endpoint.scheme != Scheme::Https {
            return Err(Error::InvalidArgument(format!(
                "{IDENTITY_ENDPOINT} must be https for Service Fabric (its certificate is pinned by {IDENTITY_SERVER_THUMBPRINT})"
            )));
        }
        super::required(env, IDENTITY_SERVER_THUMBPRINT)?;
        Ok(ServiceFabric {
            endpoint,
            secret: super::required(env, IDENTITY_HEADER)?.to_owned(),
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
                "Service Fabric does not take a user-assigned identity per request; the cluster's configuration decides the identity".into(),
            ));
        }
        let params = [("api-version", API_VERSION), ("resource", resource)];
        let request = Request {
            method: Method::Get,
            scheme: Scheme::Https,
            authority: self.endpoint.authority(),
            path_and_query: format!("{}{}", self.endpoint.request_path(), query(&params)),
            headers: vec![
                ("secret", self.secret.clone()),
                ("accept", "application/json".to_owned()),
            ],
            body: None,
            timeouts: IDENTITY_TIMEOUTS,
            max_response_bytes: MAX_TOKEN_RESPONSE,
        };
        let what = format!(
            "the Service Fabric identity endpoint {}",
            request.display_url()
        );
        retry::run(ctx.clock, &ctx.policy, |remaining| {
            let request = request.clone().within(remaining);
            let response = endpoint::attempt(ctx, &request, Peer::IdentityEndpoint)?;
            endpoint::token_attempt(
                &response,
                &TokenCall {
                    kind: Kind::ServiceFabric,
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
        ServiceFabric::from_env(&env(URL))
            .unwrap()
            .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
            .unwrap();
        fake.assert_done();
    }

    #[test]
    fn refuses_http_and_user_assigned() {
        let err = ServiceFabric::from_env(&env("http://127.0.0.1:2377/t")).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("must be https")),
            "{err:?}"
        );
        let fake = FakeTransport::new(vec![]);
        let err = ServiceFabric::from_env(&env(URL))
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
}
