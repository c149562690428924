//! The AKS side of workload identity: a cluster's service-account issuer
//! (ES256, as a cluster may sign) and kubelet projecting its token into the
//! pod's volume, replacing it the way kubelet's atomic writer does: the
//! new file in a new `..<timestamp>` directory, `..data` switched to it by
//! one rename, the file itself a link through `..data`.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

use super::{Error, WorkloadIdentityConfig, now};

/// The projected file's name, as the workload-identity webhook mounts it.
pub const TOKEN_FILE_NAME: &str = "azure-identity-token";

/// What kubelet writes next, when a test asks for a bad file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFileFault {
    /// A token that expired an hour ago (kubelet stopped rotating it).
    Stale,
    /// Text that is not a JWT.
    Malformed,
    /// A token for another audience than Entra's.
    WrongAudience,
    /// A token of another service account.
    WrongSubject,
}

/// The cluster's service-account token signer.
pub(crate) struct Issuer {
    key: EcdsaKeyPair,
    /// The issuer URL, as the cluster's OIDC discovery document says.
    pub(crate) url: String,
}

/// The claims Entra checks in an assertion.
#[derive(Debug)]
pub(crate) struct Assertion {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) expires: u64,
    pub(crate) not_before: u64,
    pub(crate) id: String,
}

impl Issuer {
    pub(crate) fn new(tenant: &str) -> Result<Issuer, Error> {
        let rng = SystemRandom::new();
        let fail = |_| {
            Error::setup(
                "the service-account issuer's key",
                "ECDSA key generation failed".into(),
            )
        };
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(fail)?;
        let key = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .map_err(|_| {
            Error::setup(
                "the service-account issuer's key",
                "the key does not parse".into(),
            )
        })?;
        // Shaped like AKS's issuer URLs; never resolved.
        let url = format!(
            "https://oidc.emulator.azmi.test/{tenant}/{}/",
            super::random_hex(8)?
        );
        Ok(Issuer { key, url })
    }

    /// A signed token with `claims`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD
            .encode(json!({"alg": "ES256", "typ": "JWT", "kid": "emulator"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        match self.key.sign(&SystemRandom::new(), input.as_bytes()) {
            Ok(sig) => format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())),
            // Signing fails only without randomness; an unsigned token is
            // then refused by the emulated Entra like any forgery.
            Err(_) => format!("{input}."),
        }
    }

    /// The claims of `token`, if this issuer signed it. Expiry is the
    /// caller's to check.
    pub(crate) fn verify(&self, token: &str) -> Option<Assertion> {
        let mut parts = token.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        )
        .verify(format!("{header}.{payload}").as_bytes(), &sig)
        .ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let audiences = match claims.get("aud")? {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => return None,
        };
        Some(Assertion {
            issuer: claims.get("iss")?.as_str()?.to_owned(),
            subject: claims.get("sub")?.as_str()?.to_owned(),
            audiences,
            expires: claims.get("exp")?.as_u64()?,
            not_before: claims.get("nbf").and_then(Value::as_u64).unwrap_or(0),
            id: claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// kubelet, for one pod's projected token.
pub(crate) struct Kubelet {
    dir: PathBuf,
    config: WorkloadIdentityConfig,
    generation: AtomicU64,
    faults: Mutex<VecDeque<TokenFileFault>>,
    /// The `jti` of the token in the file now.
    current: Mutex<String>,
}

impl Kubelet {
    pub(crate) fn new(dir: PathBuf, config: WorkloadIdentityConfig) -> Kubelet {
        Kubelet {
            dir,
            config,
            generation: AtomicU64::new(0),
            faults: Mutex::default(),
            current: Mutex::default(),
        }
    }

    /// The projected token's path in the pod.
    pub(crate) fn file(&self) -> PathBuf {
        self.dir.join(TOKEN_FILE_NAME)
    }

    pub(crate) fn queue(&self, faults: impl IntoIterator<Item = TokenFileFault>) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(faults);
    }

    /// The `jti` of the token in the file now.
    pub(crate) fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Writes a new token (or the next queued bad file) and switches the
    /// volume to it.
    pub(crate) fn rotate(&self, issuer: &Issuer) -> Result<(), Error> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let fault = self
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let issued = now();
        let id = format!("emulator-{generation}-{}", super::random_hex(4)?);
        let lifetime = self.config.token_lifetime.as_secs();
        let (issued, expires) = match fault {
            Some(TokenFileFault::Stale) => (
                issued.saturating_sub(2 * lifetime),
                issued.saturating_sub(lifetime),
            ),
            _ => (issued, issued + lifetime),
        };
        let audience = match fault {
            Some(TokenFileFault::WrongAudience) => "https://kubernetes.default.svc".to_owned(),
            _ => self.config.audience.clone(),
        };
        let subject = match fault {
            Some(TokenFileFault::WrongSubject) => {
                "system:serviceaccount:default:someone-else".to_owned()
            }
            _ => self.config.subject.clone(),
        };
        let contents = match fault {
            Some(TokenFileFault::Malformed) => "this is not a service-account token\n".to_owned(),
            _ => issuer.sign(&json!({
                "aud": [audience],
                "iss": issuer.url,
                "sub": subject,
                "iat": issued,
                "nbf": issued,
                "exp": expires,
                "jti": id,
                "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "azmi-demo"}},
            })),
        };
        atomic_write(&self.dir, generation, &contents)
            .map_err(|e| Error::setup("the projected service-account token", e.to_string()))?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = id;
        Ok(())
    }
}

/// kubelet's atomic writer, for one file.
fn atomic_write(dir: &Path, generation: u64, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let data = format!("..{}_{generation}", now());
    let data_dir = dir.join(&data);
    std::fs::create_dir(&data_dir)?;
    let file = data_dir.join(TOKEN_FILE_NAME);
    std::fs::write(&file, contents)?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    let previous = std::fs::read_link(dir.join("..data")).ok();
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    symlink(&data, &tmp)?;
    std::fs::rename(&tmp, dir.join("..data"))?;
    let link = dir.join(TOKEN_FILE_NAME);
    if std::fs::symlink_metadata(&link).is_err() {
        symlink(format!("..data/{TOKEN_FILE_NAME}"), &link)?;
    }
    if let Some(previous) = previous.filter(|p| p != Path::new(&data)) {
        let _ = std::fs::remove_dir_all(dir.join(previous));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
