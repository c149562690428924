//! Compiled components cached on disk, so that a process does not run
//! Cranelift on every start (`azmi token` is one process per token).
//!
//! Loading machine code from disk trusts the file, so the cache is read the
//! way ssh reads its keys, and without a window between check and use:
//!
//! * every directory above the cache directory is owned by root or by this
//!   user (the effective uid, from the process) and writable by nobody
//!   else, unless it is sticky (`/tmp`), where others cannot rename what is
//!   ours;
//! * the cache directory and the entry are opened without following links
//!   (`O_NOFOLLOW`, each directory relative to its parent's descriptor),
//!   their owner and mode are checked on the opened descriptors (`fstat`),
//!   and the entry is read from its descriptor: whatever is renamed or
//!   linked into place after a check is never what is read;
//! * both must belong to this user and be writable by nobody else.
//!
//! Anything else is compiled afresh (and the reason logged with `-v`). An
//! entry is named after the SHA-256 of the component and of the engine's
//! compatibility hash (wasmtime version and settings), so a changed
//! component or engine never loads a stale entry; it is written to a
//! temporary file in the directory and renamed into place, so concurrent
//! processes never see half a file. Not on Unix, nothing is cached.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

/// The component for `wasm`, from `cache_dir` when a trusted entry is
/// there, else compiled (and stored there, best effort).
pub(crate) fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm);
    };
    let name = entry_name(engine, wasm);
    match load(engine, dir, &name) {
        Ok(component) => {
            tracing::debug!(target: "azmi::cache", "loaded the compiled component {name} from {}", dir.display());
            return Ok(component);
        }
        Err(why) => {
            tracing::debug!(target: "azmi::cache", "not using {name} in {}: {why}", dir.display())
        }
    }
    let component = Component::new(engine, wasm)?;
    match component
        .serialize()
        .map_err(|e| e.to_string())
        .and_then(|bytes| store(dir, &name, &bytes))
    {
        Ok(()) => {
            tracing::debug!(target: "azmi::cache", "stored the compiled component in {}", dir.display())
        }
        Err(e) => {
            tracing::debug!(target: "azmi::cache", "not caching the compiled component in {}: {e}", dir.display())
        }
    }
    Ok(component)
}

/// `component-<sha256 of the wasm>-<sha256 of the engine's compatibility
/// hash>.cwasm`, 16 bytes of each: stable across Rust releases, unlike
/// std's `DefaultHasher`.
pub(crate) fn entry_name(engine: &Engine, wasm: &[u8]) -> String {
    let hex = |digest: ring::digest::Digest| -> String {
        digest.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let component = hex(ring::digest::digest(&ring::digest::SHA256, wasm));
    let mut hasher = Sha256Hasher(ring::digest::Context::new(&ring::digest::SHA256));
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("component-{component}-{}.cwasm", hex(hasher.0.finish()))
}

/// A `Hasher` that feeds SHA-256, for hashing values that only implement
/// `Hash`.
struct Sha256Hasher(ring::digest::Context);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the digest is used.
        0
    }
}

fn load(engine: &Engine, dir: &Path, name: &str) -> Result<Component, String> {
    let bytes = trust::read_entry(dir, name)?;
    if Engine::detect_precompiled(&bytes) != Some(Precompiled::Component) {
        return Err("it is not a compiled component".into());
    }
    // SAFETY: `deserialize` requires bytes that wasmtime produced and
    // nobody altered. The entry is named by the component's hash and this
    // engine's compatibility hash, was written by `store` below, and was
    // read from a descriptor whose file, directory and ancestors only this
    // user (or root) can write (checked on the descriptors, see `trust`);
    // the bytes also pass wasmtime's own header and version checks.
    #[expect(
        unsafe_code,
        reason = "loading a compiled component this user's azmi wrote; see SAFETY"
    )]
    let component = unsafe { Component::deserialize(engine, &bytes) };
    component.map_err(|e| format!("wasmtime refused it: {e}"))
}

fn store(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    create_private_dir(dir).map_err(|e| format!("cannot create it: {e}"))?;
    trust::write_entry(dir, name, bytes)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The cache directory the CLI uses: `AZMI_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/azmi`, else `$HOME/.cache/azmi`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("AZMI_CACHE_DIR")
        .or_else(|| from("XDG_CACHE_HOME").map(|d| d.join("azmi")))
        .or_else(|| from("HOME").map(|d| d.join(".cache").join("azmi")))
}

#[cfg(unix)]
mod trust;

#[cfg(not(unix))]
mod trust {
    use std::path::Path;

    pub(super) fn read_entry(_dir: &Path, _name: &str) -> Result<Vec<u8>, String> {
        Err("compiled components are cached only on Unix".into())
    }

    pub(super) fn write_entry(_dir: &Path, _name: &str, _bytes: &[u8]) -> Result<(), String> {
        Err("compiled components are cached only on Unix".into())
    }
}

#[cfg(test)]
mod tests;
