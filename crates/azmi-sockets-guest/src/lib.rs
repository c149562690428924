//! A component that opens a TCP socket (so it imports wasi:sockets): azmi's
//! sandbox links no sockets, so loading it must fail.

mod bindings {
    wit_bindgen::generate!({
        world: "credential-provider",
        path: "../../wit",
    });
}

use bindings::exports::azmi::identity::credentials::{
    AccessToken, Error, Guest, Identity, Secret, VaultChallenge,
};

struct Component;

impl Guest for Component {
    fn get_token(resource: String, _: Option<Identity>) -> Result<AccessToken, Error> {
        match std::net::TcpStream::connect(resource.as_str()) {
            Ok(_) => Err(Error::Other("connected".into())),
            Err(e) => Err(Error::Other(e.to_string())),
        }
    }

    fn get_secret(
        _: String,
        _: String,
        _: Option<String>,
        _: Option<Identity>,
    ) -> Result<Secret, Error> {
        Err(Error::Other("no".into()))
    }

    fn discover_vault(_: String, _: String, _: Option<String>) -> Result<VaultChallenge, Error> {
        Err(Error::Other("no".into()))
    }

    fn get_secret_with_token(
        _: String,
        _: String,
        _: Option<String>,
        _: String,
    ) -> Result<Secret, Error> {
        Err(Error::Other("no".into()))
    }
}

#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
