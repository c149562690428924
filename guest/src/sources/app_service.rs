//! App Service, Functions and Container Apps (api-version 2019-08-01): a GET
//! to `IDENTITY_ENDPOINT` with the platform's `X-IDENTITY-HEADER`
//! (reference managed-identity.md §5).

use azmi_sources::{IDENTITY_ENDPOINT, IDENTITY_HEADER};

use crate::endpoint::{self, IDENTITY_TIMEOUTS, MAX_TOKEN_RESPONSE, Peer};
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::token::Token;
use crate::transport::{Method, Request, Transport};
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
        transport: &dyn Transport,
        resource: &str,
        identity: &Identity,
        now: u64,
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
        let response = endpoint::send(transport, &request, Peer::IdentityEndpoint)?;
        endpoint::token_response(&response, &what, resource, identity, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Expect, FakeTransport};

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
                    .get_token(&fake, "r", &identity, 1_700_000_000)
                    .unwrap();
                assert_eq!(token.expires_on, 1_700_003_600);
            }
        }
    }

    #[test]
    fn debug_hides_the_header() {
        assert!(!format!("{:?}", source()).contains("H-SECRET"));
    }
}
