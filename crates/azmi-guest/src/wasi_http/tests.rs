use super::*;

#[test]
fn policy_refusals_stay_distinct() {
    assert_eq!(
        map_error_code(ErrorCode::HttpRequestDenied),
        TransportError::Denied
    );
    assert_eq!(
        map_error_code(ErrorCode::DestinationIpProhibited),
        TransportError::AddressProhibited
    );
    assert!(matches!(
        map_error_code(ErrorCode::ConnectionRefused),
        TransportError::Unreachable(_)
    ));
    assert!(matches!(
        map_error_code(ErrorCode::ConnectionTimeout),
        TransportError::ConnectTimeout(_)
    ));
    assert!(matches!(
        map_error_code(ErrorCode::ConnectionReadTimeout),
        TransportError::ReadTimeout(_)
    ));
    assert!(matches!(
        map_error_code(ErrorCode::HttpResponseBodySize(Some(10))),
        TransportError::TooLarge { limit: 10 }
    ));
    assert!(matches!(
        body_failure("connection read timeout"),
        TransportError::ReadTimeout(_)
    ));
    assert!(matches!(
        body_failure("connection reset"),
        TransportError::Interrupted(_)
    ));
    // What wasmtime 48 says when the host refused a body for its size.
    assert_eq!(
        body_failure("HTTP response body size exceeds limit: 65536 bytes"),
        TransportError::TooLarge { limit: 65536 }
    );
    assert_eq!(
        map_error_code(ErrorCode::HttpProtocolError),
        TransportError::Protocol
    );
}
