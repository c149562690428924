//! Builds the test guests (`azmi-hostile-guest`, `azmi-sockets-guest`,
//! `azmi-tenant-guest`) for
//! wasm32-wasip2 into `$OUT_DIR`, as wasmtime's test-programs-artifacts
//! builds its test programs; only tests depend on this crate.

use std::env;
use std::path::PathBuf;

#[path = "../azmi/build/wasm_guests.rs"]
mod wasm_guests;

const GUESTS: [&str; 3] = [
    "azmi-hostile-guest",
    "azmi-sockets-guest",
    "azmi-tenant-guest",
];

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let built = wasm_guests::build(&GUESTS);
    for guest in GUESTS {
        let file = format!("{}.wasm", guest.replace('-', "_"));
        std::fs::copy(built.join(&file), out_dir.join(&file))
            .unwrap_or_else(|e| panic!("cannot copy {file}: {e}"));
    }
}
