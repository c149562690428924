use super::*;

#[test]
fn sanitize_redacts_the_credential_and_flattens_lines() {
    let msg = "bad token eyJabc.def\r\n  see\tdocs";
    assert_eq!(
        sanitize_message(msg, Some("eyJabc.def")),
        "bad token [redacted] see docs"
    );
}

#[test]
fn sanitize_redacts_the_credential_in_any_case_and_in_pieces() {
    let header = "5f0c9a4e-7d1b-4c2e-9a3f-8b6d2e1c0a97";
    let upper = header.to_ascii_uppercase();
    assert_eq!(
        sanitize_message(&format!("you sent {upper}!"), Some(header)),
        "you sent [redacted]!"
    );
    // Split between the code and the message: each half is redacted.
    let (first, second) = header.split_at(18);
    for part in [first, second] {
        let shown = sanitize_message(&format!("x-identity-header: {part}"), Some(header));
        assert_eq!(shown, "x-identity-header: [redacted]", "{part}");
    }
    // Cut at the length limit, the rest is still found.
    let long = format!("{}{header}", "a".repeat(MAX_MESSAGE_CHARS - 10));
    let shown = sanitize_message(&long, Some(header));
    assert!(shown.ends_with("[redacted]…"), "{shown}");
    // A short credential is redacted whole; unrelated text stays.
    assert_eq!(
        sanitize_message("key abc here", Some("abc")),
        "key [redacted] here"
    );
    assert_eq!(sanitize_message("all fine", Some(header)), "all fine");
}

#[test]
fn sanitize_bounds_length() {
    let long = "x".repeat(5000);
    let out = sanitize_message(&long, None);
    assert_eq!(out.chars().count(), MAX_MESSAGE_CHARS + 1);
    assert!(out.ends_with('…'));
}
