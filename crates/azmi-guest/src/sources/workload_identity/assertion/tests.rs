use super::*;

#[test]
fn base64url_decodes_every_length_and_refuses_what_is_not_base64url() {
    assert_eq!(base64url("").as_deref(), Some(&b""[..]));
    assert_eq!(base64url("YQ").as_deref(), Some(&b"a"[..]));
    assert_eq!(base64url("YWI").as_deref(), Some(&b"ab"[..]));
    assert_eq!(base64url("YWJj").as_deref(), Some(&b"abc"[..]));
    assert_eq!(base64url("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    for bad in ["Y", "YQ==", "Y+Q", "Y/Q", "Y Q"] {
        assert_eq!(base64url(bad), None, "{bad}");
    }
}

#[test]
fn claims_are_read_from_the_payload_and_debug_shows_no_token() {
    let token = crate::sources::workload_identity::tests::jwt(
        r#"{"iss":"https://issuer","sub":"system:serviceaccount:ns:sa","aud":"api://AzureADTokenExchange","exp":42}"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\r\n")).unwrap();
    let assertion = Assertion::read(file.to_str().unwrap()).unwrap();
    assert_eq!(assertion.expose(), token);
    assert_eq!(assertion.issuer, "https://issuer");
    assert_eq!(assertion.subject, "system:serviceaccount:ns:sa");
    assert_eq!(assertion.audience, "api://AzureADTokenExchange");
    assert_eq!(assertion.expires, Some(42));
    let debug = format!("{assertion:?}");
    assert!(
        !debug.contains(&token) && debug.contains("system:serviceaccount:ns:sa"),
        "{debug}"
    );
}

#[test]
fn oversized_files_and_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, "a".repeat(MAX_ASSERTION_BYTES as usize + 1)).unwrap();
    let err = Assertion::read(big.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("more than")),
        "{err:?}"
    );
    let err = Assertion::read(dir.path().to_str().unwrap()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("not a regular file")),
        "{err:?}"
    );
}
