//! An example HTTP app for Wasm platforms that reads its configuration
//! from `wasi:config/store` and knows nothing of azmi: wherever its
//! configuration comes from (`wasmtime serve -S config-var=…`, Spin's
//! variables, or azmi's Key Vault provider plugged in with `wac plug`),
//! it is the same component. It never answers a value, nor anything
//! derived from it that would let a client guess it offline: only that it
//! has one, its length, and, when the caller names the SHA-256 it expects,
//! whether the value has it (how the interop run checks a value).
//!
//! * `GET /config/KEY[?sha256=HEX]`: `get(KEY)`; 404 when the key is not
//!   set.
//! * `GET /config`: `get-all`; answers the keys, not the values.
//!
//! A store's error answers 502 `{"error": "upstream"|"io", "message": …}`.

#[path = "../../azmi-example-app/src/http.rs"]
mod http;

mod bindings {
    wit_bindgen::generate!({
        inline: "
            package azmi-example:config-app;
            world config-app {
                include wasi:http/proxy@0.2.12;
                import wasi:config/store@0.2.0-rc.1;
            }
        ",
        path: "../../wit",
        world: "config-app",
        generate_all,
    });
}

use bindings::exports::wasi::http::incoming_handler::Guest;
// The resolve holds both vendored versions of wasi:config, so wit-bindgen
// names the module after the one this world imports.
use bindings::wasi::config0_2_0_rc_1::store::{self, Error};
use bindings::wasi::http::types::{IncomingRequest, ResponseOutparam};
use serde_json::{Value, json};
use sha2::Digest as _;

struct App;

impl Guest for App {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        http::handle(&request, out, answer);
    }
}

fn answer(request: &http::Request) -> (u16, Value) {
    match request.segments.as_slice() {
        [config, key] if config == "config" => match store::get(key) {
            Ok(Some(value)) => {
                let mut body = json!({"key": key, "found": true, "bytes": value.len()});
                if let Some(expected) = request.param("sha256") {
                    let actual = hex(&sha2::Sha256::digest(value.as_bytes()));
                    body["sha256_matches"] = json!(actual.eq_ignore_ascii_case(expected));
                }
                (200, body)
            }
            Ok(None) => (
                404,
                json!({"key": key, "found": false, "message": format!("`{key}` is not set in this app's configuration")}),
            ),
            Err(e) => failed(&e),
        },
        [config] if config == "config" => match store::get_all() {
            Ok(all) => {
                let keys: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
                (200, json!({"keys": keys}))
            }
            Err(e) => failed(&e),
        },
        _ => (
            404,
            json!({"error": "route", "message": "GET /config/KEY or /config"}),
        ),
    }
}

fn failed(error: &Error) -> (u16, Value) {
    let (kind, message) = match error {
        Error::Upstream(m) => ("upstream", m),
        Error::Io(m) => ("io", m),
    };
    (502, json!({"error": kind, "message": message}))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// Exported only when building the component (native builds exist only for
// clippy).
#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{App, bindings};
    bindings::export!(App with_types_in bindings);
}
