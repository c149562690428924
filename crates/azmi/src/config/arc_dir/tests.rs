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
