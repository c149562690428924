//! The steps of `ConfigBuilder::build`, each a function of what it needs:
//! which variables are allowed, which source, what the component is told,
//! which limits hold together, the default identity under a grant, and the
//! key under which the configuration's tokens are shared.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use azmi_core::{AZMI_IDENTITY_SOURCE, DetectError, Source};
use rustls::pki_types::CertificateDer;

use super::{IDENTITY_VARIABLES, IMDS_ENDPOINT_VAR};
use crate::cache::Upstream;
use crate::egress::{Resolve, SystemResolver};
use crate::error::Setting;
use crate::grant::Grant;
use crate::limits::{CallLimits, RetryPolicy};
use crate::{Error, Identity};

/// The digest that keys the shared token cache: two configurations share
/// tokens exactly when they name the same source, give the component the
/// same variables (endpoint, identity header, …) and Arc directory, and
/// trust the same extra roots (an https identity endpoint is verified by
/// them). Every field is length-prefixed, so no value can pose as the
/// boundary between two.
pub(super) fn upstream(
    source: Source,
    env: &BTreeMap<String, String>,
    arc_token_dir: &Path,
    extra_roots: &[CertificateDer<'static>],
) -> Upstream {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut field = |bytes: &[u8]| {
        digest.update(&(bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    };
    field(source.name().as_bytes());
    field(&(env.len() as u64).to_le_bytes());
    for (name, value) in env {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    field(if source == Source::Arc {
        arc_token_dir.as_os_str().as_encoded_bytes()
    } else {
        b""
    });
    for root in extra_roots {
        field(root.as_ref());
    }
    let mut bytes = [0; 32];
    bytes.copy_from_slice(digest.finish().as_ref());
    Upstream(bytes)
}

/// The system resolver, one for the process, so that configurations that
/// do not choose a resolver share cached tokens.
pub(super) fn system_resolver() -> Arc<dyn Resolve> {
    static SYSTEM: std::sync::OnceLock<Arc<dyn Resolve>> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(|| Arc::new(SystemResolver)).clone()
}

/// The identity a configuration's calls use when they name none: the one
/// set, which the grant must allow; else the grant's default; else the
/// system-assigned identity.
pub(super) fn default_identity(
    set: Option<Identity>,
    grant: Option<&Grant>,
) -> Result<Identity, Error> {
    match (set, grant) {
        (Some(identity), Some(grant)) => {
            grant.check_identity(&identity).map_err(|denial| {
                Error::config(
                    Setting::Grant,
                    None,
                    format!("ConfigBuilder::identity: {}", denial.message),
                )
            })?;
            Ok(identity)
        }
        (Some(identity), None) => Ok(identity),
        (None, Some(grant)) => Ok(grant.default_identity().clone()),
        (None, None) => Ok(Identity::SystemAssigned),
    }
}

/// Only identity variables may be given, to the configuration or the
/// component.
pub(super) fn check_variable_names<'a>(
    names: impl Iterator<Item = &'a String>,
) -> Result<(), Error> {
    for name in names {
        if !IDENTITY_VARIABLES.contains(&name.as_str()) {
            return Err(Error::config(
                Setting::Source,
                Some(name),
                format!(
                    "`{name}` is not an identity variable; the component may be given only {}",
                    IDENTITY_VARIABLES.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The source `forced`, or the one the variables name.
pub(super) fn resolve_source(
    forced: Option<Source>,
    identity_env: &BTreeMap<String, String>,
    arc_agent_present: bool,
) -> Result<Source, Error> {
    let lookup = |name: &str| identity_env.get(name).cloned();
    let source = azmi_core::resolve(forced, &lookup, arc_agent_present).map_err(|e| match e {
        DetectError::IdentityEndpointAlone => Error::Unavailable(e.to_string()),
        other => Error::config(Setting::Source, None, other.to_string()),
    })?;
    if cfg!(windows) && source == Source::Arc {
        return Err(Error::config(
            Setting::Source,
            Some(source.name()),
            "Azure Arc on Windows is not supported: the agent names its key files by Windows paths, which the component cannot reach".into(),
        ));
    }
    Ok(source)
}

/// What the component is told: the chosen source's variables (the IMDS
/// base normalised), and the choice. `AZMI_RETRY` is added per call.
pub(super) fn guest_environment(
    source: Source,
    identity_env: &BTreeMap<String, String>,
    imds_base: Option<String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = source
        .variables()
        .iter()
        .filter(|name| **name != IMDS_ENDPOINT_VAR)
        .filter_map(|name| {
            identity_env
                .get(*name)
                .map(|v| ((*name).to_owned(), v.clone()))
        })
        .collect();
    if let Some(base) = imds_base {
        env.insert(IMDS_ENDPOINT_VAR.to_owned(), base);
    }
    env.insert(AZMI_IDENTITY_SOURCE.to_owned(), source.name().to_owned());
    env
}

pub(super) fn validate_limits(call: &CallLimits, retry: &RetryPolicy) -> Result<(), Error> {
    if !azmi_core::retry::is_scale(retry.time_scale) {
        return Err(Error::config(
            Setting::Limits,
            Some(&retry.time_scale.to_string()),
            format!("the retry time scale {} is not in (0, 1]", retry.time_scale),
        ));
    }
    if call.timeout.is_zero() || call.cpu.is_zero() {
        return Err(Error::config(
            Setting::Limits,
            None,
            "the call timeout and CPU limit must be greater than zero".into(),
        ));
    }
    Ok(())
}
