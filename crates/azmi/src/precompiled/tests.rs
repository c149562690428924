use std::fs;

use super::*;

fn compile(engine: &Engine, cache: &Path) -> String {
    let wasm = crate::runtime::COMPONENT;
    load_or_compile(engine, wasm, None, Some(cache)).unwrap();
    entry_name(engine, &component_digest(wasm))
}

#[test]
fn entries_are_reused_only_when_whole() {
    let engine = Engine::default();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let name = compile(&engine, &cache);
    load(&engine, &cache, &name).expect("a fresh entry loads");
    fs::write(cache.join(&name), b"not a compiled component").unwrap();
    assert!(
        load(&engine, &cache, &name).is_err(),
        "garbage is not loaded"
    );
    // …and the next load compiles and replaces it.
    compile(&engine, &cache);
    load(&engine, &cache, &name).unwrap();
}

#[test]
fn names_are_stable_hashes() {
    let engine = Engine::default();
    let name = entry_name(&engine, &component_digest(b"\0asm"));
    assert_eq!(name, entry_name(&engine, &component_digest(b"\0asm")));
    assert_ne!(name, entry_name(&engine, &component_digest(b"\0asm\x01")));
    // component-<32 hex>-<32 hex>.cwasm
    assert_eq!(
        name.len(),
        "component-".len() + 32 + 1 + 32 + ".cwasm".len()
    );
}

#[test]
fn the_built_in_digest_is_the_components() {
    assert_eq!(
        crate::runtime::COMPONENT_DIGEST,
        component_digest(crate::runtime::COMPONENT),
        "build.rs hashed something else than the embedded component"
    );
}

/// The entry a process loads is the file that was checked: mapped through
/// its descriptor, not reopened by name.
#[cfg(target_os = "linux")]
#[test]
fn a_checked_entry_is_mapped_through_its_descriptor() {
    let engine = Engine::default();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let name = compile(&engine, &cache);
    let entry = trust::open_entry(&cache, &name).unwrap();
    let path = entry.mapped_path().expect("/proc is mounted here");
    // Swapped after the check: the name now leads to garbage, the
    // descriptor still to the entry.
    fs::rename(cache.join(&name), cache.join("moved")).unwrap();
    fs::write(cache.join(&name), b"not a compiled component").unwrap();
    assert_eq!(
        Engine::detect_precompiled_file(&path).unwrap(),
        Some(Precompiled::Component)
    );
    drop(entry);
    assert!(
        load(&engine, &cache, &name).is_err(),
        "garbage is not loaded"
    );
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::*;

    fn mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn refused(engine: &Engine, cache: &Path, name: &str, why: &str) {
        let Err(err) = load(engine, cache, name) else {
            panic!("{why}: loaded")
        };
        assert!(err.contains(why), "{why}: {err}");
    }

    #[test]
    fn entries_others_could_have_written_are_not_loaded() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let name = compile(&engine, &cache);
        let entry = cache.join(&name);
        for bad in [0o666, 0o620, 0o602] {
            mode(&entry, bad);
            refused(&engine, &cache, &name, "others can write the entry");
        }
        mode(&entry, 0o600);
        for bad in [0o777, 0o770, 0o1777] {
            mode(&cache, bad);
            refused(
                &engine,
                &cache,
                &name,
                "others can write the cache directory",
            );
        }
        mode(&cache, 0o700);
        load(&engine, &cache, &name).unwrap();
    }

    #[test]
    fn links_are_never_followed() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        let name = compile(&engine, &real);

        // An entry that is a link to a good entry elsewhere.
        let linked = dir.path().join("linked-entry");
        create_private_dir(&linked).unwrap();
        symlink(real.join(&name), linked.join(&name)).unwrap();
        refused(&engine, &linked, &name, "without following links");

        // A cache directory that is a link to a good one.
        let link = dir.path().join("linked-dir");
        symlink(&real, &link).unwrap();
        refused(&engine, &link, &name, "without following links");

        // The trusted directory swapped for a link after it was set up: the
        // descriptor walk meets the link, not the directory it checked.
        let swapped = dir.path().join("swapped");
        fs::rename(&real, dir.path().join("moved-away")).unwrap();
        symlink(dir.path().join("moved-away"), &swapped).unwrap();
        fs::rename(&swapped, &real).unwrap();
        refused(&engine, &real, &name, "without following links");
    }

    #[test]
    fn every_directory_above_must_be_safe_from_others() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let cache = shared.join("cache");
        let name = compile(&engine, &cache);
        load(&engine, &cache, &name).unwrap();
        mode(&shared, 0o775);
        refused(&engine, &cache, &name, "others can write");
        // Sticky, as /tmp: others cannot rename what is ours in it.
        mode(&shared, 0o1777);
        load(&engine, &cache, &name).unwrap();
        mode(&shared, 0o700);
        // A link above the cache directory is the user's own layout: it is
        // resolved, and what it leads through is checked.
        let alias = dir.path().join("alias");
        symlink(&shared, &alias).unwrap();
        load(&engine, &alias.join("cache"), &name).unwrap();
        mode(&shared, 0o777);
        refused(&engine, &alias.join("cache"), &name, "others can write");
    }
}
