use super::*;
use crate::testing::{Expect, FakeTransport, Harness};

const URL: &str = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token";
const CLIENT: &str = "11111111-1111-1111-1111-111111111111";

/// A compact JWT with `claims` (the signature is not checked here).
pub(crate) fn jwt(claims: &str) -> String {
    fn b64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    format!(
        "{}.{}.{}",
        b64(br#"{"alg":"ES256"}"#),
        b64(claims.as_bytes()),
        b64(b"signature-bytes")
    )
}

fn claims(jti: &str) -> String {
    format!(
        r#"{{"iss":"https://oidc.example/issuer","sub":"system:serviceaccount:default:workload","aud":["api://AzureADTokenExchange"],"exp":1700003600,"jti":"{jti}"}}"#
    )
}

struct Pod {
    dir: tempfile::TempDir,
}

impl Pod {
    fn new(token: &str) -> Pod {
        let pod = Pod {
            dir: tempfile::tempdir().unwrap(),
        };
        pod.write(token);
        pod
    }
    fn file(&self) -> String {
        self.dir
            .path()
            .join("azure-identity-token")
            .display()
            .to_string()
    }
    fn write(&self, token: &str) {
        std::fs::write(self.file(), token).unwrap();
    }
    fn source(&self, extra: &[(&str, &str)]) -> Result<WorkloadIdentity, Error> {
        let file = self.file();
        let mut pairs = vec![
            (AZURE_FEDERATED_TOKEN_FILE, file.as_str()),
            (AZURE_CLIENT_ID, CLIENT),
            (AZURE_TENANT_ID, "tenant-1"),
        ];
        pairs.extend_from_slice(extra);
        WorkloadIdentity::from_env(&Env::from_pairs(pairs))
    }
}

fn form(client_id: &str, scope: &str, assertion: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={client_id}&scope={}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
        encode_query_value(scope),
        encode_query_value(assertion)
    )
}

const TOKEN_REPLY: &str = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"entra-token"}"#;

#[test]
fn exchanges_the_file_for_a_token_and_reads_it_again_for_the_next_exchange() {
    let first = jwt(&claims("first"));
    let second = jwt(&claims("second"));
    let pod = Pod::new(&format!("{first}\n"));
    let source = pod
        .source(&[(AZURE_AUTHORITY_HOST, "https://login.microsoftonline.com/")])
        .unwrap();
    let fake = FakeTransport::new(vec![
        Expect::post(
            URL,
            &form(CLIENT, "https://vault.azure.net/.default", &first),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .reply(200, "application/json", TOKEN_REPLY),
        Expect::post(
            URL,
            &form(CLIENT, "https://storage.azure.com/.default", &second),
        )
        .reply(200, "application/json", TOKEN_REPLY),
    ]);
    let mut harness = Harness::new();
    let token = source
        .get_token(
            &harness.ctx(&fake),
            "https://vault.azure.net",
            &Identity::SystemAssigned,
        )
        .unwrap();
    assert_eq!(token.token.expose(), "entra-token");
    assert_eq!(token.expires_on, harness.now + 3599);
    // kubelet rotates the file: the next exchange sends the new one.
    pod.write(&second);
    source
        .get_token(
            &harness.ctx(&fake),
            "https://storage.azure.com",
            &Identity::SystemAssigned,
        )
        .unwrap();
    fake.assert_done();
}

#[test]
fn another_client_id_selects_another_federated_identity_and_other_ids_are_refused() {
    let assertion = jwt(&claims("a"));
    let pod = Pod::new(&assertion);
    let source = pod.source(&[]).unwrap();
    let other = "22222222-2222-2222-2222-222222222222";
    let fake = FakeTransport::new(vec![
        Expect::post(
            URL,
            &form(other, "https://vault.azure.net/.default", &assertion),
        )
        .reply(200, "application/json", TOKEN_REPLY),
    ]);
    let mut harness = Harness::new();
    source
        .get_token(
            &harness.ctx(&fake),
            "https://vault.azure.net",
            &Identity::ClientId(other.into()),
        )
        .unwrap();
    fake.assert_done();
    for identity in [
        Identity::ObjectId("o".into()),
        Identity::ResourceId("/sub/r".into()),
    ] {
        let err = source
            .get_token(&harness.ctx(&fake), "https://vault.azure.net", &identity)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains("client id only")),
            "{err:?}"
        );
    }
}

#[test]
fn the_variables_are_checked_before_anything_is_read_or_sent() {
    let pod = Pod::new(&jwt(&claims("a")));
    for (extra, names) in [
        (
            (AZURE_AUTHORITY_HOST, "http://login.microsoftonline.com/"),
            "not https",
        ),
        (
            (
                AZURE_AUTHORITY_HOST,
                "https://login.microsoftonline.com:8443/",
            ),
            "port 8443",
        ),
        ((AZURE_TENANT_ID, "a/b"), "is not a tenant"),
        ((AZURE_CLIENT_ID, "a b"), "is not a client id"),
        (
            (AZURE_FEDERATED_TOKEN_FILE, "relative/token"),
            "not an absolute path",
        ),
    ] {
        let err = pod.source(&[extra]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument(ref m) if m.contains(names) && m.starts_with(extra.0)),
            "{extra:?}: {err:?}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_token_is_never_sent_or_quoted() {
    let fake = FakeTransport::new(vec![]);
    for content in [
        "",
        "\n",
        "password=hunter2-not-a-jwt",
        "aaa.bbb.ccc",
        "eyJhbGciOiJub25lIn0.W10.c2ln", // claims are a JSON array
        "a.b.c.d",
    ] {
        let pod = Pod::new(content);
        let err = pod
            .source(&[])
            .unwrap()
            .get_token(
                &Harness::new().ctx(&fake),
                "https://vault.azure.net",
                &Identity::SystemAssigned,
            )
            .unwrap_err();
        let Error::InvalidArgument(m) = &err else {
            panic!("{content:?}: {err:?}")
        };
        assert!(m.contains("was not sent"), "{m}");
        assert!(content.len() < 3 || !m.contains(content.trim()), "{m}");
    }
    let missing = Pod::new("x");
    std::fs::remove_file(missing.file()).unwrap();
    let err = missing
        .source(&[])
        .unwrap()
        .get_token(&Harness::new().ctx(&fake), "r", &Identity::SystemAssigned)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument(ref m) if m.contains("does not exist")),
        "{err:?}"
    );
    assert_eq!(*fake.calls.borrow(), 0);
}

/// Entra's refusal with `code`, as it words it.
fn refusal(error: &str, code: u64, assertion: &str) -> String {
    format!(
        r#"{{"error":"{error}","error_description":"AADSTS{code}: described; it echoes {assertion}. Trace ID: t Correlation ID: c Timestamp: 2026-12-04","error_codes":[{code}],"timestamp":"2026-12-04","trace_id":"t","correlation_id":"c"}}"#
    )
}

#[test]
fn entra_refusals_name_the_fix_and_never_the_assertion() {
    let assertion = jwt(&claims("a"));
    let pod = Pod::new(&assertion);
    let source = pod.source(&[]).unwrap();
    type Case = (u16, &'static str, u64, &'static str, fn(&Error) -> bool);
    let cases: [Case; 6] = [
        (
            401,
            "invalid_client",
            700024,
            "kubelet has not rotated the file",
            |e| matches!(e, Error::Unauthorized(_)),
        ),
        (
            400,
            "invalid_request",
            70021,
            "subject `system:serviceaccount:default:workload`, audience `api://AzureADTokenExchange`",
            |e| matches!(e, Error::Unauthorized(_)),
        ),
        (
            400,
            "unauthorized_client",
            700016,
            "has no identity with client id",
            |e| matches!(e, Error::NotFound(_)),
        ),
        (
            400,
            "invalid_request",
            90002,
            "does not know tenant tenant-1",
            |e| matches!(e, Error::NotFound(_)),
        ),
        (
            400,
            "invalid_scope",
            70011,
            "refused the scope https://vault.azure.net/.default",
            |e| matches!(e, Error::InvalidArgument(_)),
        ),
        (400, "invalid_request", 99999, "described", |e| {
            matches!(e, Error::Service(_))
        }),
    ];
    for (status, error, code, says, kind) in cases {
        let fake = FakeTransport::new(vec![
            Expect::post(
                URL,
                &form(CLIENT, "https://vault.azure.net/.default", &assertion),
            )
            .reply(
                status,
                "application/json",
                &refusal(error, code, &assertion),
            ),
        ]);
        let err = source
            .get_token(
                &Harness::new().ctx(&fake),
                "https://vault.azure.net",
                &Identity::SystemAssigned,
            )
            .unwrap_err();
        let shown = err.to_string();
        assert!(kind(&err), "AADSTS{code}: {err:?}");
        assert!(shown.contains(says), "AADSTS{code}: {shown}");
        assert!(
            !shown.contains(&assertion),
            "AADSTS{code} shows the assertion: {shown}"
        );
        for piece in assertion.split('.') {
            assert!(
                !shown.contains(piece),
                "AADSTS{code} shows part of the assertion: {shown}"
            );
        }
        fake.assert_done();
    }
}

#[test]
fn throttling_and_outages_are_retried_and_each_retry_reads_the_file() {
    let assertion = jwt(&claims("a"));
    let pod = Pod::new(&assertion);
    let body = form(CLIENT, "https://vault.azure.net/.default", &assertion);
    let fake = FakeTransport::new(vec![
        Expect::post(URL, &body).reply_headers(429, &[("retry-after", "1")], "{}"),
        Expect::post(URL, &body).reply(503, "text/plain", "busy"),
        Expect::post(URL, &body).reply(200, "application/json", TOKEN_REPLY),
    ]);
    pod.source(&[])
        .unwrap()
        .get_token(
            &Harness::new().ctx(&fake),
            "https://vault.azure.net",
            &Identity::SystemAssigned,
        )
        .unwrap();
    fake.assert_done();
}

#[test]
fn aadsts_codes_are_read_from_the_list_or_the_description() {
    assert_eq!(
        entra_error::aadsts_code(br#"{"error_codes":[700024]}"#),
        Some(700024)
    );
    assert_eq!(
        entra_error::aadsts_code(
            br#"{"error_description":"AADSTS70021: No matching federated identity record found"}"#
        ),
        Some(70021)
    );
    assert_eq!(entra_error::aadsts_code(br#"{"error":"x"}"#), None);
    assert_eq!(entra_error::aadsts_code(b"not json"), None);
}
