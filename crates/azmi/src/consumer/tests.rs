use super::*;

/// Every case keeps its kind and its words; the host's own errors arrive
/// as `other`, their kind named.
#[test]
fn errors_keep_their_case() {
    let service = crate::ServiceError::new(
        403,
        "Forbidden".into(),
        "no".into(),
        Some("ForbiddenByRbac".into()),
    );
    assert!(matches!(error(Error::Denied("grant".into())), wit::Error::Denied(m) if m == "grant"));
    assert!(matches!(
        error(Error::Forbidden(service)),
        wit::Error::Forbidden(wit::ServiceError { status: 403, inner_code: Some(ref c), .. }) if c == "ForbiddenByRbac"
    ));
    assert!(matches!(
        error(Error::Timeout("late".into())),
        wit::Error::Timeout(_)
    ));
    assert!(matches!(
        error(Error::ResourceLimit("memory".into())),
        wit::Error::Other(m) if m.starts_with("resource limit: memory")
    ));
    assert!(matches!(
        error(Error::Trap("boom".into())),
        wit::Error::Other(m) if m.starts_with("component failed")
    ));
}
