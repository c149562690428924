use super::*;

const DIR: &str = "/var/opt/azcmagent/tokens";

#[test]
fn reads_the_realm() {
    assert_eq!(
        realm_path(Some("Basic realm=/var/opt/azcmagent/tokens/a.key")).unwrap(),
        "/var/opt/azcmagent/tokens/a.key"
    );
    assert_eq!(
        realm_path(Some("basic  Realm=\"/x/a.key\"")).unwrap(),
        "/x/a.key"
    );
    for (header, why) in [
        (None, "no WWW-Authenticate"),
        (Some(""), "no WWW-Authenticate"),
        (Some("Basic realm="), "names no key file"),
        (Some("Basic"), "is not `Basic realm="),
        (Some("Bearer realm=/x/a.key"), "is not `Basic realm="),
        (Some("Basic scope=/x/a.key"), "is not `Basic realm="),
        (
            Some("Basic realm=/var/opt/azcmagent/tokens/a=b.key"),
            "holds `=`",
        ),
        (Some("Basic realm=/x/a.key, charset=UTF-8"), "holds `=`"),
    ] {
        let Err(Error::InvalidResponse(message)) = realm_path(header) else {
            panic!("{header:?} accepted");
        };
        assert!(message.contains(why), "{header:?}: {message}");
    }
}

#[test]
fn validates_the_path_before_reading() {
    assert_eq!(
        validate_key_path("/var/opt/azcmagent/tokens/abc.key", DIR).unwrap(),
        Path::new("/var/opt/azcmagent/tokens/abc.key")
    );
    assert_eq!(
        validate_key_path("/var/opt/azcmagent/tokens/./abc.key", DIR).unwrap(),
        Path::new("/var/opt/azcmagent/tokens/abc.key")
    );
    for (path, why) in [
        ("/etc/shadow", "not directly in"),
        ("../../etc/passwd", "not an absolute path"),
        ("/var/opt/azcmagent/tokens/../x.key", "not directly in"),
        ("/var/opt/azcmagent/tokens/sub/x.key", "not directly in"),
        ("/var/opt/azcmagent/tokens/x.txt", "does not end in .key"),
        ("/var/opt/azcmagent/tokens/x", "does not end in .key"),
        ("/var/opt/azcmagent/tokens", "not directly in"),
    ] {
        let Err(Error::InvalidResponse(message)) = validate_key_path(path, DIR) else {
            panic!("{path} accepted");
        };
        assert!(message.contains(why), "{path}: {message}");
    }
    // Judged (and later read) as the path it normalises to.
    for inside in [
        "/var/opt/azcmagent/tokens/sub/../x.key",
        "/var/opt/azcmagent/tokens/sub/../../tokens/x.key",
    ] {
        assert_eq!(
            validate_key_path(inside, DIR).unwrap(),
            Path::new("/var/opt/azcmagent/tokens/x.key")
        );
    }
}

#[test]
fn reads_only_small_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ok.key");
    std::fs::write(&key, "0123abcd").unwrap();
    assert_eq!(read_key(&key).unwrap(), "0123abcd");

    let big = dir.path().join("big.key");
    std::fs::write(&big, vec![b'a'; 5000]).unwrap();
    assert!(
        matches!(read_key(&big), Err(Error::InvalidResponse(ref m)) if m.contains("5000 bytes"))
    );

    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "SECRET-OUTSIDE").unwrap();
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let err = read_key(&link).unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse(ref m) if m.contains("symbolic link")),
        "{err:?}"
    );

    assert!(
        matches!(read_key(&dir.path().join("missing.key")), Err(Error::InvalidResponse(ref m)) if m.contains("does not exist"))
    );
    assert!(
        matches!(read_key(dir.path()), Err(Error::InvalidResponse(ref m)) if m.contains("not a regular file"))
    );

    let newline = dir.path().join("nl.key");
    std::fs::write(&newline, "abc\n").unwrap();
    let err = read_key(&newline).unwrap_err();
    assert!(
        !format!("{err:?}").contains("abc"),
        "the key leaked into {err:?}"
    );
}
