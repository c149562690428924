use azmi::{Error, ServiceError};

use super::failure;

fn service(status: u16, code: &str) -> Error {
    Error::Service(ServiceError::new(
        status,
        code.into(),
        "said so".into(),
        None,
    ))
}

#[test]
fn what_the_caller_may_fix_is_a_400_and_an_identity_it_may_not_use_is_not_found() {
    let denied = |rule: &str| {
        Error::Denied(format!(
            "the grant of tenant `t` does not allow the thing (rule `{rule}`)"
        ))
    };
    let identity = failure(&denied("identities"));
    assert_eq!(
        (identity.status, identity.description.as_str()),
        (400, "Identity not found")
    );
    let resource = failure(&denied("resources"));
    assert_eq!(resource.status, 400);
    assert!(resource.description.contains("rule `resources`"));
    let missing = failure(&Error::NotFound(ServiceError::new(
        404,
        String::new(),
        "no".into(),
        None,
    )));
    assert_eq!(
        (missing.status, missing.description.as_str()),
        (400, "Identity not found")
    );
    assert_eq!(failure(&Error::InvalidArgument("bad".into())).status, 400);
}

#[test]
fn throttling_keeps_its_status_and_says_when_to_retry() {
    let budget = failure(&Error::Denied(
        "the grant of tenant `t` does not allow another request (rule `budget`)".into(),
    ));
    assert_eq!((budget.status, budget.retry_after), (429, Some(1)));
    let upstream = failure(&service(429, "too_many_requests"));
    assert_eq!(upstream.status, 429);
    assert!(upstream.retry_after.is_some());
}

#[test]
fn statuses_sdks_retry_pass_through_and_the_rest_is_the_gateway_s() {
    for status in [404, 410, 500, 503] {
        assert_eq!(failure(&service(status, "x")).status, status);
    }
    assert_eq!(
        failure(&service(400, "invalid_resource")).error,
        "invalid_resource"
    );
    assert_eq!(failure(&service(401, "x")).status, 502);
    assert_eq!(failure(&Error::Unavailable("down".into())).status, 502);
    assert_eq!(failure(&Error::Timeout("slow".into())).status, 504);
    // The sandbox's own refusal (a misconfigured upstream) is not the caller's.
    assert_eq!(
        failure(&Error::Denied("http://10.0.0.1/ is not allowed".into())).status,
        502
    );
}
