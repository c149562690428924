//! JWT-shaped access tokens. Real Entra tokens are RS256-signed; the
//! emulator signs with HMAC-SHA256 under a key it makes at start, which is
//! enough for its Key Vault to tell its own tokens from forgeries and to
//! check audience, issuer and expiry the way the service does.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::{Value, json};

pub(super) struct Signer {
    key: hmac::Key,
}

/// The claims the Key Vault emulator checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Claims {
    pub(super) aud: String,
    pub(super) iss: String,
    pub(super) oid: String,
    pub(super) exp: u64,
    pub(super) nbf: u64,
}

impl Signer {
    pub(super) fn new() -> Result<Signer, crate::Error> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| {
            crate::Error::setup("the token key", "the system has no randomness".into())
        })?;
        Ok(Signer { key })
    }

    /// A token for `aud` carrying the identity's ids.
    pub(super) fn issue(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let tag = hmac::sign(&self.key, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Verifies the signature and reads the claims. `None` for anything that
    /// is not a token this signer issued.
    pub(super) fn verify(&self, token: &str) -> Option<Claims> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        hmac::verify(
            &self.key,
            format!("{header}.{payload}").as_bytes(),
            &signature,
        )
        .ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        Some(Claims {
            aud: claims.get("aud")?.as_str()?.to_owned(),
            iss: claims.get("iss")?.as_str()?.to_owned(),
            oid: claims.get("oid")?.as_str()?.to_owned(),
            exp: claims.get("exp")?.as_u64()?,
            nbf: claims.get("nbf")?.as_u64()?,
        })
    }
}

#[cfg(test)]
mod tests;
