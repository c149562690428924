use super::*;
use crate::{Emulator, EmulatorConfig, tokens};

fn get(token: Option<&str>) -> http::Request<Bytes> {
    let mut request = http::Request::get("/secrets/mysecret/?api-version=2026-04-01")
        .header("host", "myvault.vault.azure.net")
        .header(
            "x-ms-client-request-id",
            "06adae5a-ec4a-11f1-85ae-ebd171e2b6c6",
        );
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Bytes::new()).unwrap()
}

#[tokio::test]
async fn every_answer_carries_the_service_headers() {
    let emulator = Emulator::start(EmulatorConfig::demo()).await.unwrap();
    let state = &emulator.state;
    let identity = state.config.system_identity.as_ref().unwrap();
    let token = tokens::issue(state, identity, AUDIENCE).token;
    let challenge = handle(state, &get(None));
    let answer = handle(state, &get(Some(&token)));
    assert_eq!(
        (challenge.status().as_u16(), answer.status().as_u16()),
        (401, 200)
    );
    let mut ids = Vec::new();
    for response in [&challenge, &answer] {
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(
            header("x-ms-client-request-id"),
            "06adae5a-ec4a-11f1-85ae-ebd171e2b6c6"
        );
        let id = header("x-ms-request-id");
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        ids.push(id);
        assert_eq!(header("x-ms-keyvault-region"), "emulator");
        assert!(header("strict-transport-security").starts_with("max-age="));
        assert!(
            response
                .headers()
                .contains_key("x-ms-keyvault-service-version")
        );
    }
    assert_ne!(ids[0], ids[1], "each answer has its own request id");
    assert!(challenge.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn the_plaintext_listener_is_the_same_vault_without_tls() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let emulator = Emulator::start(EmulatorConfig {
        vault_plaintext_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..EmulatorConfig::demo()
    })
    .await
    .unwrap();
    assert_eq!(
        Emulator::start(EmulatorConfig::demo())
            .await
            .unwrap()
            .vault_plaintext_addr(),
        None,
        "no plaintext vault unless asked"
    );
    let addr = emulator.vault_plaintext_addr().expect("asked for one");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /secrets/mysecret?api-version=7.4 HTTP/1.1\r\nhost: myvault.vault.azure.net\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer authorization="),
        "{answer}"
    );
    assert_eq!(
        emulator.requests(crate::Service::Vault),
        1,
        "counted as the vault's"
    );
}
