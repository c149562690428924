use super::*;

#[test]
fn reads_oauth_and_keyvault_error_shapes() {
    let (c, m, i) = parse_error_body(
        br#"{"error":"invalid_request","error_description":"Identity not found"}"#,
        None,
    );
    assert_eq!(
        (c.as_str(), m.as_str(), i),
        ("invalid_request", "Identity not found", None)
    );
    let (c, m, i) = parse_error_body(
        br#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#,
        None,
    );
    assert_eq!(c, "Forbidden");
    assert!(m.contains("disabled secret"));
    assert_eq!(i.as_deref(), Some("SecretDisabled"));
    let (c, m, i) = parse_error_body(b"<html>oops</html>", None);
    assert_eq!((c.as_str(), m.as_str(), i), ("", "", None));
}

#[test]
fn nested_inner_errors_yield_the_innermost_code() {
    let (_, _, inner) = parse_error_body(
        br#"{"error":{"code":"Forbidden","message":"m","innererror":{"code":"A","innererror":{"code":"B"}}}}"#,
        None,
    );
    assert_eq!(inner.as_deref(), Some("B"));
}

#[test]
fn error_messages_never_echo_the_credential() {
    let (_, m, _) = parse_error_body(
        br#"{"error":{"code":"Unauthorized","message":"bad token eyJ.SECRET.sig"}}"#,
        Some("eyJ.SECRET.sig"),
    );
    assert_eq!(m, "bad token [redacted]");
}

#[test]
fn unreachable_identity_endpoint_is_unavailable() {
    let e = transport_error(
        TransportError::Unreachable("connection refused".into()),
        "http://x/t",
        Peer::Imds,
    );
    assert!(
        matches!(e, Error::Unavailable(ref m) if m.contains("http://x/t") && m.contains("connection refused")),
        "{e:?}"
    );
    let e = transport_error(
        TransportError::Unreachable("connection refused".into()),
        "https://v/s",
        Peer::Vault,
    );
    assert!(matches!(e, Error::Other(_)), "{e:?}");
    let e = transport_error(TransportError::Denied, "http://x/t", Peer::Vault);
    assert!(
        matches!(e, Error::Denied(ref m) if m.contains("egress policy")),
        "{e:?}"
    );
}
