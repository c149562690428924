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
//!   and the entry is mapped through its descriptor (`/proc/self/fd/N`
//!   reopens that very file; where `/proc` is missing it is read from the
//!   descriptor): whatever is renamed or linked into place after a check
//!   is never what is loaded;
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
/// there, else compiled (and stored there, best effort). `digest` is
/// `component_digest(wasm)`, when the caller knows it already.
pub(crate) fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    digest: Option<&str>,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<Component> {
    let Some(dir) = cache_dir else {
        return Component::new(engine, wasm);
    };
    let computed;
    let digest = match digest {
        Some(digest) => digest,
        None => {
            computed = component_digest(wasm);
            &computed
        }
    };
    let name = entry_name(engine, digest);
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

/// The first 16 bytes of the SHA-256 of `wasm`, in hex. `build.rs`
/// computes the built-in component's at build time
/// (`runtime::COMPONENT_DIGEST`).
pub(crate) fn component_digest(wasm: &[u8]) -> String {
    hex16(ring::digest::digest(&ring::digest::SHA256, wasm).as_ref())
}

fn hex16(digest: &[u8]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// `component-<digest of the wasm>-<sha256 of the engine's compatibility
/// hash>.cwasm`, 16 bytes of each: stable across Rust releases, unlike
/// std's `DefaultHasher`.
pub(crate) fn entry_name(engine: &Engine, component_digest: &str) -> String {
    let mut hasher = BytesHasher(Vec::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let digest = ring::digest::digest(&ring::digest::SHA256, &hasher.0);
    format!(
        "component-{component_digest}-{}.cwasm",
        hex16(digest.as_ref())
    )
}

/// A `Hasher` that collects what a value that only implements `Hash`
/// feeds it, to be digested in one go: the compatibility hash is
/// thousands of small writes, each costly for a SHA-256 context.
struct BytesHasher(Vec<u8>);

impl Hasher for BytesHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn finish(&self) -> u64 {
        // Only the bytes are used.
        0
    }
}

fn load(engine: &Engine, dir: &Path, name: &str) -> Result<Component, String> {
    let entry = trust::open_entry(dir, name)?;
    // SAFETY: `deserialize` and `deserialize_file` require bytes that
    // wasmtime produced and nobody altered. The entry is named by the
    // component's hash and this engine's compatibility hash, was written
    // by `store` below, and was opened by a descriptor whose file,
    // directory and ancestors only this user (or root) can write (checked
    // on the descriptors, see `trust`); the bytes also pass wasmtime's own
    // header and version checks.
    #[expect(
        unsafe_code,
        reason = "loading a compiled component this user's azmi wrote; see SAFETY"
    )]
    let component = match entry.mapped_path() {
        // Mapped, not read: only the pages the process touches are loaded,
        // and nothing is copied (a one-shot `azmi token` spent a fifth of
        // its time reading and copying the entry). The path reopens the
        // very file that was checked, whatever its name now points to.
        Some(path) => {
            if Engine::detect_precompiled_file(&path).ok().flatten() != Some(Precompiled::Component)
            {
                return Err("it is not a compiled component".into());
            }
            unsafe { Component::deserialize_file(engine, &path) }
        }
        None => {
            let bytes = entry.read()?;
            if Engine::detect_precompiled(&bytes) != Some(Precompiled::Component) {
                return Err("it is not a compiled component".into());
            }
            unsafe { Component::deserialize(engine, &bytes) }
        }
    };
    component.map_err(|e| format!("wasmtime refused it: {e:#}"))
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

    pub(super) struct Entry;

    impl Entry {
        pub(super) fn mapped_path(&self) -> Option<std::path::PathBuf> {
            None
        }

        pub(super) fn read(self) -> Result<Vec<u8>, String> {
            Err("compiled components are cached only on Unix".into())
        }
    }

    pub(super) fn open_entry(_dir: &Path, _name: &str) -> Result<Entry, String> {
        Err("compiled components are cached only on Unix".into())
    }

    pub(super) fn write_entry(_dir: &Path, _name: &str, _bytes: &[u8]) -> Result<(), String> {
        Err("compiled components are cached only on Unix".into())
    }
}

#[cfg(test)]
mod tests;
