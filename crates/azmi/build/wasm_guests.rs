//! Building guest crates of this workspace for wasm32-wasip2 from a build
//! script, shared by azmi's (the product's component) and
//! azmi-test-guests' (the test guests).
//!
//! The nested cargo gets its own target directory (so it never waits on
//! the outer build's lock) and a clean environment: the outer build's
//! wrappers (clippy-driver) and encoded flags are for the host, not the
//! guest. The outer build reruns when any file the guests were compiled
//! from changes (the compiler's dep-info), or the workspace's manifests,
//! lock file or toolchain pin.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` with the `guest` profile; returns where their
/// `.wasm` files are (`<dir>/<crate_name>.wasm`).
pub(crate) fn build(packages: &[&str]) -> PathBuf {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .ancestors()
        .find(|dir| dir.join("rust-toolchain.toml").is_file())
        .expect("the crate is inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "wit"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");

    ensure_target_installed();

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = out_dir.join("guest-target");
    let mut command = Command::new(cargo);
    command.current_dir(&workspace).arg("build");
    for package in packages {
        command.args(["--package", package]);
    }
    command
        .args(["--target", TARGET, "--profile", "guest"])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env("RUSTFLAGS", rustflags());
    if env::var("CARGO_NET_OFFLINE").is_ok_and(|v| v == "true") {
        command.arg("--offline");
    }
    let status = command
        .status()
        .expect("cannot run cargo to build the guest components");
    assert!(
        status.success(),
        "building the guest components (cargo build -p {} --target {TARGET} --profile guest) failed",
        packages.join(" -p ")
    );
    let built = target_dir.join(TARGET).join("guest");
    for package in packages {
        rerun_on_sources_of(&built.join(format!("{}.d", package.replace('-', "_"))));
    }
    built
}

/// `cargo:rerun-if-changed` for every source file in a dep-info file
/// (`<output>: <source> <source> …`, spaces in paths escaped with `\`).
fn rerun_on_sources_of(dep_info: &Path) {
    let text = std::fs::read_to_string(dep_info)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dep_info.display()));
    let Some((_, sources)) = text.lines().next().and_then(|l| l.split_once(": ")) else {
        return;
    };
    let mut source = String::new();
    let mut chars = sources.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => source.push(chars.next().unwrap_or(' ')),
            ' ' => {
                if !source.is_empty() {
                    println!("cargo:rerun-if-changed={source}");
                }
                source.clear();
            }
            c => source.push(c),
        }
    }
    if !source.is_empty() {
        println!("cargo:rerun-if-changed={source}");
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
