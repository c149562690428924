//! One module per subcommand, and what they share: how a command fails,
//! and the sandbox configuration the common flags describe.

pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod emulator;
pub(crate) mod secret;
pub(crate) mod serve;
pub(crate) mod token;

use azmi::{Config, ConfigBuilder, Credential, Error, Identity, Runtime, RuntimeBuilder, Setting};

use crate::args::{Common, IdentityArgs};

/// Why a command failed: a usage problem (exit 2) or a failed operation.
pub(crate) enum Failure {
    Usage(String),
    Credential { error: Error, context: Context },
    Other(String),
}

/// Which command failed, for the hint after the error.
#[derive(Clone, Copy)]
pub(crate) enum Context {
    Token,
    Secret,
}

/// Runs a command's requests within `--timeout`, as one deadline. The
/// library bounds each operation by the configured timeout already (a
/// secret read's discovery, token and read together); this is the
/// command-level guard around it.
pub(crate) async fn within<T>(
    common: &Common,
    context: Context,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Failure> {
    let failed = |error| Failure::Credential { error, context };
    match tokio::time::timeout(common.timeout.0, work).await {
        Ok(result) => result.map_err(failed),
        Err(_) => Err(failed(Error::Timeout(format!(
            "the command did not finish within {} s (--timeout)",
            common.timeout
        )))),
    }
}

pub(crate) fn identity(args: &IdentityArgs) -> Identity {
    match (&args.client_id, &args.object_id, &args.resource_id) {
        (Some(id), _, _) => Identity::ClientId(id.clone()),
        (_, Some(id), _) => Identity::ObjectId(id.clone()),
        (_, _, Some(id)) => Identity::ResourceId(id.clone()),
        _ => Identity::SystemAssigned,
    }
}

/// The sandbox configuration the common flags and the identity variables
/// of the environment describe, allowing `vault` when given: the CLI allows
/// exactly the vault a command names.
pub(crate) fn config_builder(
    common: &Common,
    vault: Option<&str>,
) -> Result<ConfigBuilder, Failure> {
    let mut builder = Config::builder()
        .identity_variables_from_env()
        .arc_agent_present(azmi::arc_agent_installed())
        .arc_token_dir(&common.arc_token_dir)
        .timeout(common.timeout.0);
    if let Some(endpoint) = &common.imds_endpoint {
        builder = builder.imds_endpoint(endpoint.clone());
    }
    if let Some(source) = common.source.0 {
        builder = builder.source(source);
    }
    if let Some(vault) = vault {
        builder = builder.allow_vault(vault);
    }
    for rule in &common.connect_to {
        builder = builder.connect_to(rule.clone());
    }
    if let Some(path) = &common.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Usage(format!("cannot read --ca-file {}: {e}", path.display()))
        })?;
        builder = builder
            .add_root_certificates_pem(&pem, &format!("--ca-file {}", path.display()))
            .map_err(config_failure)?;
    }
    Ok(builder)
}

/// The runtime of a one-shot command: a call or two, then exit, so its
/// instances are not pooled (`azmi serve` keeps the pooled default).
pub(crate) fn runtime(common: &Common) -> Result<Runtime, Failure> {
    runtime_builder(common)?
        .on_demand()
        .build()
        .map_err(config_failure)
}

/// The runtime the common flags describe, before any setting of a command's own.
pub(crate) fn runtime_builder(common: &Common) -> Result<RuntimeBuilder, Failure> {
    let mut builder = Runtime::builder();
    if let Some(path) = &common.component {
        builder = builder.component_file(path).map_err(config_failure)?;
    }
    if let Some(dir) = azmi::default_cache_dir() {
        builder = builder.cache_dir(dir);
    }
    Ok(builder)
}

fn credential(
    common: &Common,
    vault: Option<&str>,
    context: Context,
) -> Result<Credential, Failure> {
    let runtime = runtime(common)?;
    let config = config_builder(common, vault)?
        .build()
        .map_err(|e| match e {
            Error::Config(e) => usage(&e),
            error => Failure::Credential { error, context },
        })?;
    tracing::debug!(
        target: "azmi::cli",
        "identity source {}; sandbox policy: {}; component environment: {}",
        config.source(),
        config.describe_policy(),
        config.guest_variables().join(", ")
    );
    Ok(Credential::new(runtime, config))
}

/// Leaves a one-shot command's credential to the process's exit, which
/// follows: the kernel takes back the engine's code and memory at once,
/// where dropping them unmaps them one by one (about a twentieth of an
/// `azmi token`, BENCHMARKS.md). Nothing in it needs flushing.
pub(crate) fn leave_to_exit(credential: Credential) {
    std::mem::forget(credential);
}

pub(crate) fn config_failure(error: Error) -> Failure {
    match error {
        Error::Config(e) => usage(&e),
        other => Failure::Other(other.to_string()),
    }
}

/// A configuration error as a usage error, naming the flag it came from
/// when one sets that setting (variables are named in the message).
fn usage(error: &azmi::ConfigError) -> Failure {
    let flag = match error.setting {
        Setting::Vault => Some("--vault"),
        Setting::ConnectTo => Some("--connect-to"),
        Setting::ArcTokenDir => Some("--arc-token-dir"),
        Setting::TrustRoots => Some("--ca-file"),
        Setting::Component => Some("--component"),
        _ => None,
    };
    Failure::Usage(match flag {
        Some(flag) => format!("{flag}: {}", error.message),
        None => error.message.clone(),
    })
}
