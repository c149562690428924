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
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_token_directory_must_be_safe_from_others() {
        let dir = tempfile::tempdir().unwrap();
        let mode =
            |m| std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(m)).unwrap();
        for ok in [0o700, 0o750, 0o755] {
            mode(ok);
            check(dir.path()).unwrap_or_else(|e| panic!("{ok:o}: {e}"));
        }
        for bad in [0o777, 0o703, 0o1777] {
            mode(bad);
            let err = check(dir.path()).unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.message.contains("writable by every user")),
                "{bad:o}: {err:?}"
            );
        }
        mode(0o700);
        // Another user's directory, or one its group may write: only root
        // can set these up (CI runs the tests as root).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(dir.path(), Some(12345), None).unwrap();
            let err = check(dir.path()).unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.message.contains("owned by uid 12345")),
                "{err:?}"
            );
            std::os::unix::fs::chown(dir.path(), Some(0), Some(12345)).unwrap();
            mode(0o770);
            let err = check(dir.path()).unwrap_err();
            assert!(
                matches!(err, Error::Config(ref m) if m.message.contains("writable by its group (gid 12345")),
                "{err:?}"
            );
            std::os::unix::fs::chown(dir.path(), None, Some(0)).unwrap();
            check(dir.path()).unwrap();
            mode(0o700);
        }
        let file = dir.path().join("x.key");
        std::fs::write(&file, "k").unwrap();
        let err = check(&file).unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.message.contains("not a directory")),
            "{err:?}"
        );
        // Nothing there: the per-call grant says why.
        check(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn accounts_are_read_from_passwd_style_files() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0::/root:/bin/sh\nhimds:x:998:997::/nonexistent:/usr/sbin/nologin\n",
        )
        .unwrap();
        let passwd = passwd.display().to_string();
        assert_eq!(account_ids(&passwd, "himds"), Some((998, Some(997))));
        assert_eq!(account_ids(&passwd, "nobody"), None);
    }
}
