//! The `azmi` binary as a test runs it: a clean environment (nothing
//! inherited), the IMDS endpoint pointed at a loopback port where nothing
//! listens unless the test says otherwise, a shared compiled-component
//! cache, and a deadline.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The IMDS endpoint the runner uses unless a test sets one: a loopback
/// port where nothing listens, so a forgotten override fails fast and
/// locally instead of reaching 169.254.169.254.
pub const NOWHERE_IMDS: &str = "http://127.0.0.1:1";

/// Runs `binary` with `args` and only `env` (plus the cache directory and
/// `NOWHERE_IMDS`, which `env` may override), within 60 seconds.
pub async fn run(binary: &Path, cache_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("AZMI_CACHE_DIR", cache_dir)
        .env("AZURE_POD_IDENTITY_AUTHORITY_HOST", NOWHERE_IMDS);
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("azmi finished within 60 s")
        .expect("azmi runs")
}

/// Standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure as the CLI reports one: exit `status`, nothing on stdout, one
/// line on stderr starting with `azmi: <kind>`. Returns the line.
pub fn assert_failure(output: &Output, status: i32, kind: &str) -> String {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(status), "stderr: {err}");
    assert!(
        output.stdout.is_empty(),
        "stdout on failure: {}",
        stdout(output)
    );
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with(&format!("azmi: {kind}")), "{err}");
    err
}
