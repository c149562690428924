use super::*;

#[test]
fn debug_never_shows_the_value() {
    let token = Redacted::new("eyJ.secret.sig");
    assert_eq!(format!("{token:?}"), "[redacted]");
    assert_eq!(token.expose(), "eyJ.secret.sig");
}

#[test]
fn service_errors_name_every_part() {
    let e = ServiceError::new(
        403,
        "Forbidden".into(),
        "no".into(),
        Some("ForbiddenByRbac".into()),
    );
    assert_eq!(e.to_string(), "HTTP 403 Forbidden (ForbiddenByRbac): no");
    assert_eq!(
        e.with_message(String::new()).to_string(),
        "HTTP 403 Forbidden (ForbiddenByRbac)"
    );
}
