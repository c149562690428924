//! For `tests/interop/wasmtime-serve` only, never for a deployment: a
//! component that exports `wasi:http/outgoing-handler`, plugged (`wac
//! plug`) between an app and the host, that sends every `https` request
//! to a Key Vault name (`*.vault.azure.net`) as plain `http` to the same
//! name on port 80, and passes every other request through unchanged.
//!
//! Why it exists: `wasmtime serve` verifies TLS against the public web
//! PKI compiled into it (webpki-roots) and takes no other trust root, so
//! it cannot reach the emulator's vault, whose certificate the emulator's
//! own CA signs. In the test's network namespace the vault's name resolves
//! to loopback, where the emulator also serves the vault in plain HTTP on
//! port 80. Everything above `wasi:http` (the vault's challenge and its
//! audience check, the token request, retries, size limits) is azmi's
//! component, unchanged.

mod bindings {
    wit_bindgen::generate!({
        inline: "
            package azmi-test:tls-offload;
            world tls-offload {
                import wasi:http/outgoing-handler@0.2.12;
                export wasi:http/outgoing-handler@0.2.12;
            }
        ",
        path: "../../wit",
        world: "tls-offload",
        generate_all,
    });
}

use bindings::exports::wasi::http::outgoing_handler::Guest;
use bindings::wasi::http::outgoing_handler;
use bindings::wasi::http::types::{
    ErrorCode, FutureIncomingResponse, OutgoingRequest, RequestOptions, Scheme,
};

struct Offload;

impl Guest for Offload {
    fn handle(
        request: OutgoingRequest,
        options: Option<RequestOptions>,
    ) -> Result<FutureIncomingResponse, ErrorCode> {
        let vault_host = request
            .authority()
            .and_then(|a| {
                a.rsplit_once(':')
                    .map_or(Some(a.clone()), |(h, _)| Some(h.to_owned()))
            })
            .filter(|host| host.ends_with(".vault.azure.net"));
        if let (Some(Scheme::Https), Some(host)) = (request.scheme(), vault_host) {
            let refused = |what: &str| {
                ErrorCode::InternalError(Some(format!("tls-offload: cannot set the {what}")))
            };
            request
                .set_scheme(Some(&Scheme::Http))
                .map_err(|()| refused("scheme"))?;
            request
                .set_authority(Some(&host))
                .map_err(|()| refused("authority"))?;
        }
        outgoing_handler::handle(request, options)
    }
}

#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{Offload, bindings};
    bindings::export!(Offload with_types_in bindings);
}
