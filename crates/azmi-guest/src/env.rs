//! The environment the identity source is detected from. Protocol code reads
//! it through `Env` so tests can hand in any set of variables.

use std::collections::BTreeMap;

/// `Debug` shows names only: some values are credentials.
#[derive(Clone, Default)]
pub(crate) struct Env {
    vars: BTreeMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    pub(crate) fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The process environment, as the host granted it, from
    /// wasi:cli/environment itself: std's view of it would have wasi-libc
    /// copy every variable into C strings first, on every call (each call
    /// is a fresh instance).
    pub(crate) fn from_process() -> Env {
        Env::from_pairs(wasi::cli::environment::get_environment())
    }

    /// The value of `name`, or `None` when it is unset or empty (the Azure
    /// SDKs treat an empty variable as unset).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}
