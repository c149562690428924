//! `azmi`: parse, build the sandbox configuration, run one command, and
//! report failure as one line on stderr with a distinct exit status.

mod args;
mod demo;
mod emulator;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Common, IdentityArgs, SecretArgs, TokenArgs};
use azmi::{Config, ConfigBuilder, Credential, Error, Identity, Runtime};

/// Exit status of a failed credential operation.
const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error: bad flags, bad arguments, bad files.
const EXIT_USAGE: u8 = 2;

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    init_diagnostics(cli.common.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&Failure::Other(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&failure),
    }
}

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

fn fail(failure: &Failure) -> ExitCode {
    let (line, code) = match failure {
        Failure::Usage(message) => (format!("azmi: usage: {message}"), EXIT_USAGE),
        Failure::Other(message) => (format!("azmi: error: {message}"), EXIT_FAILURE),
        Failure::Credential { error, context } => {
            let code = match error {
                Error::InvalidArgument(_) | Error::Config(_) => EXIT_USAGE,
                _ => EXIT_FAILURE,
            };
            let hint = output::hint(error, *context)
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            // Every line names its kind; `Other` has none of its own.
            let kind = if matches!(error, Error::Other(_)) {
                "error: "
            } else {
                ""
            };
            (format!("azmi: {kind}{error}{hint}"), code)
        }
    };
    // One line, whatever the messages held.
    let line: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    eprintln!("{line}");
    ExitCode::from(code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli { command, common } = cli;
    match command {
        Command::Token(args) => token(&common, &args).await,
        Command::Secret(args) => secret(&common, &args).await,
        Command::Demo => tokio::time::timeout(common.timeout.0, demo::run(&common))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Other(format!(
                    "the demo did not finish within {} s (--timeout)",
                    common.timeout
                )))
            }),
        Command::Emulator(args) => emulator::run(&args).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut stdout = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "azmi", &mut stdout);
            Ok(())
        }
    }
}

/// Runs a command's requests within `--timeout`, as one deadline. The
/// library bounds each operation by the configured timeout already (a
/// secret read's discovery, token and read together); this is the
/// command-level guard around it.
async fn within<T>(
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

async fn token(common: &Common, args: &TokenArgs) -> Result<(), Failure> {
    let credential = credential(common, None, Context::Token)?;
    let resource = args.scope.as_deref().unwrap_or(&args.resource);
    let identity = identity(&args.identity);
    let token = within(
        common,
        Context::Token,
        credential.get_token(resource, &identity),
    )
    .await?;
    output::print_token(&token, args.output);
    Ok(())
}

async fn secret(common: &Common, args: &SecretArgs) -> Result<(), Failure> {
    let credential = credential(common, Some(&args.vault), Context::Secret)?;
    let identity = identity(&args.identity);
    let read = credential.get_secret(&args.vault, &args.name, args.version.as_deref(), &identity);
    let secret = within(common, Context::Secret, read).await?;
    output::print_secret(&secret, args.json);
    Ok(())
}

fn identity(args: &IdentityArgs) -> Identity {
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

pub(crate) fn runtime(common: &Common) -> Result<Runtime, Failure> {
    let mut builder = Runtime::builder();
    if let Some(path) = &common.component {
        builder = builder.component_file(path).map_err(config_failure)?;
    }
    if let Some(dir) = azmi::default_cache_dir() {
        builder = builder.cache_dir(dir);
    }
    builder.build().map_err(config_failure)
}

fn credential(
    common: &Common,
    vault: Option<&str>,
    context: Context,
) -> Result<Credential, Failure> {
    let runtime = runtime(common)?;
    let config = config_builder(common, vault)?
        .build()
        .map_err(|e| match (e, vault) {
            // The vault flag is the command's argument, not a sandbox setting.
            (Error::Config(m), Some(_)) if m.starts_with("the vault") => {
                Failure::Usage(format!("--vault: {m}"))
            }
            (Error::Config(m), _) => Failure::Usage(m),
            (error, _) => Failure::Credential { error, context },
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

pub(crate) fn config_failure(error: Error) -> Failure {
    match error {
        Error::Config(m) => Failure::Usage(m),
        other => Failure::Other(other.to_string()),
    }
}

/// `-v` turns on azmi's own diagnostics (debug level) on stderr; without
/// it nothing is logged. No log line carries a token, key or secret value.
fn init_diagnostics(verbose: bool) {
    if !verbose {
        return;
    }
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let filter = Targets::new()
        .with_target("azmi", LevelFilter::DEBUG)
        .with_default(LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false)
                .without_time(),
        )
        .with(filter)
        .init();
}
