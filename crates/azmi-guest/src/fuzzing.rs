//! Entry points for the fuzz targets in `fuzz/`: the parsers that read
//! what a server or a caller sends. Each must return, never panic, for any
//! input. Compiled only with the `fuzzing` feature.

use serde_json::Value;

use crate::identity::Identity;
use crate::keyvault::{self, Vault};

/// A token endpoint's 200 body.
pub fn token_response(body: &[u8]) {
    let _ =
        crate::token::parse_token_response(body, "https://vault.azure.net", 1_700_000_000, "fuzz");
}

/// `expires_on` / `expires_in` values, as strings and as JSON.
pub fn expiry(text: &str) {
    let _ = crate::expiry::timestamp(&Value::String(text.to_owned()));
    let _ = crate::expiry::seconds(&Value::String(text.to_owned()));
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let _ = crate::expiry::timestamp(&value);
        let _ = crate::expiry::seconds(&value);
    }
}

/// The Arc agent's `WWW-Authenticate: Basic realm=…` and the path checks
/// (which do not touch the filesystem).
pub fn arc_challenge(header: &str) {
    if let Ok(path) = crate::sources::fuzzing::realm_path(Some(header)) {
        let _ = crate::sources::fuzzing::validate_key_path(&path, azmi_core::ARC_TOKEN_DIR);
    }
}

/// Key Vault's `WWW-Authenticate: Bearer …` and its verification.
pub fn vault_challenge(header: &str) {
    if let Ok(challenge) = keyvault::challenge_parse(Some(header))
        && let Ok(vault) = Vault::parse("https://myvault.vault.azure.net")
    {
        let _ = keyvault::challenge_verify(&challenge, &vault);
    }
}

/// A get-secret 200 body, and an error body of any service.
pub fn secret_and_error(body: &[u8]) {
    if let Ok(vault) = Vault::parse("https://myvault.vault.azure.net") {
        let _ = keyvault::parse_secret(body, &vault, "mysecret", None);
        let _ = keyvault::parse_secret(
            body,
            &vault,
            "mysecret",
            Some("0123456789abcdef0123456789abcdef"),
        );
    }
    let _ = crate::endpoint::parse_error_body(body, Some("eyJ.credential"));
}

/// The validators of what callers pass: vault URLs, secret names, versions,
/// identities, resources.
pub fn caller_input(text: &str) {
    let _ = Vault::parse(text);
    let _ = keyvault::validate_secret_name(text);
    let _ = keyvault::validate_version(text);
    for identity in [
        Identity::ClientId(text.to_owned()),
        Identity::ObjectId(text.to_owned()),
        Identity::ResourceId(text.to_owned()),
    ] {
        let _ = identity.validate();
    }
    let _ = azmi_core::scope::scope_to_resource(text);
    let _ = crate::url::Url::parse(text);
}
