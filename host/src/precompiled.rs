//! Compiled components cached on disk, so that a process does not run
//! Cranelift on every start (`azmi token` is one process per token).
//!
//! A cache entry is named after the SHA-256 of the component and the
//! engine's compatibility hash (wasmtime version and settings), so a
//! changed component or engine never loads a stale entry. Loading machine
//! code from disk trusts the file, so an entry is used only if it and its
//! directory belong to this user and nobody else can write them; anything
//! else is compiled afresh. Entries are written to a temporary file and
//! renamed into place, so concurrent processes never see half a file.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
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
    let path = dir.join(entry_name(engine, wasm));
    if let Some(component) = load(engine, &path) {
        tracing::debug!(target: "azmi::cache", "loaded the compiled component from {}", path.display());
        return Ok(component);
    }
    let component = Component::new(engine, wasm)?;
    match component
        .serialize()
        .map_err(|e| e.to_string())
        .and_then(|bytes| store(dir, &path, &bytes))
    {
        Ok(()) => {
            tracing::debug!(target: "azmi::cache", "stored the compiled component in {}", path.display())
        }
        Err(e) => {
            tracing::debug!(target: "azmi::cache", "not caching the compiled component in {}: {e}", dir.display())
        }
    }
    Ok(component)
}

fn entry_name(engine: &Engine, wasm: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, wasm);
    let component: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("component-{component}-{:016x}.cwasm", hasher.finish())
}

fn load(engine: &Engine, path: &Path) -> Option<Component> {
    if !trusted(path) || !path.parent().is_some_and(trusted) {
        return None;
    }
    let bytes = fs::read(path).ok()?;
    if Engine::detect_precompiled(&bytes) != Some(Precompiled::Component) {
        return None;
    }
    // SAFETY: `deserialize` requires bytes that wasmtime produced and
    // nobody altered. The entry is named by the component's hash and this
    // engine's compatibility hash, was written by `store` below, and sits
    // in a directory that only this user can write (checked above); the
    // bytes also pass wasmtime's own header and version checks.
    #[expect(
        unsafe_code,
        reason = "loading a compiled component this user's azmi wrote; see SAFETY"
    )]
    let component = unsafe { Component::deserialize(engine, &bytes) };
    component.ok()
}

/// Owned by this user and writable by nobody else.
#[cfg(unix)]
fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    meta.uid() == current_uid() && meta.mode() & 0o022 == 0 && !meta.file_type().is_symlink()
}

#[cfg(not(unix))]
fn trusted(_path: &Path) -> bool {
    false
}

/// The effective user id: std has no `geteuid`, but the owner of a file
/// this process creates is exactly that.
#[cfg(unix)]
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    static UID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        tempfile::tempfile()
            .and_then(|f| f.metadata())
            .map_or(u32::MAX, |m| m.uid())
    })
}

fn store(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), String> {
    create_private_dir(dir).map_err(|e| format!("cannot create it: {e}"))?;
    if !trusted(dir) {
        return Err("it is not owned by this user, or others can write it".into());
    }
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    file.write_all(bytes).map_err(|e| e.to_string())?;
    file.persist(path).map_err(|e| e.to_string())?;
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_reused_only_when_trusted_and_whole() {
        let engine = Engine::default();
        let wasm = crate::runtime::EMBEDDED_COMPONENT;
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        load_or_compile(&engine, wasm, Some(&cache)).unwrap();
        let entry = cache.join(entry_name(&engine, wasm));
        assert!(load(&engine, &entry).is_some(), "a fresh entry loads");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o666)).unwrap();
            assert!(
                load(&engine, &entry).is_none(),
                "a world-writable entry is not trusted"
            );
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o600)).unwrap();
            fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
            assert!(
                load(&engine, &entry).is_none(),
                "an entry in a world-writable directory is not trusted"
            );
            fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
        }
        fs::write(&entry, b"not a compiled component").unwrap();
        assert!(load(&engine, &entry).is_none(), "garbage is not loaded");
        // …and the next load compiles and replaces it.
        load_or_compile(&engine, wasm, Some(&cache)).unwrap();
        assert!(load(&engine, &entry).is_some());
    }
}
