//! Builds the component from source (`crates/azmi-guest`, target
//! wasm32-wasip2) and leaves it at `$OUT_DIR/azmi_guest.wasm`, where
//! `src/runtime.rs` embeds it. No prebuilt wasm is committed, and nothing
//! but the product's component is built here (the test guests are
//! `azmi-test-guests`'s).

use std::env;
use std::path::PathBuf;

#[path = "build/wasm_guests.rs"]
mod wasm_guests;

const COMPONENT: &str = "azmi_guest.wasm";

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // The fuzz targets never run the component: an empty placeholder
    // spares them the wasm build (and a wasm target for the nightly
    // toolchain they need).
    if env::var_os("CARGO_FEATURE_FUZZING").is_some() {
        std::fs::write(out_dir.join(COMPONENT), b"")
            .unwrap_or_else(|e| panic!("cannot write a placeholder {COMPONENT}: {e}"));
        println!("cargo:rustc-env=AZMI_COMPONENT_DIGEST=");
        return;
    }
    let built = wasm_guests::build(&["azmi-guest"]).join(COMPONENT);
    let wasm =
        std::fs::read(&built).unwrap_or_else(|e| panic!("cannot read {}: {e}", built.display()));
    std::fs::write(out_dir.join(COMPONENT), &wasm)
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
    // The compiled-component cache names entries by the component's
    // SHA-256 (`precompiled::entry_name`): hashed here once, not by every
    // `azmi` process at start.
    use sha2::Digest as _;
    let digest: String = sha2::Sha256::digest(&wasm)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=AZMI_COMPONENT_DIGEST={digest}");
}
