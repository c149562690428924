//! The broker under a failing upstream, hostile or slow clients, too many
//! connections, a stop signal, and bad start-up input.

use std::time::{Duration, Instant};

use azmi_emulator::{Fault, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Answer, Broker, TENANTS, signal};
use crate::support::{azmi, emulator, fresh_resource};

/// A broker with no configuration (IMDS mode allows everything the
/// machine's identity has) and these flags.
async fn transparent(emulator: &azmi_emulator::Emulator, flags: &[&str]) -> Broker {
    let mut args = vec!["-v", "serve"];
    args.extend_from_slice(flags);
    Broker::spawn(emulator, &args, tempfile::tempdir().unwrap()).await
}

#[tokio::test]
async fn a_429_is_honoured_for_every_caller_not_retried_by_each() {
    let emulator = emulator().await;
    emulator.inject(Service::Imds, (0..20).map(|_| Fault::RetryAfter(429, 30)));
    let broker = std::sync::Arc::new(transparent(&emulator, &["--timeout", "2"]).await);
    let started = Instant::now();
    // The first caller meets the 429; its Retry-After is past its deadline.
    let first = broker.imds(&fresh_resource()).await;
    assert_eq!(first.status, 429, "{}", first.body);
    assert_eq!(emulator.imds_requests(), 1);
    // Ten more callers, each for another audience, while the endpoint is
    // throttling: each is answered 429 without a request upstream.
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let broker = broker.clone();
        callers.spawn(async move { broker.imds(&fresh_resource()).await });
    }
    while let Some(answer) = callers.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, 429, "{}", answer.body);
        let wait: u64 = answer
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!(wait >= 1);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        emulator.imds_requests(),
        1,
        "the 429 was honoured for everyone"
    );
    let metrics = broker.metrics().await;
    assert!(
        metrics.contains("azmi_upstream_throttled_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("azmi_upstream_held_back_total 10\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn upstream_failures_are_protocol_errors_within_the_deadline_and_the_broker_lives_on() {
    for (fault, status, health) in [
        (Fault::Status(500), 500, 200),
        (Fault::Status(410), 410, 200),
        (Fault::Hang, 504, 503),
    ] {
        let emulator = emulator().await;
        emulator.inject(Service::Imds, vec![fault.clone(); 30]);
        let broker = transparent(&emulator, &["--timeout", "3"]).await;
        let started = Instant::now();
        let answer = broker.imds(&fresh_resource()).await;
        let took = started.elapsed();
        assert_eq!(answer.status, status, "{fault:?}: {}", answer.body);
        assert!(took < Duration::from_secs(5), "{fault:?} took {took:?}");
        assert!(answer.json()["error_description"].is_string());
        // Still serving; a hang leaves the upstream unreachable at the
        // last attempt, which health reports.
        let answer = broker.get("/healthz", &[]).await;
        assert_eq!(answer.status, health, "{fault:?}: {}", answer.body);
        let (exit, stderr) = broker.terminate().await;
        assert!(exit.success(), "{stderr}");
    }
}

#[tokio::test]
async fn sigterm_lets_the_requests_in_flight_finish_then_exits_0() {
    let emulator = emulator().await;
    let broker = transparent(&emulator, &[]).await;
    emulator.inject(
        Service::Imds,
        (0..3).map(|_| Fault::Delay(Duration::from_millis(1500))),
    );
    let addr = broker.addr.clone();
    let requests: Vec<_> = (0..3)
        .map(|_| {
            let resource = fresh_resource();
            let addr = addr.clone();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(&addr).await.unwrap();
                let request = format!(
                    "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource} HTTP/1.1\r\nhost: {addr}\r\nmetadata: true\r\n\r\n"
                );
                stream.write_all(request.as_bytes()).await.unwrap();
                let mut text = Vec::new();
                stream.read_to_end(&mut text).await.unwrap();
                Answer::parse(&String::from_utf8_lossy(&text))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    signal(&broker.child, "TERM");
    for request in requests {
        let answer = request.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let (status, stderr) = broker.terminate().await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        TcpStream::connect(&addr).await.is_err(),
        "nothing listens after the stop"
    );
}

#[tokio::test]
async fn connections_are_bounded_kept_alive_and_timed_out() {
    let emulator = emulator().await;
    let broker = transparent(
        &emulator,
        &["--max-connections", "2", "--client-timeout", "1"],
    )
    .await;

    // Keep-alive: two requests on one connection.
    let mut kept = TcpStream::connect(&broker.addr).await.unwrap();
    for _ in 0..2 {
        kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let head = azmi_testkit::raw::read_response(&mut kept, Duration::from_secs(10)).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // A second connection that never sends a byte; a third is refused.
    let idle = TcpStream::connect(&broker.addr).await.unwrap();
    let refused = broker.get("/healthz", &[]).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Both are closed by the broker once the client timeout passes.
    for mut stream in [kept, idle] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("the broker closed the idle connection within the client timeout");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
    // A client that trickles its head is cut off too.
    let mut slow = TcpStream::connect(&broker.addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut closed = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if slow.write_all(b"x-a: b\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), slow.read(&mut buf)).await
        {
            closed = true;
            assert!(
                n == 0 || buf.starts_with(b"HTTP/1.1 408"),
                "{:?}",
                &buf[..n]
            );
            break;
        }
    }
    assert!(closed, "a trickling client kept its connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Then the slots are free again.
    assert_eq!(broker.get("/healthz", &[]).await.status, 200);
}

#[tokio::test]
async fn listen_addresses_and_the_configuration_are_checked_at_start() {
    for addr in ["0.0.0.0:0", "10.1.2.3:8080", "[::]:0"] {
        let output = azmi(&["serve", "--listen", addr], &[]).await;
        let line = azmi_testkit::cli::assert_failure(&output, 2, "usage:");
        assert!(
            line.contains(&format!("--listen {addr}")) && line.contains("loopback"),
            "{line}"
        );
    }
    // Pointed at itself, every request would wait for itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let output = azmi(
        &[
            "serve",
            "--listen",
            &addr,
            "--imds-endpoint",
            &format!("http://{addr}"),
        ],
        &[],
    )
    .await;
    let line = azmi_testkit::cli::assert_failure(&output, 2, "usage:");
    assert!(line.contains("is this broker itself"), "{line}");
    let dir = tempfile::tempdir().unwrap();
    let path = super::write_config(
        dir.path(),
        "[[tenant]]\nname = \"a\"\nkey_file = \"none.key\"\n",
    );
    let output = azmi(&["serve", "--config", path.to_str().unwrap()], &[]).await;
    let line = azmi_testkit::cli::assert_failure(&output, 2, "usage:");
    assert!(
        line.contains(&format!(
            "{}:3:12: cannot read the key file",
            path.display()
        )),
        "{line}"
    );
}

#[tokio::test]
async fn every_listener_prints_its_line_with_the_real_port() {
    let emulator = emulator().await;
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    let mut flags = vec!["--listen", "127.0.0.1:0"];
    if ipv6 {
        flags.extend(["--listen", "[::1]:0"]);
    }
    let broker = Broker::start(&emulator, TENANTS, &flags).await;
    let listening: Vec<&String> = broker
        .printed
        .iter()
        .filter(|l| l.starts_with("azmi serve: listening on http://"))
        .collect();
    assert_eq!(listening.len(), flags.len() / 2, "{:?}", broker.printed);
    assert!(listening[0].starts_with("azmi serve: listening on http://127.0.0.1:"));
    assert!(!listening[0].ends_with(":0"));
    if ipv6 {
        let line = listening[1];
        assert!(
            line.starts_with("azmi serve: listening on http://[::1]:") && !line.ends_with(":0"),
            "{line}"
        );
        let port = line.rsplit(':').next().unwrap();
        let mut stream = TcpStream::connect(format!("[::1]:{port}")).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    }
    let exported = format!(
        "export AZURE_POD_IDENTITY_AUTHORITY_HOST=http://{}",
        broker.addr
    );
    assert!(broker.printed.contains(&exported), "{:?}", broker.printed);
}

#[tokio::test]
async fn a_client_that_reads_no_answer_loses_its_slot() {
    let emulator = emulator().await;
    let broker = transparent(
        &emulator,
        &["--max-connections", "1", "--client-timeout", "1"],
    )
    .await;
    // Pipelined requests for the metrics, never read: the socket's buffers
    // fill and the broker's writes stall.
    let mut greedy = TcpStream::connect(&broker.addr).await.unwrap();
    let request = b"GET /metrics HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".repeat(2000);
    let writing = tokio::spawn(async move {
        let _ = greedy.write_all(&request).await;
        greedy
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    loop {
        let answer = broker.get("/healthz", &[]).await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the greedy client kept its slot"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writing.abort();
}

#[tokio::test]
async fn requests_addressed_to_another_host_are_refused() {
    let emulator = emulator().await;
    let broker = transparent(&emulator, &[]).await;
    let path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net";
    let ask = |host: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nhost: {host}\r\nmetadata: true\r\nconnection: close\r\n\r\n"
        )
    };
    for host in [
        "attacker.example",
        "attacker.example:8181",
        "10.0.0.1",
        "127.0.0.1.attacker.example",
    ] {
        let answer = broker.raw(ask(host).as_bytes()).await;
        assert_eq!(answer.status, 400, "{host}: {}", answer.body);
    }
    let absolute = format!(
        "GET http://attacker.example{path} HTTP/1.1\r\nhost: 127.0.0.1\r\nmetadata: true\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(broker.raw(absolute.as_bytes()).await.status, 400);
    assert_eq!(emulator.imds_requests(), 0);
    for host in ["localhost", "127.0.0.1", "[::1]:8181", "LOCALHOST:1"] {
        let answer = broker.raw(ask(host).as_bytes()).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.body);
    }
    assert_eq!(emulator.imds_requests(), 1);
}
