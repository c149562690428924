//! Builds the guest component from source (`../guest`, target
//! wasm32-wasip2) and leaves it at `$OUT_DIR/azmi_guest.wasm`, where
//! `src/runtime.rs` embeds it. No prebuilt wasm is committed.
//!
//! The nested cargo gets its own target directory (so it never waits on the
//! outer build's lock) and a clean environment: the outer build's wrappers
//! (clippy-driver) and encoded flags are for the host, not the guest.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "core/src",
        "tests/hostile-guest",
        "tests/sockets-guest",
        "wit",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");

    // The fuzz targets never run the component: an empty placeholder
    // spares them the wasm build (and a wasm target for the nightly
    // toolchain they need).
    if env::var_os("CARGO_FEATURE_FUZZING").is_some() {
        for component in [
            "azmi_guest.wasm",
            "azmi_hostile_guest.wasm",
            "azmi_sockets_guest.wasm",
        ] {
            std::fs::write(out_dir.join(component), b"")
                .unwrap_or_else(|e| panic!("cannot write a placeholder {component}: {e}"));
        }
        return;
    }

    ensure_target_installed();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let guest_target_dir = out_dir.join("guest-target");
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        // The hostile and sockets guests are for the sandbox tests; they
        // are built alongside (a few seconds) but never embedded.
        .args(["build", "--package", "azmi-guest"])
        .args([
            "--package",
            "azmi-hostile-guest",
            "--package",
            "azmi-sockets-guest",
        ])
        .args(["--target", TARGET, "--profile", "guest"])
        .arg("--target-dir")
        .arg(&guest_target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env("RUSTFLAGS", rustflags());
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") {
        command.arg("--offline");
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the guest component");
    assert!(
        status.success(),
        "building the guest components (cargo build -p azmi-guest -p azmi-hostile-guest -p azmi-sockets-guest --target {TARGET}) failed"
    );

    for component in [
        "azmi_guest.wasm",
        "azmi_hostile_guest.wasm",
        "azmi_sockets_guest.wasm",
    ] {
        let built = guest_target_dir.join(TARGET).join("guest").join(component);
        std::fs::copy(&built, out_dir.join(component))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
    }
}

/// Forward `-D warnings` when the outer build denies warnings, and nothing
/// else: host flags such as `-C target-cpu` must not reach the wasm build.
fn rustflags() -> &'static str {
    // CARGO_ENCODED_RUSTFLAGS holds the outer build's flags, 0x1f-separated.
    let encoded = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = encoded.split('\x1f').collect();
    let denies_warnings =
        flags.contains(&"-Dwarnings") || flags.windows(2).any(|w| w == ["-D", "warnings"]);
    if denies_warnings { "-D warnings" } else { "" }
}

/// rust-toolchain.toml lists the wasm32-wasip2 target, but rustup only
/// installs listed targets together with the toolchain. On a machine where
/// the toolchain was already there, add the target now, or say how.
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = |root: &Path| root.join("lib/rustlib").join(TARGET).join("lib").is_dir();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target (rustup target add {TARGET}), as rust-toolchain.toml asks"
    );
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .env_remove("RUSTC")
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        added,
        "the {TARGET} target is missing and `rustup target add {TARGET}` failed; install it, then build again"
    );
}
