//! Shared fixtures: one compiled runtime for the whole test binary, the
//! emulator, and the `azmi` binary run through `azmi_testkit::cli` (which
//! can never reach the real IMDS).

use std::process::Output;
use std::sync::OnceLock;

use azmi::{Config, ConfigBuilder, Credential, Error, Identity, Runtime};
use azmi_emulator::{Emulator, EmulatorConfig};
pub(crate) use azmi_testkit::cli::{stderr, stdout};
pub(crate) use azmi_testkit::raw::{RawServer, Reply};

/// Where the `azmi` processes of the tests share their compiled-component
/// cache (a CLI start then costs milliseconds, not a compilation).
pub(crate) fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("azmi-component-cache")
}

/// The component, compiled once for the whole test binary.
pub(crate) fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::new().expect("the built-in component loads"))
        .clone()
}

pub(crate) async fn emulator() -> Emulator {
    emulator_with(EmulatorConfig::demo()).await
}

pub(crate) async fn emulator_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator starts on loopback")
}

/// A configuration for `emulator`; tests add to it.
pub(crate) fn config_for(emulator: &Emulator) -> ConfigBuilder {
    emulator.config_builder().expect("the emulator's CA parses")
}

pub(crate) fn credential(config: Config) -> Credential {
    Credential::new(runtime(), config)
}

/// Runs the `azmi` binary with a clean environment: nothing inherited, the
/// IMDS endpoint pointed at `NOWHERE_IMDS` unless `env` sets it.
pub(crate) async fn azmi(args: &[&str], env: &[(&str, &str)]) -> Output {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_azmi"));
    azmi_testkit::cli::run(binary, &cache_dir(), args, env).await
}

/// A resource no other call of this test binary asks for: every tenant
/// of the test runtime shares its token cache, so a test that needs a
/// call to reach the endpoint asks for one of these.
pub(crate) fn fresh_resource() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("https://fresh-{n}.example")
}

/// The error of a system-assigned token for a fresh resource under
/// `config`, which the test expects to fail.
pub(crate) async fn token_error(config: Config) -> Error {
    credential(config)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
        .expect_err("the token call should fail")
}

/// Writes the emulator's CA to a temporary file for `--ca-file`.
pub(crate) fn ca_file(emulator: &Emulator) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), emulator.ca_pem()).unwrap();
    file
}
