//! `azmi`: parse, build the sandbox configuration, run one command, and
//! report failure as one line on stderr with a distinct exit status.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use azmi::Error;
use commands::{Failure, demo};

/// Exit status of a failed credential operation.
const EXIT_FAILURE: u8 = 1;
/// Exit status of a usage error: bad flags, bad arguments, bad files.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_diagnostics(cli.common.verbose);
    // A command that makes a call or two and exits runs on this thread
    // alone: a worker pool (one thread per core) costs more to start and
    // stop than the command's work. The servers get the pool.
    let mut builder = match cli.command {
        Command::Serve(_) | Command::Emulator(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
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
        Command::Token(args) => commands::token::run(&common, &args).await,
        Command::Secret(args) => commands::secret::run(&common, &args).await,
        Command::Demo => tokio::time::timeout(common.timeout.0, demo::run(&common))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Other(format!(
                    "the demo did not finish within {} s (--timeout)",
                    common.timeout
                )))
            }),
        Command::Emulator(args) => commands::emulator::run(&args).await,
        Command::Serve(args) => commands::serve::run(&common, &args).await,
        Command::Completions { shell } => {
            commands::completions::run(shell);
            Ok(())
        }
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
