use super::*;

#[test]
fn strips_only_dot_default() {
    assert_eq!(
        scope_to_resource("https://vault.azure.net/.default").unwrap(),
        "https://vault.azure.net"
    );
    assert_eq!(
        scope_to_resource("https://vault.azure.net").unwrap(),
        "https://vault.azure.net"
    );
    // As in the SDKs: `//.default` keeps one slash.
    assert_eq!(
        scope_to_resource("https://management.azure.com//.default").unwrap(),
        "https://management.azure.com/"
    );
    assert_eq!(scope_to_resource("api://my-app").unwrap(), "api://my-app");
}

#[test]
fn refuses_zero_or_several_scopes() {
    assert!(scope_to_resource("").is_err());
    assert!(scope_to_resource("  ").is_err());
    let m = scope_to_resource("https://a/.default https://b/.default").unwrap_err();
    assert!(m.contains("more than one scope"), "{m}");
    assert!(scope_to_resource("/.default").is_err());
    let m = scope_to_resource("https://a/.default/.default").unwrap_err();
    assert!(m.contains("twice"), "{m}");
    assert!(scope_to_resource("https://a\u{0}").is_err());
    assert!(scope_to_resource(&"a".repeat(MAX_RESOURCE_LEN + 1)).is_err());
}
