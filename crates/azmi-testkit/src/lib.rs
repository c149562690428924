//! What azmi's tests, benchmarks and the load example share (as rustls's
//! `rustls-test` and azure_core's `azure_core_test` do), so that no test
//! includes another's code:
//!
//! * `raw`: loopback servers that count connections and misbehave;
//! * `cli`: a runner for the `azmi` binary with a clean environment that
//!   can never reach the real IMDS, and checks of its output;
//! * `load`: many tenants, concurrent calls, injected faults;
//! * `assert_error!`: an error's kind, and what its message must say.

pub mod cli;
pub mod load;
pub mod raw;

/// The claims of a JWT-shaped token (its middle part, base64url JSON), as
/// the emulator issues them.
///
/// # Panics
/// If `token` is not a JWT.
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the claims are base64url");
    serde_json::from_slice(&bytes).expect("the claims are JSON")
}

/// The text of an error, whatever its case: the message of a string case,
/// the `HTTP <status> <code> (<inner>): <message>` of a service case.
pub fn message(error: &azmi::Error) -> String {
    use azmi::Error;
    match error {
        Error::Unavailable(m)
        | Error::Denied(m)
        | Error::InvalidArgument(m)
        | Error::InvalidResponse(m)
        | Error::Timeout(m)
        | Error::ResourceLimit(m)
        | Error::Trap(m)
        | Error::Other(m) => m.clone(),
        Error::Config(e) => e.message.clone(),
        Error::Unauthorized(e) | Error::Forbidden(e) | Error::NotFound(e) | Error::Service(e) => {
            e.to_string()
        }
        other => other.to_string(),
    }
}

/// Asserts that `error` is of the kind the pattern names and that its
/// message says each of the texts:
/// `assert_error!(err, Error::Denied(_), "not on the egress allow-list")`.
#[macro_export]
macro_rules! assert_error {
    ($error:expr, $kind:pat $(, $text:expr)* $(,)?) => {{
        let error = &$error;
        assert!(
            matches!(error, $kind),
            "expected {}, got {error:?}",
            stringify!($kind)
        );
        let _message = $crate::message(error);
        $(
            assert!(
                _message.contains($text),
                "{} does not say {:?}: {_message}",
                error.kind(),
                $text
            );
        )*
    }};
}
