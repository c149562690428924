use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::*;

const KEY_A: &str = "0123456789abcdef0123456789abcdef";
const KEY_B: &str = "fedcba9876543210fedcba9876543210";

/// A directory with the keys `a.key` and `b.key` (mode 0600) and
/// `serve.toml` holding `text`.
fn setup(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, key) in [("a.key", KEY_A), ("b.key", KEY_B)] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let path = dir.path().join("serve.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn error_of(text: &str) -> String {
    let (_dir, path) = setup(text);
    match load(&path) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.replace(&path.display().to_string(), "FILE"),
    }
}

const TWO_TENANTS: &str = r#"
[[tenant]]
name = "billing"
key_file = "a.key"
identities = ["client-id:A5B6C7D8-E9F0-4A1B-8C2D-3E4F5A6B7C8D", "system-assigned"]
resources = ["https://vault.azure.net", "https://storage.azure.com/"]
max_upstream_per_minute = 60

[[tenant]]
name = "reports"
key_file = "b.key"
identities = ["object-id:9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"]

[anonymous]
identities = ["system-assigned"]
resources = ["https://vault.azure.net"]
"#;

#[test]
fn a_configuration_loads_its_tenants_keys_and_grants() {
    let (dir, path) = setup(TWO_TENANTS);
    let config = load(&path).unwrap();
    let names: Vec<&str> = config.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["billing", "reports"]);
    // The key is its digest, without the file's newline; the path is
    // relative to the configuration's directory.
    assert_eq!(config.tenants[0].key_digest, digest(KEY_A.as_bytes()));
    assert_eq!(config.tenants[0].key_file, dir.path().join("a.key"));
    // The first identity is the default.
    assert_eq!(
        config.tenants[0].grant.default_identity(),
        &Identity::ClientId("A5B6C7D8-E9F0-4A1B-8C2D-3E4F5A6B7C8D".into())
    );
    let anonymous = config.anonymous.expect("the [anonymous] grant");
    assert_eq!(anonymous.tenant(), ANONYMOUS);
}

#[test]
fn without_an_anonymous_section_imds_mode_has_no_grant() {
    let (_dir, path) = setup(
        "[[tenant]]\nname = \"a\"\nkey_file = \"a.key\"\nidentities = [\"system-assigned\"]\n",
    );
    assert!(load(&path).unwrap().anonymous.is_none());
}

#[test]
fn errors_name_the_file_line_and_column_and_the_fix() {
    let tenant = |extra: &str| {
        format!(
            "[[tenant]]\nname = \"a\"\nkey_file = \"a.key\"\nidentities = [\"system-assigned\"]\n{extra}"
        )
    };
    for (text, expected) in [
        (tenant("colour = \"red\"\n"), "FILE:5:1: unknown field `colour`"),
        (
            "[[tenant]]\nname = \"a\"\nkey_file = \"a.key\"\nidentities = [\"system-assigned\", \"client:x\"]\n".into(),
            "FILE:4:34: `client:x` is not an identity: write system-assigned, client-id:ID, object-id:ID or resource-id:ID",
        ),
        (
            tenant("resources = [\"https://vault.azure.net\", \"https://a/.default https://b/.default\"]\n"),
            "FILE:5:41: ",
        ),
        (tenant("max_upstream_per_minute = 0\n"), "FILE:5:27: max_upstream_per_minute = 0 is not a number of requests"),
        (
            format!("{}[[tenant]]\nname = \"a\"\nkey_file = \"b.key\"\nidentities = [\"system-assigned\"]\n", tenant("")),
            "FILE:6:8: a second tenant is named `a`",
        ),
        (
            format!("{}[[tenant]]\nname = \"b\"\nkey_file = \"a.key\"\nidentities = [\"system-assigned\"]\n", tenant("")),
            "FILE:7:12: the tenants `a` and `b` have the same key",
        ),
        ("[[tenant]]\nname = \"anonymous\"\n".into(), "FILE:2:8: the tenant name `anonymous` is not"),
        ("[[tenant]]\nname = \"a b\"\n".into(), "FILE:2:8: the tenant name `a b` is not"),
        ("[[tenant]]\nname = \"a\"\nidentities = [\"system-assigned\"]\n".into(), "FILE:1:1: the tenant `a` has no `key_file`"),
        ("[[tenant]]\nname = \"a\"\nkey_file = \"a.key\"\nidentities = []\n".into(), "FILE:4:14: the grant of `a` lists no identities"),
        ("[[tenant]]\nname = \"a\"\nkey_file = \"missing.key\"\n".into(), "FILE:3:12: cannot read the key file"),
        ("[anonymous]\nkey_file = \"a.key\"\nidentities = [\"system-assigned\"]\n".into(), "FILE:2:12: [anonymous] has no name or key_file"),
        ("[anonymous]\nresources = [\"https://vault.azure.net\"]\n".into(), "FILE:1:1: the grant of `anonymous` lists no identities"),
        ("tenant = 3\n".into(), "FILE:1:10: invalid type"),
        ("[[tenant]\n".into(), "FILE:1:"),
    ] {
        let error = error_of(&text);
        assert!(error.starts_with(expected), "expected `{expected}`, got: {error}");
        assert_eq!(error.lines().count(), 1, "{error}");
    }
}

#[test]
fn a_key_must_be_long_private_and_printable() {
    let text =
        "[[tenant]]\nname = \"a\"\nkey_file = \"k.key\"\nidentities = [\"system-assigned\"]\n";
    for (key, mode, expected) in [
        ("short", 0o600, "is 5 bytes; a key must be 16 to 1024"),
        (KEY_A, 0o604, "can be read by every user of the machine"),
        ("0123456789 abcdef0123", 0o600, "other than visible ASCII"),
    ] {
        let (dir, path) = setup(text);
        let file = dir.path().join("k.key");
        std::fs::write(&file, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let error = load(&path).err().expect("refused");
        assert!(error.contains(expected), "{error}");
        // The key itself is never in the message.
        assert!(!error.contains(KEY_A), "{error}");
    }
}

#[test]
fn identities_parse_in_each_form() {
    assert_eq!(
        parse_identity("system-assigned"),
        Ok(Identity::SystemAssigned)
    );
    assert_eq!(
        parse_identity("client-id:c"),
        Ok(Identity::ClientId("c".into()))
    );
    assert_eq!(
        parse_identity("object-id:o"),
        Ok(Identity::ObjectId("o".into()))
    );
    assert_eq!(
        parse_identity("resource-id:/subscriptions/s"),
        Ok(Identity::ResourceId("/subscriptions/s".into()))
    );
    for bad in ["client-id:", "client-id", "SystemAssigned", "tenant-id:x"] {
        assert!(parse_identity(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_readme_s_grant_file_loads() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let section = readme
        .split("**The grant file**")
        .nth(1)
        .expect("the README documents the grant file");
    let text = section
        .split("```toml\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .expect("a toml block");
    let (_dir, path) = setup(&text.replace("/etc/azmi/billing.key", "a.key"));
    let config = load(&path).unwrap();
    assert_eq!(config.tenants.len(), 1);
    assert!(config.anonymous.is_some());
}
