//! Service Fabric: an https GET to `IDENTITY_ENDPOINT` with the `Secret`
//! header. The endpoint's certificate is
//! self-signed and trusted by its SHA-1 thumbprint
//! (`IDENTITY_SERVER_THUMBPRINT`); a component cannot see TLS, so the host
//! pins it for exactly this endpoint. User-assigned identities are the
//! cluster's configuration, not the caller's choice.

use azmi_core::{IDENTITY_ENDPOINT, IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT};

use super::descriptor::{Descriptor, ResourceIn, Selector, TokenEndpoint};
use crate::env::Env;
use crate::error::Error;
use crate::retry::Peer;
use crate::transport::Method;
use crate::url::Scheme;

pub(crate) const API_VERSION: &str = "2019-07-01-preview";

const CLUSTER_DECIDES: &str = "Service Fabric does not take a user-assigned identity per request; the cluster's configuration decides the identity";

pub(crate) const SERVICE_FABRIC: Descriptor = Descriptor {
    describe: "the Service Fabric identity endpoint",
    method: Method::Get,
    api_version: Some(API_VERSION),
    headers: &[("accept", "application/json")],
    credential_header: Some("secret"),
    resource_in: ResourceIn::Query,
    client_id: Selector::Refused(CLUSTER_DECIDES),
    object_id: Selector::Refused(CLUSTER_DECIDES),
    resource_id: Selector::Refused(CLUSTER_DECIDES),
    // Its guidance: as the platforms, and never retry a 404.
    peer: Peer::ServiceFabric,
};

pub(crate) fn from_env(env: &Env) -> Result<TokenEndpoint, Error> {
    let url = super::parse_endpoint(IDENTITY_ENDPOINT, super::required(env, IDENTITY_ENDPOINT)?)?;
    if url.scheme != Scheme::Https {
        return Err(Error::InvalidArgument(format!(
            "{IDENTITY_ENDPOINT} must be https for Service Fabric (its certificate is pinned by {IDENTITY_SERVER_THUMBPRINT})"
        )));
    }
    super::required(env, IDENTITY_SERVER_THUMBPRINT)?;
    Ok(TokenEndpoint {
        descriptor: &SERVICE_FABRIC,
        url,
        credential: Some(super::required(env, IDENTITY_HEADER)?.to_owned()),
        default_client_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
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
        from_env(&env(URL))
            .unwrap()
            .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
            .unwrap();
        fake.assert_done();
    }

    #[test]
    fn refuses_http_and_user_assigned() {
        let err = from_env(&env("http://127.0.0.1:2377/t")).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("must be https")),
            "{err:?}"
        );
        let fake = FakeTransport::new(vec![]);
        let err = from_env(&env(URL))
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
