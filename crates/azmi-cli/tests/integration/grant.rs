//! The filesystem grant, tested apart from the real component's own
//! checks: a hostile component tries to read, write and list around the
//! Arc token directory. Only reading inside the directory works.

use azmi_testkit::assert_error;
use std::path::Path;
use std::sync::OnceLock;

use azmi::{Config, Error, Identity, Runtime, Source};

/// The hostile test component built by host/build.rs.
pub(crate) use azmi_test_guests::HOSTILE_COMPONENT;

pub(crate) fn hostile_runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::from_component_file(Path::new(HOSTILE_COMPONENT))
                .expect("the hostile component loads")
        })
        .clone()
}

/// Runs one hostile command; `Ok` is what it managed, `Err` why it could not.
pub(crate) async fn attempt(config: &Config, command: &str) -> Result<String, String> {
    match azmi::Credential::new(hostile_runtime(), config.clone())
        .get_token(command, &Identity::SystemAssigned)
        .await
    {
        Ok(token) => Ok(token.token.into_inner()),
        Err(Error::Other(why)) => Err(why),
        Err(other) => panic!("{command}: unexpected {other:?}"),
    }
}

struct Layout {
    _root: tempfile::TempDir,
    tokens: std::path::PathBuf,
    neighbour: std::path::PathBuf,
}

/// `<root>/tokens/ok.key`, `<root>/neighbour.txt` (a file in the parent
/// directory), and `<root>/tokens/link.key` → the neighbour.
fn layout() -> Layout {
    let root = tempfile::tempdir().unwrap();
    let tokens = root.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    std::fs::write(tokens.join("ok.key"), "KEY").unwrap();
    let neighbour = root.path().join("neighbour.txt");
    std::fs::write(&neighbour, "NEIGHBOUR").unwrap();
    std::os::unix::fs::symlink(&neighbour, tokens.join("link.key")).unwrap();
    Layout {
        _root: root,
        tokens,
        neighbour,
    }
}

fn arc_config(layout: &Layout) -> Config {
    Config::builder()
        .source(Source::Arc)
        .arc_token_dir(&layout.tokens)
        .build()
        .unwrap()
}

#[tokio::test]
async fn only_the_token_directory_is_readable_and_nothing_is_writable() {
    let layout = layout();
    let config = arc_config(&layout);
    let dir = azmi::ARC_TOKEN_DIR;

    assert_eq!(
        attempt(&config, &format!("read:{dir}/ok.key")).await,
        Ok("read 3 bytes".into()),
        "the grant works"
    );
    let listed = attempt(&config, &format!("list:{dir}")).await.unwrap();
    assert!(listed.contains("ok.key"), "{listed}");

    for command in [
        "read:/etc/passwd".to_owned(),
        format!("read:{dir}/../neighbour.txt"),
        format!("read:{dir}/../tokens/../neighbour.txt"),
        format!("read:{dir}/link.key"),
        format!("read:{}", layout.neighbour.display()),
        "list:/".to_owned(),
        format!("list:{dir}/.."),
        format!("stat:{dir}/link.key"),
    ] {
        let result = attempt(&config, &command).await;
        assert!(result.is_err(), "{command}: {result:?}");
    }
    for command in [
        format!("write:{dir}/new.key"),
        format!("write:{dir}/ok.key"),
        "write:/tmp/escaped".to_owned(),
    ] {
        let result = attempt(&config, &command).await;
        assert!(result.is_err(), "{command}: {result:?}");
    }
    assert!(
        !layout.tokens.join("new.key").exists(),
        "nothing was created"
    );
    assert_eq!(
        std::fs::read_to_string(layout.tokens.join("ok.key")).unwrap(),
        "KEY",
        "nothing was changed"
    );
    assert_eq!(
        std::fs::read_to_string(&layout.neighbour).unwrap(),
        "NEIGHBOUR"
    );
}

#[tokio::test]
async fn other_sources_see_no_files_at_all() {
    let layout = layout();
    // Same token directory configured, but the source is IMDS: no grant.
    let config = Config::builder()
        .arc_token_dir(&layout.tokens)
        .build()
        .unwrap();
    let result = attempt(&config, &format!("read:{}/ok.key", azmi::ARC_TOKEN_DIR)).await;
    assert!(result.is_err(), "{result:?}");
}

#[tokio::test]
async fn the_component_sees_only_its_sources_variables() {
    let layout = layout();
    let config = Config::builder()
        .identity_variable("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t")
        .identity_variable("IDENTITY_HEADER", "h")
        .identity_variable("MSI_SECRET", "not for this source")
        .arc_token_dir(&layout.tokens)
        .build()
        .unwrap();
    assert_eq!(
        attempt(&config, "env").await,
        Ok("AZMI_IDENTITY_SOURCE,AZMI_RETRY,IDENTITY_ENDPOINT,IDENTITY_HEADER".into())
    );
    let config = arc_config(&layout);
    assert_eq!(
        attempt(&config, "env").await,
        Ok("AZMI_IDENTITY_SOURCE,AZMI_RETRY".into())
    );
}

#[tokio::test]
async fn an_unreadable_token_directory_is_a_clear_configuration_error() {
    let config = Config::builder()
        .source(Source::Arc)
        .arc_token_dir("/nonexistent/azmi-tokens")
        .build()
        .unwrap();
    let err = azmi::Credential::new(hostile_runtime(), config)
        .get_token("env", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::Config(_),
        "cannot grant the Arc token directory /nonexistent/azmi-tokens"
    );
}

#[tokio::test]
async fn time_blocked_on_the_host_costs_no_cpu_but_the_deadline_holds() {
    use azmi::CallLimits;
    use std::time::Duration;
    let limits = CallLimits::default()
        .timeout(Duration::from_secs(10))
        .cpu(Duration::from_millis(200));
    let config = Config::builder().call_limits(limits).build().unwrap();
    // Two seconds blocked in a host call: ten times the CPU budget, and fine.
    assert_eq!(attempt(&config, "sleep:2000").await, Ok("slept".into()));
    // Two seconds of running wasm: stopped at the CPU budget.
    let err = azmi::Credential::new(hostile_runtime(), config.clone())
        .get_token("spin:2000", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::ResourceLimit(_), "CPU");
    // Blocked past the call's deadline: stopped by the host.
    let short = Config::builder()
        .call_limits(CallLimits::default().timeout(Duration::from_millis(500)))
        .build()
        .unwrap();
    let err = azmi::Credential::new(hostile_runtime(), short)
        .get_token("sleep:5000", &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::Timeout(_), "did not finish within 500ms");
}
