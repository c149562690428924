//! The Arc token directory a configuration grants: it must be the agent's
//! own. The component reads the key file the agent's challenge names in it
//! and sends the key to the identity endpoint, so a directory someone else
//! prepared (or could change) would make azmi a confused deputy: a root
//! azmi with a hostile `AZMI_ARC_TOKEN_DIR` would send any small `.key`
//! file in it to whatever answers on the endpoint.
//!
//! The rule: owned by root, by the agent's user (`himds`) or by the user
//! azmi runs as (an emulator's directory, or a test's), not writable by
//! others, and writable by its group only when that group is root's or the
//! agent's. A directory that cannot be looked at is left to the per-call
//! grant, which reports why it cannot be opened.

use std::path::Path;

use crate::error::{Error, Setting};

/// The agent's account, which owns its token directory.
const AGENT_USER: &str = "himds";

#[cfg(unix)]
pub(super) fn check(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let refused = |why: String| {
        let shown = dir.display().to_string();
        Error::config(
            Setting::ArcTokenDir,
            Some(&shown),
            format!(
                "the Arc token directory {shown} {why}; azmi grants it to the component and sends the key it holds, so it must be the agent's own directory (default /var/opt/azcmagent/tokens): point --arc-token-dir (AZMI_ARC_TOKEN_DIR) at it"
            ),
        )
    };
    if !meta.is_dir() {
        return Err(refused("is not a directory".into()));
    }
    let euid = rustix::process::geteuid().as_raw();
    let agent = account_ids("/etc/passwd", AGENT_USER);
    let agent_group = account_ids("/etc/group", AGENT_USER).map(|(gid, _)| gid);
    let owner_ok =
        meta.uid() == 0 || meta.uid() == euid || agent.is_some_and(|(uid, _)| uid == meta.uid());
    if !owner_ok {
        return Err(refused(format!(
            "is owned by uid {}, not by root, the agent's {AGENT_USER} user or this user",
            meta.uid()
        )));
    }
    let mode = meta.mode();
    if mode & 0o002 != 0 {
        return Err(refused(format!(
            "is writable by every user (mode {:o})",
            mode & 0o7777
        )));
    }
    let trusted_group = meta.gid() == 0 || agent_group == Some(meta.gid());
    if mode & 0o020 != 0 && !trusted_group {
        return Err(refused(format!(
            "is writable by its group (gid {}, mode {:o}), which is neither root's nor the agent's",
            meta.gid(),
            mode & 0o7777
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

/// The id (third field) and the fourth field of account `name` in a
/// passwd- or group-style file: for `/etc/passwd` the uid and gid, for
/// `/etc/group` the gid.
#[cfg(unix)]
fn account_ids(file: &str, name: &str) -> Option<(u32, Option<u32>)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        let id = fields.nth(1)?.parse().ok()?;
        Some((id, fields.next().and_then(|f| f.parse().ok())))
    })
}

#[cfg(all(test, unix))]
mod tests;
