//! The directory workload identity's token file is in, granted to the
//! component read-only at the same path (so `AZURE_FEDERATED_TOKEN_FILE`
//! means the same inside and out, and kubelet's links inside it resolve).
//!
//! WASI grants directories, not files, so the directory must hold nothing
//! but the token: what kubelet mounts for a projected token holds the file
//! and its own `..data` links, and nothing else. Anything more (a token
//! copied into `/etc`, say) would hand the component the rest of that
//! directory, so it is refused here, naming what else is there.

use std::path::{Component, Path, PathBuf};

use azmi_core::AZURE_FEDERATED_TOKEN_FILE;

use super::DirGrant;
use crate::error::{Error, Setting};

/// Entries of a directory listed before it is refused as too full.
const MAX_ENTRIES: usize = 64;

pub(super) fn grant(raw: &str) -> Result<DirGrant, Error> {
    let raw = raw.trim();
    let refused = |why: String| {
        Error::config(
            Setting::Variable(AZURE_FEDERATED_TOKEN_FILE),
            Some(raw),
            format!("{AZURE_FEDERATED_TOKEN_FILE}=`{raw}` {why}"),
        )
    };
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err(refused("is not an absolute path; give the projected token's path (/var/run/secrets/azure/tokens/azure-identity-token)".into()));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(refused(
            "has `.` or `..` in it; give the path without them".into(),
        ));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(refused("names no file".into()));
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        refused(format!(
            "is in {}, which cannot be listed ({e}); azmi grants that directory to the component, read-only",
            dir.display()
        ))
    })?;
    let mut others = Vec::new();
    for entry in entries.take(MAX_ENTRIES) {
        let entry = entry.map_err(|e| {
            refused(format!(
                "is in {}, which cannot be listed ({e})",
                dir.display()
            ))
        })?;
        let entry_name = entry.file_name();
        // kubelet's atomic writer: `..data` and `..<timestamp>` beside the
        // file (a link into `..data`).
        if entry_name == name || entry_name.as_encoded_bytes().starts_with(b"..") {
            continue;
        }
        others.push(entry_name.to_string_lossy().into_owned());
    }
    if !others.is_empty() {
        others.sort();
        others.truncate(5);
        return Err(refused(format!(
            "is in {}, which also holds {}: azmi grants the component the token's whole directory (WASI grants directories, not files), so it must hold the token alone, as the volume kubelet projects does; give the token a directory of its own",
            dir.display(),
            others.join(", ")
        )));
    }
    let guest = dir
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| refused("is not UTF-8".into()))?;
    Ok(DirGrant {
        host: PathBuf::from(dir),
        guest,
        what: "the service-account token's directory",
        setting: Setting::Variable(AZURE_FEDERATED_TOKEN_FILE),
        fix: "the directory of AZURE_FEDERATED_TOKEN_FILE must be readable by this user",
    })
}

#[cfg(test)]
mod tests;
