//! The managed-identity sources, one module each, and the choice between
//! them: the host's decision when it made one (`AZMI_IDENTITY_SOURCE`),
//! else detection from the environment (`azmi_core::detect`).

mod app_service;
mod app_service_2017;
mod arc;
mod cloud_shell;
mod descriptor;
mod imds;
mod service_fabric;
mod workload_identity;

#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing {
    pub(crate) use super::arc::challenge::{realm_path, validate_key_path};
}

use azmi_core::{AZMI_ARC_AGENT, AZMI_IDENTITY_SOURCE};

use crate::context::Ctx;
use crate::env::Env;
use crate::error::{Error, sanitize_message};
use crate::identity::Identity;
use crate::token::Token;
use crate::url::Url;
use descriptor::TokenEndpoint;

/// The identity source a call uses: which one (`azmi_core::Source`) and
/// how to reach it. Every managed-identity source but Arc is a plain token
/// endpoint; Arc adds its key-file challenge on top of one; workload
/// identity is an exchange at Microsoft Entra.
#[derive(Debug)]
pub(crate) struct Source {
    kind: azmi_core::Source,
    speaks: Speaks,
}

#[derive(Debug)]
enum Speaks {
    Endpoint(TokenEndpoint),
    Arc(arc::Arc),
    WorkloadIdentity(workload_identity::WorkloadIdentity),
}

/// The source for `env`, configured from it.
pub(crate) fn from_env(env: &Env) -> Result<Source, Error> {
    use azmi_core::Source as Kind;
    let forced = match env.get(AZMI_IDENTITY_SOURCE) {
        None => None,
        Some(name) => Some(Kind::from_name(name.trim()).ok_or_else(|| {
            Error::InvalidArgument(
                azmi_core::DetectError::UnknownSource(sanitize_message(name, None)).to_string(),
            )
        })?),
    };
    let lookup = |name: &str| env.get(name).map(str::to_owned);
    let arc_agent = env.get(AZMI_ARC_AGENT).is_some_and(|v| v == "present");
    let kind = azmi_core::resolve(forced, &lookup, arc_agent).map_err(|e| match e {
        azmi_core::DetectError::IdentityEndpointAlone => Error::Unavailable(e.to_string()),
        other => Error::InvalidArgument(other.to_string()),
    })?;
    let speaks = match kind {
        Kind::Arc => Speaks::Arc(arc::Arc::from_env(env)?),
        Kind::Imds => Speaks::Endpoint(imds::from_env(env)?),
        Kind::AppService => Speaks::Endpoint(app_service::from_env(env)?),
        Kind::AppService2017 => Speaks::Endpoint(app_service_2017::from_env(env)?),
        Kind::ServiceFabric => Speaks::Endpoint(service_fabric::from_env(env)?),
        Kind::CloudShell => Speaks::Endpoint(cloud_shell::from_env(env)?),
        Kind::WorkloadIdentity => {
            Speaks::WorkloadIdentity(workload_identity::WorkloadIdentity::from_env(env)?)
        }
    };
    Ok(Source { kind, speaks })
}

impl Source {
    /// The source's name, for cache keys and messages.
    pub(crate) fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        match &self.speaks {
            Speaks::Endpoint(endpoint) => endpoint.get_token(ctx, resource, identity),
            Speaks::Arc(arc) => arc.get_token(ctx, resource, identity),
            Speaks::WorkloadIdentity(wi) => wi.get_token(ctx, resource, identity),
        }
    }
}

/// A required variable's value.
fn required<'a>(env: &'a Env, name: &'static str) -> Result<&'a str, Error> {
    env.get(name)
        .map(str::trim)
        .ok_or_else(|| Error::InvalidArgument(format!("{name} is not set")))
}

/// An endpoint URL from variable `name`, with the rule it broke named.
fn parse_endpoint(name: &str, raw: &str) -> Result<Url, Error> {
    Url::parse(raw).map_err(|why| {
        Error::InvalidArgument(format!("{name}=`{}` {why}", sanitize_message(raw, None)))
    })
}

#[cfg(test)]
mod tests;
