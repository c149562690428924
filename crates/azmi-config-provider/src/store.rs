//! What `wasi:config/store` means over Key Vault: which secret a key
//! names, how long a value is kept, what a failure becomes. Plain Rust
//! behind the [`Vault`] seam, unit-tested natively; `lib.rs` connects it to
//! the imported `credentials` and to both exported versions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long an instance keeps a value (or a secret's absence) without
/// `AZMI_CONFIG_TTL`: five minutes, Spin's and the Azure SDKs' rule of
/// thumb for configuration that may rotate. An instance that lives shorter
/// (`wasmtime serve` makes one per request) asks the vault every time.
pub(crate) const DEFAULT_TTL_SECONDS: u64 = 300;

/// The longest `AZMI_CONFIG_TTL` accepted: a day.
const MAX_TTL_SECONDS: u64 = 86_400;

/// Why `get` or `get-all` failed, in `wasi:config/store`'s two cases.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// The vault, the identity endpoint, or the configuration refused.
    Upstream(String),
    /// Nothing answered, or not in time.
    Io(String),
}

/// The provider's configuration, read from the environment at each call.
#[derive(Debug, Default)]
pub(crate) struct Settings {
    vault_url: Option<String>,
    keys: Option<Vec<String>>,
    ttl: Duration,
    client_id: Option<String>,
}

impl Settings {
    /// Reads `AZMI_VAULT_URL`, `AZMI_CONFIG_KEYS`, `AZMI_CONFIG_TTL` and
    /// `AZMI_CLIENT_ID` (lib.rs documents them) from `vars`.
    pub(crate) fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, Error> {
        let mut settings = Settings {
            ttl: Duration::from_secs(DEFAULT_TTL_SECONDS),
            ..Settings::default()
        };
        for (name, value) in vars {
            // An empty variable is an unset one, as for azmi's others.
            let value = value.trim().to_owned();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "AZMI_VAULT_URL" => settings.vault_url = Some(value),
                "AZMI_CONFIG_KEYS" => {
                    settings.keys = Some(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|k| !k.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                "AZMI_CONFIG_TTL" => settings.ttl = parse_ttl(&value)?,
                "AZMI_CLIENT_ID" => settings.client_id = Some(value),
                _ => {}
            }
        }
        Ok(settings)
    }

    fn vault_url(&self) -> Result<&str, Error> {
        self.vault_url.as_deref().ok_or_else(|| {
            Error::Upstream(
                "AZMI_VAULT_URL is not set: set it to the vault to read, https://<vault-name>.vault.azure.net".into(),
            )
        })
    }
}

fn parse_ttl(text: &str) -> Result<Duration, Error> {
    match text.parse::<u64>() {
        Ok(seconds) if seconds <= MAX_TTL_SECONDS => Ok(Duration::from_secs(seconds)),
        _ => Err(Error::Upstream(format!(
            "AZMI_CONFIG_TTL `{text}` is not a number of seconds from 0 to {MAX_TTL_SECONDS}: set it to how long an instance may keep a value, or unset it for {DEFAULT_TTL_SECONDS}"
        ))),
    }
}

/// The Key Vault secret `key` names: Key Vault allows only letters, digits
/// and hyphens, and configuration keys are often written with underscores
/// (Spin's variable names must be), so `db_password` reads `db-password`.
/// Names are case-insensitive in Key Vault, and so here.
pub(crate) fn secret_name(key: &str) -> Result<String, Error> {
    let name: String = key
        .chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let valid = (1..=127).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(name)
    } else {
        Err(Error::Upstream(format!(
            "key `{}` cannot name a Key Vault secret: a name is 1 to 127 letters, digits and hyphens (`_` reads as `-`)",
            key.escape_debug()
        )))
    }
}

/// A service's refusal, as `credentials` reports it.
pub(crate) struct ServiceFailure {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    /// The innermost code (`SecretDisabled`, `ForbiddenByRbac`, …).
    pub(crate) inner_code: Option<String>,
}

/// A `credentials` error, case by case (lib.rs maps the WIT's to this).
pub(crate) enum Failure {
    Unavailable(String),
    Denied(String),
    Unauthorized(ServiceFailure),
    Forbidden(ServiceFailure),
    NotFound(ServiceFailure),
    Service(ServiceFailure),
    InvalidArgument(String),
    InvalidResponse(String),
    Timeout(String),
    Other(String),
}

/// What a failed read means for `get`: a secret the vault does not have
/// is an unset key (`Ok(None)`), as `wasi:config` says; everything else is
/// an error that says what to fix.
pub(crate) fn outcome_of_failure(failure: &Failure) -> Result<Option<String>, Error> {
    let service = |kind: &str, s: &ServiceFailure, fix: &str| {
        let code = if s.code.is_empty() { "" } else { " " };
        format!(
            "{kind} (HTTP {}{code}{}): {}{fix}",
            s.status, s.code, s.message
        )
    };
    Err(match failure {
        Failure::NotFound(s) if s.code == "SecretNotFound" => return Ok(None),
        // azmi's message already names the endpoint and the fix.
        Failure::Unavailable(m) => Error::Io(m.clone()),
        Failure::Timeout(m) => Error::Io(format!("timed out: {m}")),
        Failure::Other(m) => Error::Io(m.clone()),
        Failure::Denied(m) => Error::Upstream(format!(
            "refused by the sandbox: {m} (the platform must allow outbound requests to the identity endpoint and the vault)"
        )),
        Failure::Unauthorized(s) => Error::Upstream(service("unauthorized", s, "")),
        Failure::Forbidden(s) if s.inner_code.as_deref() == Some("SecretDisabled") => {
            Error::Upstream(service(
                "disabled",
                s,
                " (the secret is disabled in the vault: enable it, or read another)",
            ))
        }
        Failure::Forbidden(s) => Error::Upstream(service(
            "forbidden",
            s,
            " (give the identity the Key Vault Secrets User role on the vault, or a get-secret access policy)",
        )),
        Failure::NotFound(s) => Error::Upstream(service("not found", s, "")),
        Failure::Service(s) => Error::Upstream(service("refused", s, "")),
        Failure::InvalidArgument(m) => Error::Upstream(format!("invalid: {m}")),
        Failure::InvalidResponse(m) => Error::Upstream(format!("invalid response: {m}")),
    })
}

/// Where values come from: Key Vault, through `credentials`, in the
/// component; a fake in the tests.
pub(crate) trait Vault {
    /// Secret `name`'s latest value, `None` when the vault has no such
    /// secret.
    fn read(
        &self,
        vault_url: &str,
        name: &str,
        client_id: Option<&str>,
    ) -> Result<Option<String>, Error>;
}

struct Entry {
    /// `None`: the vault has no such secret.
    value: Option<String>,
    fetched: Instant,
}

/// The most values (and absences) an instance keeps: a client that asks
/// for ever new keys must not grow a long-lived instance without bound.
const MAX_ENTRIES: usize = 1024;

/// The instance's memory of values. Errors are never kept: the next call
/// asks again.
#[derive(Default)]
pub(crate) struct Store {
    entries: BTreeMap<(String, Option<String>, String), Entry>,
}

impl Store {
    /// The value of `key`: secret `secret_name(key)` of the configured
    /// vault, from memory when read less than the TTL ago.
    pub(crate) fn get(
        &mut self,
        vault: &dyn Vault,
        settings: &Settings,
        key: &str,
        now: Instant,
    ) -> Result<Option<String>, Error> {
        let name = secret_name(key)?;
        let vault_url = settings.vault_url()?;
        let slot = (vault_url.to_owned(), settings.client_id.clone(), name);
        if let Some(entry) = self.entries.get(&slot)
            && now.saturating_duration_since(entry.fetched) < settings.ttl
        {
            return Ok(entry.value.clone());
        }
        let value = vault
            .read(vault_url, &slot.2, settings.client_id.as_deref())
            .map_err(|e| in_context(e, &slot.2, vault_url))?;
        self.make_room(settings.ttl, now);
        self.entries.insert(
            slot,
            Entry {
                value: value.clone(),
                fetched: now,
            },
        );
        Ok(value)
    }

    /// Forgets what has expired and, if the store is still full, what was
    /// read longest ago.
    fn make_room(&mut self, ttl: Duration, now: Instant) {
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.fetched) < ttl);
        while self.entries.len() >= MAX_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.fetched)
                .map(|(slot, _)| slot.clone());
            match oldest {
                Some(slot) => self.entries.remove(&slot),
                None => break,
            };
        }
    }

    /// Every key of `AZMI_CONFIG_KEYS` the vault has, with its value. A
    /// vault's secrets are not listed: that needs the list permission,
    /// which a reader of a few secrets should not have, and would hand the
    /// app every secret of the vault.
    pub(crate) fn get_all(
        &mut self,
        vault: &dyn Vault,
        settings: &Settings,
        now: Instant,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(keys) = settings.keys.as_ref() else {
            return Err(Error::Upstream(
                "get-all returns the keys AZMI_CONFIG_KEYS names, and it is not set: set it to the comma-separated keys to read (the provider does not list a vault's secrets)".into(),
            ));
        };
        let mut all = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.get(vault, settings, key, now)? {
                all.push((key.clone(), value));
            }
        }
        Ok(all)
    }
}

fn in_context(error: Error, name: &str, vault_url: &str) -> Error {
    let context = |m: String| format!("secret `{name}` of {vault_url}: {m}");
    match error {
        Error::Upstream(m) => Error::Upstream(context(m)),
        Error::Io(m) => Error::Io(context(m)),
    }
}

#[cfg(test)]
mod tests;
