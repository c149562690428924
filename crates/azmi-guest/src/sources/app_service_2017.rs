//! App Service api-version 2017-09-01 and Azure ML: `MSI_ENDPOINT` with the
//! `secret` header; a user-assigned identity only by client id, as
//! `clientid`. Expiry may come as a
//! date string.

use azmi_core::{DEFAULT_IDENTITY_CLIENT_ID, MSI_ENDPOINT, MSI_SECRET};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;

pub(crate) const API_VERSION: &str = "2017-09-01";

const CLIENT_ID_ONLY: &str = "App Service 2017-09-01 and Azure ML select a user-assigned identity by client id only; pass its client id";

pub(crate) const APP_SERVICE_2017: Descriptor = Descriptor {
    describe: "the App Service 2017 identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[],
    credential_header: Some("secret"),
    resource_in: ResourceIn::Query,
    // `clientid`, without the underscore: with `client_id` this API
    // silently returns another identity's token (azure-sdk-for-net#8834).
    client_id: Selector::Param("clientid"),
    object_id: Selector::Refused(CLIENT_ID_ONLY),
    resource_id: Selector::Refused(CLIENT_ID_ONLY),
    peer: Peer::Platform,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    Ok(TokenEndpoint {
        descriptor: &APP_SERVICE_2017,
        url: super::parse_endpoint(MSI_ENDPOINT, super::required(env, MSI_ENDPOINT)?)?,
        credential: Some(super::required(env, MSI_SECRET)?.to_owned()),
        // Azure ML compute's default identity.
        default_client_id: env.get(DEFAULT_IDENTITY_CLIENT_ID).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
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
}
