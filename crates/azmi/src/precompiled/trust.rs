//! Opening the cache without trusting paths: each directory is opened
//! relative to its parent's descriptor with `O_NOFOLLOW`, and owner and
//! mode are checked with `fstat` on the descriptor that is then used.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component as PathPart, Path};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

/// Largest entry read; the built-in component compiles to about 1 MiB.
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// The effective uid, from the process itself.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Group- or world-writable.
const WRITABLE_BY_OTHERS: u32 = 0o022;
const STICKY: u32 = 0o1000;

/// Opens a directory for walking only (no read permission needed where the
/// platform allows it).
fn dir_flags() -> OFlags {
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = flags | OFlags::PATH;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = flags | OFlags::RDONLY;
    flags
}

/// The permission bits of `st` (`st_mode` is a `u16` on some Unixes).
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    expect(
        clippy::unnecessary_cast,
        reason = "st_mode is u32 here but u16 elsewhere"
    )
)]
fn mode_of(st: &Stat) -> u32 {
    st.st_mode as u32
}

fn stat(fd: &OwnedFd, what: &dyn std::fmt::Display) -> Result<Stat, String> {
    rustix::fs::fstat(fd).map_err(|e| format!("cannot stat {what}: {e}"))
}

/// Every directory above the cache: root's or ours, and nobody else may
/// rename what is in it (not writable by others, or sticky).
fn check_ancestor(st: &Stat, shown: &Path) -> Result<(), String> {
    let mode = mode_of(st);
    if st.st_uid != 0 && st.st_uid != euid() {
        return Err(format!(
            "{} is owned by uid {}, neither root nor this user",
            shown.display(),
            st.st_uid
        ));
    }
    if mode & WRITABLE_BY_OTHERS != 0 && mode & STICKY == 0 {
        return Err(format!(
            "others can write {} (mode {:o}), so they could swap the cache",
            shown.display(),
            mode & 0o7777
        ));
    }
    Ok(())
}

/// The cache directory and its entries: ours, writable by nobody else.
fn check_ours(st: &Stat, kind: FileType, shown: &dyn std::fmt::Display) -> Result<(), String> {
    let mode = mode_of(st);
    if FileType::from_raw_mode(st.st_mode) != kind {
        return Err(format!("{shown} is not a {kind:?}"));
    }
    if st.st_uid != euid() {
        return Err(format!(
            "{shown} is owned by uid {}, not this user",
            st.st_uid
        ));
    }
    if mode & WRITABLE_BY_OTHERS != 0 {
        return Err(format!(
            "others can write {shown} (mode {:o})",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Opens `dir` if it and every directory above it may be trusted. Links
/// above the cache directory are resolved first (they are the user's own
/// layout, and each directory they lead through is then checked); the
/// cache directory itself must not be a link.
fn open_trusted_dir(dir: &Path) -> Result<OwnedFd, String> {
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(format!("{} has no parent directory", dir.display()));
    };
    let parent = std::fs::canonicalize(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    let mut walked = std::path::PathBuf::from("/");
    let mut fd = rustix::fs::openat(rustix::fs::CWD, "/", dir_flags(), Mode::empty())
        .map_err(|e| format!("cannot open /: {e}"))?;
    check_ancestor(&stat(&fd, &"/")?, &walked)?;
    for part in parent.components() {
        match part {
            PathPart::RootDir => continue,
            PathPart::Normal(part) => {
                walked.push(part);
                fd = rustix::fs::openat(&fd, part, dir_flags(), Mode::empty()).map_err(|e| {
                    format!(
                        "cannot open {} without following links: {e}",
                        walked.display()
                    )
                })?;
                check_ancestor(&stat(&fd, &walked.display())?, &walked)?;
            }
            other => {
                return Err(format!(
                    "unexpected path part {other:?} in {}",
                    parent.display()
                ));
            }
        }
    }
    let cache = rustix::fs::openat(
        &fd,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open it without following links: {e}"))?;
    check_ours(
        &stat(&cache, &"the cache directory")?,
        FileType::Directory,
        &"the cache directory",
    )?;
    Ok(cache)
}

/// An entry whose file, directory and ancestors were checked, open.
pub(super) struct Entry(std::fs::File);

/// Entry `name` in `dir`, opened, if everything on the way is trusted.
pub(super) fn open_entry(dir: &Path, name: &str) -> Result<Entry, String> {
    let cache = open_trusted_dir(dir)?;
    let entry = rustix::fs::openat(
        &cache,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot open it without following links: {e}"))?;
    let st = stat(&entry, &"the entry")?;
    check_ours(&st, FileType::RegularFile, &"the entry")?;
    if st.st_size as u64 > MAX_ENTRY_BYTES {
        return Err(format!("it is larger than {MAX_ENTRY_BYTES} bytes"));
    }
    Ok(Entry(std::fs::File::from(entry)))
}

impl Entry {
    /// A path that opens this same file, not whatever its name leads to
    /// now: its descriptor's `/proc/self/fd` link (Linux, where `/proc` is
    /// mounted), valid while the entry is.
    pub(super) fn mapped_path(&self) -> Option<std::path::PathBuf> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use std::os::fd::AsRawFd;
            let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", self.0.as_raw_fd()));
            path.exists().then_some(path)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        None
    }

    /// The entry's bytes, read from its descriptor.
    pub(super) fn read(self) -> Result<Vec<u8>, String> {
        let mut bytes = Vec::new();
        self.0
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read it: {e}"))?;
        Ok(bytes)
    }
}

/// Writes entry `name` into `dir` (trusted as for reading) through a
/// temporary file renamed into place.
pub(super) fn write_entry(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let cache = open_trusted_dir(dir)?;
    let temporary = format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let file = rustix::fs::openat(
        &cache,
        temporary.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| format!("cannot create a temporary entry: {e}"))?;
    let written = std::fs::File::from(file)
        .write_all(bytes)
        .map_err(|e| format!("cannot write it: {e}"))
        .and_then(|()| {
            rustix::fs::renameat(&cache, temporary.as_str(), &cache, name)
                .map_err(|e| format!("cannot rename it into place: {e}"))
        });
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&cache, temporary.as_str(), AtFlags::empty());
    }
    written
}
