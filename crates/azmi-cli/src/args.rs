//! The command line, as clap parses it. `mod.rs` turns it into a validated
//! `Config` (raw flags here, meaning there).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{PathBufValueParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{Args, Parser, Subcommand};

use azmi::{ConnectTo, Source};

/// Azure managed-identity credentials from a WebAssembly sandbox.
///
/// The credential code runs as a WebAssembly component that can reach only
/// the identity endpoint and the vaults it is allowed, and sees no socket,
/// no environment variable beyond its identity source's, and no file but,
/// on Azure Arc, the agent's token directory (read-only).
#[derive(Debug, Parser)]
#[command(name = "azmi", version, max_term_width = 100)]
#[command(
    after_help = "Examples:\n  azmi demo\n  azmi token --resource https://vault.azure.net\n  azmi secret --vault https://myvault.vault.azure.net --name mysecret"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// IMDS base URL (a loopback or link-local http URL) [default: http://169.254.169.254]
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
    )]
    pub(crate) imds_endpoint: Option<String>,

    /// The managed-identity source; `auto` detects it from the environment
    /// (IDENTITY_ENDPOINT, MSI_ENDPOINT, ...) and the Arc agent's presence.
    #[arg(long, global = true, value_name = "SOURCE", default_value = "auto", value_parser = parse_source)]
    pub(crate) source: SourceChoice,

    /// Host directory of the Azure Arc agent's key files, granted read-only
    /// to the sandbox when the source is Arc. `azmi emulator --arc-token-dir
    /// DIR` makes the emulated agent write its key files in DIR (without the
    /// flag: a temporary directory).
    #[arg(long, global = true, value_name = "DIR", env = "AZMI_ARC_TOKEN_DIR", default_value = azmi::ARC_TOKEN_DIR, value_parser = ArcTokenDirParser)]
    pub(crate) arc_token_dir: ArcTokenDir,

    /// Connect requests for HOST:PORT to ADDR:PORT2 instead, as curl does; the
    /// address is trusted as given and TLS still verifies HOST. Repeatable.
    #[arg(
        long,
        global = true,
        value_name = "HOST:PORT:ADDR:PORT2",
        env = "AZMI_CONNECT_TO",
        value_delimiter = ','
    )]
    pub(crate) connect_to: Vec<ConnectTo>,

    /// Trust the CA certificates in this PEM file, in addition to the built-in roots.
    #[arg(long, global = true, value_name = "PEM", env = "AZMI_CA_FILE")]
    pub(crate) ca_file: Option<PathBuf>,

    /// Run this build of a component implementing azmi:identity/credentials
    /// instead of the built-in one.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) component: Option<PathBuf>,

    /// Deadline of the whole command, in seconds: every request and retry
    /// of `token`, `secret` (discovery, token, read) and `demo` finishes or
    /// fails within it; for `serve`, the deadline of each token request it
    /// answers (queueing for the upstream included). The default lets
    /// IMDS's 410 ("back within 70 s") pass.
    #[arg(long, global = true, value_name = "SECS", default_value_t = Seconds(azmi::CallLimits::default().timeout))]
    pub(crate) timeout: Seconds,

    /// Diagnostics on stderr (destinations, decisions, timings; never tokens or secrets).
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
}

/// `--arc-token-dir`, and whether it was on the command line: the emulator
/// writes its key files there only when told to (its default is a temporary
/// directory, never the real agent's, and never one from the environment,
/// which is meant for clients).
#[derive(Debug, Clone)]
pub(crate) struct ArcTokenDir {
    pub(crate) path: PathBuf,
    pub(crate) on_command_line: bool,
}

/// So that `ConfigBuilder::arc_token_dir(&common.arc_token_dir)` takes it as a path.
impl AsRef<std::ffi::OsStr> for ArcTokenDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

/// A path parser that also records where the value came from (clap hands
/// parsers the value's source; `ArgMatches` is not kept after parsing).
#[derive(Clone)]
struct ArcTokenDirParser;

impl TypedValueParser for ArcTokenDirParser {
    type Value = ArcTokenDir;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<ArcTokenDir, clap::Error> {
        self.parse_ref_(cmd, arg, value, ValueSource::DefaultValue)
    }

    fn parse_ref_(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
        source: ValueSource,
    ) -> Result<ArcTokenDir, clap::Error> {
        Ok(ArcTokenDir {
            path: PathBufValueParser::new().parse_ref(cmd, arg, value)?,
            on_command_line: source == ValueSource::CommandLine,
        })
    }
}

/// The longest deadline a flag takes: past it, deadlines would overflow
/// the clock's arithmetic, and no request should wait that long anyway.
const MAX_SECONDS: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A positive number of seconds, up to a day, as `--timeout` takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seconds(pub(crate) std::time::Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_secs_f64())
    }
}

impl std::str::FromStr for Seconds {
    type Err = String;

    fn from_str(text: &str) -> Result<Seconds, String> {
        text.parse::<f64>()
            .ok()
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero() && *d <= MAX_SECONDS)
            .map(Seconds)
            .ok_or_else(|| {
                format!(
                    "`{text}` is not a positive number of seconds up to {} (a day)",
                    MAX_SECONDS.as_secs()
                )
            })
    }
}

/// `--source`: a source, or detection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceChoice(pub(crate) Option<Source>);

fn parse_source(name: &str) -> Result<SourceChoice, String> {
    if name == "auto" {
        return Ok(SourceChoice(None));
    }
    Source::from_name(name)
        .map(|s| SourceChoice(Some(s)))
        .ok_or_else(|| {
            let names: Vec<&str> = Source::ALL.iter().map(|s| s.name()).collect();
            format!("`{name}` is not a source; use auto, {}", names.join(", "))
        })
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print an access token as JSON.
    #[command(
        after_help = "Examples:\n  azmi token --scope https://vault.azure.net/.default | jq -r .access_token\n  azmi token --resource https://vault.azure.net --output az | jq -r .accessToken"
    )]
    Token(TokenArgs),
    /// Print a Key Vault secret's value (or, with --json, the whole secret).
    #[command(
        after_help = "Example:\n  azmi secret --vault https://myvault.vault.azure.net --name mysecret"
    )]
    Secret(SecretArgs),
    /// Run the whole flow in the sandbox against the built-in emulator.
    #[command(after_help = "Example:\n  azmi demo")]
    Demo,
    /// Run the emulator in the foreground and print how to point azmi at it.
    #[command(
        after_help = "Example:\n  azmi emulator\n  azmi emulator --imds-listen 127.0.0.1:8080\n  azmi emulator --arc-token-dir /var/opt/azcmagent/tokens   # where Azure SDKs read Arc key files"
    )]
    Emulator(EmulatorArgs),
    /// Serve tokens to the processes of this machine: a broker on loopback
    /// that speaks the IMDS and App Service protocols the Azure SDKs use,
    /// with one cache for every client and a grant per tenant.
    #[command(
        after_help = "Examples:\n  azmi serve                                  # IMDS mode, everything the machine's identity has\n  azmi serve --config /etc/azmi/serve.toml --listen 127.0.0.1:8181\n\nThe configuration's [[tenant]] tables and [anonymous] table are in the README (Serving a whole machine)."
    )]
    Serve(ServeArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  azmi completions bash > ~/.local/share/bash-completion/completions/azmi\n  azmi completions zsh > \"${fpath[1]}/_azmi\"\n  azmi completions fish > ~/.config/fish/completions/azmi.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How `azmi token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TokenFormat {
    /// The managed-identity wire names: access_token, token_type, resource,
    /// expires_on, expires_in.
    Json,
    /// The names of `az account get-access-token`: accessToken, expiresOn
    /// (local time), expires_on, tokenType.
    Az,
}

/// Which identity: none of these means the system-assigned identity.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(crate) struct IdentityArgs {
    /// Use the user-assigned identity with this client id.
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// Use the user-assigned identity with this object (principal) id.
    #[arg(long, value_name = "ID")]
    pub(crate) object_id: Option<String>,
    /// Use the user-assigned identity with this ARM resource id.
    #[arg(long, value_name = "ARM_ID")]
    pub(crate) resource_id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The resource (audience) of the token.
    #[arg(
        long,
        value_name = "URI",
        conflicts_with = "scope",
        default_value = "https://management.azure.com/"
    )]
    pub(crate) resource: String,
    /// One AAD v2 scope (its /.default suffix is stripped).
    #[arg(long, value_name = "SCOPE")]
    pub(crate) scope: Option<String>,
    /// The JSON's field names.
    #[arg(short, long, value_enum, default_value = "json")]
    pub(crate) output: TokenFormat,
    #[command(flatten)]
    pub(crate) identity: IdentityArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SecretArgs {
    /// The vault, https://<vault-name>.vault.azure.net. Only this vault is allowed for the call.
    #[arg(long, value_name = "URL")]
    pub(crate) vault: String,
    /// The secret's name.
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// The secret's version (default: the latest).
    #[arg(long, value_name = "VERSION")]
    pub(crate) version: Option<String>,
    /// Print the whole secret (value, id, version, attributes, tags) as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) identity: IdentityArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Listen here: a loopback address (127.0.0.1:PORT, [::1]:PORT; port 0
    /// picks a free one). Repeatable.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: Vec<SocketAddr>,
    /// The tenants and their grants (TOML). Without it, IMDS-mode callers
    /// get whatever the machine's identity has, and App Service mode is off.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Requests a second to the identity endpoint, for every tenant
    /// together (0: no limit); more wait their turn within their deadline.
    #[arg(long, value_name = "N", default_value_t = azmi::UpstreamLimit::imds().per_second)]
    pub(crate) upstream_rate: u32,
    /// Requests in flight to the identity endpoint at once (0: no limit).
    #[arg(long, value_name = "N", default_value_t = azmi::UpstreamLimit::imds().concurrent)]
    pub(crate) upstream_concurrency: u32,
    /// Client connections open at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub(crate) max_connections: u32,
    /// Longest wait, in seconds, for a client's request head (on a new
    /// connection and between kept-alive requests).
    #[arg(long, value_name = "SECS", default_value = "10")]
    pub(crate) client_timeout: Seconds,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Address of the emulated IMDS (loopback or link-local).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) imds_listen: SocketAddr,
    /// Address of the emulated vault (loopback or link-local).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) vault_listen: SocketAddr,
    /// Serve the vault in plain HTTP here too (loopback or link-local), for
    /// a host that cannot trust the emulator's CA: `wasmtime serve` trusts
    /// only the public web PKI, and the wasmtime-serve interop run reaches
    /// the vault this way through a component that sends https as http.
    #[arg(long, value_name = "ADDR")]
    pub(crate) vault_plaintext_listen: Option<SocketAddr>,
    /// Write the emulator's CA certificate here (default: a temporary directory removed on exit).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_out: Option<PathBuf>,
    /// Misbehave on purpose: SERVICE's next requests get these faults, in
    /// order (for example imds=410,410,200 or vault=429:retry-after=2).
    /// Services: imds, vault, arc, app-service, app-service-2017,
    /// service-fabric, cloud-shell. Repeatable.
    #[arg(long, value_name = "SERVICE=FAULT,...", value_parser = azmi_emulator::parse_fault_list, long_help = fault_help())]
    pub(crate) fault: Vec<(azmi_emulator::Service, Vec<azmi_emulator::Fault>)>,
    /// The global `--arc-token-dir`, read here too (see `ArcTokenDir`).
    #[arg(from_global)]
    pub(crate) arc_token_dir: ArcTokenDir,
}

/// `--fault`'s long help, with the grammar stated once (in the emulator).
fn fault_help() -> String {
    format!(
        "Misbehave on purpose: SERVICE's next requests get these faults, in order (for example imds=410,410,200 or vault=429:retry-after=2). Services: imds, vault, arc, app-service, app-service-2017, service-fabric, cloud-shell. Faults: {}. Repeatable.",
        azmi_emulator::FAULTS_SHOWN
    )
}

#[cfg(test)]
mod tests;
