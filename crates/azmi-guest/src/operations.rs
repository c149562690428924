//! The operations of the WIT `credentials` interface, over any transport:
//! everything is validated before the first request, and the instance's
//! cache is consulted before any token request.

use crate::cache::{Lookup, TokenKey};
use crate::context::Ctx;
use crate::env::Env;
use crate::error::Error;
use crate::identity::Identity;
use crate::keyvault::{self, Challenge, Secret, Vault};
use crate::sources::{self, Source};
use crate::token::Token;

pub(crate) fn get_token(
    ctx: &mut Ctx<'_>,
    env: &Env,
    resource: &str,
    identity: &Identity,
) -> Result<Token, Error> {
    let resource = azmi_core::scope::scope_to_resource(resource).map_err(Error::InvalidArgument)?;
    identity.validate()?;
    let source = sources::from_env(env)?;
    token_from(ctx, &source, &resource, identity)
}

/// A token from the cache, or from `source`. A proactive refresh that
/// fails leaves the still-valid token in use.
fn token_from(
    ctx: &mut Ctx<'_>,
    source: &Source,
    resource: &str,
    identity: &Identity,
) -> Result<Token, Error> {
    let key = token_key(source, resource, identity);
    match ctx.cache.token(&key, ctx.now) {
        Lookup::Fresh(token) => Ok(token),
        Lookup::RefreshDue(token) => match source.get_token(ctx, resource, identity) {
            Ok(fresh) => {
                ctx.cache.put_token(key, fresh.clone());
                Ok(fresh)
            }
            Err(_) => {
                ctx.cache.refresh_failed(&key, ctx.now);
                Ok(token)
            }
        },
        Lookup::Missing => {
            let token = source.get_token(ctx, resource, identity)?;
            ctx.cache.put_token(key, token.clone());
            Ok(token)
        }
    }
}

fn token_key(source: &Source, resource: &str, identity: &Identity) -> TokenKey {
    (source.name(), identity.normalized(), resource.to_owned())
}

fn validate_secret_args(
    vault_url: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Vault, Error> {
    let vault = Vault::parse(vault_url)?;
    keyvault::validate_secret_name(name)?;
    if let Some(version) = version {
        keyvault::validate_version(version)?;
    }
    Ok(vault)
}

pub(crate) fn get_secret(
    ctx: &mut Ctx<'_>,
    env: &Env,
    vault_url: &str,
    name: &str,
    version: Option<&str>,
    identity: &Identity,
) -> Result<Secret, Error> {
    let vault = validate_secret_args(vault_url, name, version)?;
    identity.validate()?;
    let source = sources::from_env(env)?;
    let mut rediscovered = false;
    loop {
        let challenge = match ctx.cache.challenge(vault.host()) {
            Some(challenge) => challenge,
            None => {
                let challenge = keyvault::discover(ctx, &vault, name, version)?;
                ctx.cache.put_challenge(vault.host(), challenge.clone());
                challenge
            }
        };
        let token = token_from(ctx, &source, &challenge.resource, identity)?;
        match keyvault::read(ctx, &vault, name, version, token.token.expose()) {
            // Refused with a token: the audience or tenant may have moved,
            // or the token been revoked. Discover again, once, with a new
            // token (the SDKs do the same).
            Err(Error::Unauthorized(_)) if !rediscovered => {
                rediscovered = true;
                ctx.cache.forget_challenge(vault.host());
                ctx.cache
                    .forget_token(&token_key(&source, &challenge.resource, identity));
            }
            result => return result,
        }
    }
}

pub(crate) fn discover_vault(
    ctx: &mut Ctx<'_>,
    vault_url: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Challenge, Error> {
    let vault = validate_secret_args(vault_url, name, version)?;
    keyvault::discover(ctx, &vault, name, version)
}

pub(crate) fn get_secret_with_token(
    ctx: &mut Ctx<'_>,
    vault_url: &str,
    name: &str,
    version: Option<&str>,
    token: &str,
) -> Result<Secret, Error> {
    let vault = validate_secret_args(vault_url, name, version)?;
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidArgument(
            "the token is empty or holds characters a bearer token never has".into(),
        ));
    }
    keyvault::read(ctx, &vault, name, version, token)
}

#[cfg(test)]
mod tests;
