//! The managed-identity sources, one module each, and the choice between
//! them: the host's decision when it made one (`AZMI_IDENTITY_SOURCE`),
//! else detection from the environment (`azmi_core::detect`).

mod app_service;
mod app_service_2017;
mod arc;
mod cloud_shell;
mod imds;
mod service_fabric;

#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing {
    pub(crate) use super::arc::challenge::{realm_path, validate_key_path};
}

use azmi_core::{AZMI_ARC_AGENT, AZMI_IDENTITY_SOURCE, Source as Kind};

use crate::context::Ctx;
use crate::env::Env;
use crate::error::{Error, sanitize_message};
use crate::identity::Identity;
use crate::token::Token;
use crate::url::Url;

#[derive(Debug)]
pub(crate) enum Source {
    Imds(imds::Imds),
    Arc(arc::Arc),
    AppService(app_service::AppService),
    AppService2017(app_service_2017::AppService2017),
    ServiceFabric(service_fabric::ServiceFabric),
    CloudShell(cloud_shell::CloudShell),
}

/// The source for `env`, configured from it.
pub(crate) fn from_env(env: &Env) -> Result<Source, Error> {
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
    Ok(match kind {
        Kind::Imds => Source::Imds(imds::Imds::from_env(env)?),
        Kind::Arc => Source::Arc(arc::Arc::from_env(env)?),
        Kind::AppService => Source::AppService(app_service::AppService::from_env(env)?),
        Kind::AppService2017 => {
            Source::AppService2017(app_service_2017::AppService2017::from_env(env)?)
        }
        Kind::ServiceFabric => Source::ServiceFabric(service_fabric::ServiceFabric::from_env(env)?),
        Kind::CloudShell => Source::CloudShell(cloud_shell::CloudShell::from_env(env)?),
    })
}

impl Source {
    /// The source's name, for cache keys and messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Source::Imds(_) => Kind::Imds.name(),
            Source::Arc(_) => Kind::Arc.name(),
            Source::AppService(_) => Kind::AppService.name(),
            Source::AppService2017(_) => Kind::AppService2017.name(),
            Source::ServiceFabric(_) => Kind::ServiceFabric.name(),
            Source::CloudShell(_) => Kind::CloudShell.name(),
        }
    }

    pub(crate) fn get_token(
        &self,
        ctx: &Ctx<'_>,
        resource: &str,
        identity: &Identity,
    ) -> Result<Token, Error> {
        match self {
            Source::Imds(s) => s.get_token(ctx, resource, identity),
            Source::Arc(s) => s.get_token(ctx, resource, identity),
            Source::AppService(s) => s.get_token(ctx, resource, identity),
            Source::AppService2017(s) => s.get_token(ctx, resource, identity),
            Source::ServiceFabric(s) => s.get_token(ctx, resource, identity),
            Source::CloudShell(s) => s.get_token(ctx, resource, identity),
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
mod tests {
    use super::*;

    #[test]
    fn each_environment_picks_its_source() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[], "Imds"),
            (&[(AZMI_ARC_AGENT, "present")], "Arc"),
            (
                &[
                    ("IDENTITY_ENDPOINT", "http://127.0.0.1:40342/t"),
                    ("IMDS_ENDPOINT", "http://127.0.0.1:40342"),
                ],
                "Arc",
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t"),
                    ("IDENTITY_HEADER", "h"),
                ],
                "AppService",
            ),
            (
                &[
                    ("MSI_ENDPOINT", "http://127.0.0.1:1/t"),
                    ("MSI_SECRET", "s"),
                ],
                "AppService2017",
            ),
            (
                &[
                    ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/t"),
                    ("IDENTITY_HEADER", "h"),
                    ("IDENTITY_SERVER_THUMBPRINT", "t"),
                ],
                "ServiceFabric",
            ),
            (&[("MSI_ENDPOINT", "http://127.0.0.1:1/t")], "CloudShell"),
        ];
        for (vars, expected) in cases {
            let source = from_env(&Env::from_pairs(vars.iter().copied())).unwrap();
            assert!(
                format!("{source:?}").starts_with(expected),
                "{vars:?}: {source:?}"
            );
        }
    }

    #[test]
    fn the_hosts_decision_wins_and_is_checked() {
        let env = Env::from_pairs([
            (AZMI_IDENTITY_SOURCE, "imds"),
            ("MSI_ENDPOINT", "http://127.0.0.1:1/t"),
        ]);
        assert!(matches!(from_env(&env).unwrap(), Source::Imds(_)));
        let env = Env::from_pairs([(AZMI_IDENTITY_SOURCE, "app-service")]);
        assert!(
            matches!(from_env(&env), Err(Error::InvalidArgument(ref m)) if m.contains("IDENTITY_ENDPOINT"))
        );
        let env = Env::from_pairs([(AZMI_IDENTITY_SOURCE, "vm")]);
        assert!(
            matches!(from_env(&env), Err(Error::InvalidArgument(ref m)) if m.contains("`vm` is not a managed-identity source"))
        );
        let env = Env::from_pairs([("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t")]);
        assert!(
            matches!(from_env(&env), Err(Error::Unavailable(ref m)) if m.contains("neither IDENTITY_HEADER"))
        );
    }
}
