//! The two operations of the WIT `credentials` interface, over any
//! transport: everything is validated before the first request.

use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::keyvault::{self, Secret, Vault};
use crate::scope::scope_to_resource;
use crate::sources;
use crate::token::Token;
use crate::transport::Transport;

pub(crate) fn get_token(
    transport: &dyn Transport,
    env: &Env,
    now: u64,
    resource: &str,
    identity: &Identity,
) -> Result<Token, Error> {
    let resource = scope_to_resource(resource)?;
    identity.validate()?;
    let source = sources::from_env(env)?;
    source.get_token(transport, &resource, identity, now)
}

pub(crate) fn get_secret(
    transport: &dyn Transport,
    env: &Env,
    now: u64,
    vault_url: &str,
    name: &str,
    version: Option<&str>,
    identity: &Identity,
) -> Result<Secret, Error> {
    let vault = Vault::parse(vault_url)?;
    keyvault::validate_secret_name(name)?;
    if let Some(version) = version {
        keyvault::validate_version(version)?;
    }
    let token = get_token(transport, env, now, vault.audience(), identity)?;
    keyvault::get_secret(transport, &vault, name, version, &token.token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Expect, FakeTransport};

    const IMDS: &str = "http://127.0.0.1:9/metadata/identity/oauth2/token";

    fn env() -> Env {
        Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")])
    }

    #[test]
    fn secret_flow_gets_a_vault_token_then_reads_with_it() {
        let fake = FakeTransport::new(vec![
            Expect::get(IMDS)
                .query(&[("api-version", "2018-02-01"), ("resource", "https://vault.azure.net")])
                .reply(200, "application/json", r#"{"access_token":"vault-token","expires_in":3600}"#),
            Expect::get("https://myvault.vault.azure.net/secrets/mysecret/")
                .query(&[("api-version", keyvault::API_VERSION)])
                .header("authorization", "Bearer vault-token")
                .reply(
                    200,
                    "application/json",
                    r#"{"value":"TOPSECRET","id":"https://myvault.vault.azure.net/secrets/mysecret/0123"}"#,
                ),
        ]);
        let s = get_secret(
            &fake,
            &env(),
            1,
            "https://myvault.vault.azure.net",
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .unwrap();
        assert_eq!(s.value, "TOPSECRET");
        fake.assert_done();
    }

    #[test]
    fn bad_arguments_fail_before_any_request() {
        let fake = FakeTransport::new(vec![]);
        let id = Identity::SystemAssigned;
        for result in [
            get_secret(&fake, &env(), 1, "https://evil.example", "s", None, &id).map(|_| ()),
            get_secret(
                &fake,
                &env(),
                1,
                "https://myvault.vault.azure.net",
                "a/b",
                None,
                &id,
            )
            .map(|_| ()),
            get_secret(
                &fake,
                &env(),
                1,
                "https://myvault.vault.azure.net",
                "s",
                Some("../x"),
                &id,
            )
            .map(|_| ()),
            get_secret(
                &fake,
                &env(),
                1,
                "https://myvault.vault.azure.net",
                "s",
                None,
                &Identity::ClientId("x".into()),
            )
            .map(|_| ()),
            get_token(&fake, &env(), 1, "a b", &id).map(|_| ()),
            get_token(
                &fake,
                &Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "nope")]),
                1,
                "r",
                &id,
            )
            .map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(Error::InvalidArgument(_))),
                "{result:?}"
            );
        }
        assert_eq!(*fake.calls.borrow(), 0);
    }
}
