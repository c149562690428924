//! The emulated Arc agent's key files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Error, random_hex};

/// The Arc agent's key files: each challenge writes a fresh one, each
/// accepted key is used once and deleted.
pub(crate) struct ArcKeys {
    dir: PathBuf,
    issued: Mutex<HashMap<String, PathBuf>>,
}

impl ArcKeys {
    /// Keys will be written into `dir`.
    pub(crate) fn new(dir: PathBuf) -> ArcKeys {
        ArcKeys {
            dir,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// Where the key files are written.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a new key file; returns its path as the agent names it.
    pub(crate) fn issue(&self) -> Result<String, Error> {
        let name = format!("{}.key", random_hex(8)?);
        let key = random_hex(32)?;
        let path = self.dir.join(&name);
        write_private(&path, key.as_bytes())
            .map_err(|e| Error::setup("an Arc key file", format!("{}: {e}", path.display())))?;
        self.issued
            .lock()
            .map_err(|_| Error::setup("an Arc key file", "a lock was poisoned".into()))?
            .insert(key, path);
        Ok(format!("{}/{name}", azmi_core::ARC_TOKEN_DIR))
    }

    /// Accepts `key` once.
    pub(crate) fn redeem(&self, key: &str) -> bool {
        let Ok(mut issued) = self.issued.lock() else {
            return false;
        };
        match issued.remove(key) {
            Some(path) => {
                let _ = std::fs::remove_file(path);
                true
            }
            None => false,
        }
    }
}

/// Writes a file only its owner can read, as the Arc agent's keys are.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}
