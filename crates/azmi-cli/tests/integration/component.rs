//! The component as an artefact: what it imports, and loading other builds.

use azmi::{Error, Runtime, Setting};
use azmi_testkit::assert_error;

use crate::support::{azmi, emulator, stderr, stdout};

#[test]
fn imports_only_standard_wasi_0_2() {
    let imports = crate::support::runtime().imports();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@0.2.")),
        "{imports:?}"
    );
    for import in &imports {
        let (name, version) = import
            .split_once('@')
            .unwrap_or_else(|| panic!("unversioned import {import}"));
        assert!(name.starts_with("wasi:"), "non-WASI import {import}");
        assert!(
            version.starts_with("0.2."),
            "import {import} is not WASI 0.2"
        );
        assert!(
            !name.starts_with("wasi:sockets/"),
            "the component imports sockets: {import}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_component_is_refused_by_name() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"\0asm but not really").unwrap();
    let path = file.path().display().to_string();
    let err = Runtime::from_component_file(file.path()).unwrap_err();
    let Error::Config(config) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (config.setting, config.value.as_deref()),
        (Setting::Component, Some(path.as_str()))
    );
    assert_error!(err, Error::Config(_), "not a valid WebAssembly component");
    let err =
        Runtime::from_component_file(std::path::Path::new("/nonexistent/azmi.wasm")).unwrap_err();
    assert_error!(err, Error::Config(_), "cannot read");
}

#[tokio::test]
async fn the_cli_runs_a_component_given_with_dash_dash_component() {
    let emulator = emulator().await;
    let imds = emulator.imds_endpoint();
    // The component the library embeds, as another host would load it.
    let built = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(built.path(), azmi::COMPONENT).unwrap();
    let built = built.path().display().to_string();
    let output = azmi(
        &["token", "--component", &built, "--imds-endpoint", &imds],
        &[],
    )
    .await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("\"access_token\""));

    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = azmi(
        &["token", "--component", manifest, "--imds-endpoint", &imds],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Cargo.toml is not a valid WebAssembly component"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty());
}
