//! Load on `azmi serve`, the release binary, against the in-process
//! emulator (loopback only):
//!
//! 1. hits: `--clients` keep-alive connections, each sending `--requests`
//!    IMDS-mode token requests for one cached token, one after another;
//!    the rate and the latency percentiles;
//! 2. cold start: `--cold-start` clients at once, each on its own
//!    connection, for a token nobody has fetched; the identity endpoint's
//!    request count and the time until the last is served;
//! 3. soak: `--soak-rounds` rounds of the hits load mixed with refusals
//!    (a wrong key, a missing `Metadata` header, a query naming two
//!    identities) and a new connection per request for a share of them,
//!    while eight callers a round ask for tokens the emulator issues for a
//!    minute (so never cached: every round reaches the upstream), with a
//!    500, a 429, a 410 and a hang among the upstream's answers; the
//!    broker's resident memory is sampled after each round.
//!
//! ```sh
//! cargo build --release -p azmi-cli
//! cargo run --release -p azmi-cli --example serve-load -- --clients 64 --requests 1000 --cold-start 200 --soak-rounds 20
//! ```

use std::process::Stdio;
use std::time::{Duration, Instant};

use azmi_emulator::{Emulator, EmulatorConfig, Fault, Service};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Options {
    azmi: String,
    clients: usize,
    requests: usize,
    cold_start: usize,
    soak_rounds: usize,
}

fn options() -> Options {
    let mut options = Options {
        azmi: concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/azmi").into(),
        clients: 64,
        requests: 1000,
        cold_start: 200,
        soak_rounds: 20,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or_default();
        let number = || value.parse::<usize>().expect("a number");
        match pair[0].as_str() {
            "--azmi" => options.azmi = value.into(),
            "--clients" => options.clients = number(),
            "--requests" => options.requests = number(),
            "--cold-start" => options.cold_start = number(),
            "--soak-rounds" => options.soak_rounds = number(),
            other => panic!("unknown flag {other}; see the example's documentation"),
        }
    }
    options
}

#[tokio::main]
async fn main() {
    let options = options();
    let emulator = Emulator::start(EmulatorConfig::demo())
        .await
        .expect("the emulator starts");
    // Without a configuration: IMDS mode, everything the identity has.
    let mut child = tokio::process::Command::new(&options.azmi)
        // A short deadline, so that a round's hung upstream request ends soon.
        .args(["serve", "--max-connections", "4096", "--timeout", "3"])
        .env_clear()
        .env(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            emulator.imds_endpoint(),
        )
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); build it with cargo build --release -p azmi-cli",
                options.azmi
            )
        });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a listen line");
    let addr = first
        .strip_prefix("azmi serve: listening on http://")
        .expect("a listen line")
        .to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().unwrap();
    println!(
        "azmi serve (pid {pid}) on {addr}; RSS at start {:.1} MiB",
        rss_mib(pid)
    );

    // 1. Hits.
    let warm = request(&addr, "https://vault.azure.net", true).await;
    assert!(warm.starts_with("HTTP/1.1 200"), "{warm}");
    let (latencies, elapsed) = hits(&addr, options.clients, options.requests, false).await;
    report_hits("hits", &latencies, elapsed, options.clients);

    // 2. Cold start, through the broker and, as the anchor, each client
    // asking the identity endpoint itself as SDK processes do alone (the
    // emulator never throttles; real IMDS answers 429 past 20 requests a
    // second).
    let imds = emulator
        .imds_endpoint()
        .strip_prefix("http://")
        .expect("an http endpoint")
        .to_owned();
    for (name, target) in [("through the broker", &addr), ("each client alone", &imds)] {
        let before = emulator.imds_requests();
        let elapsed = all_at_once(target, options.cold_start, "https://storage.azure.com").await;
        let requests = emulator.imds_requests() - before;
        println!(
            "cold start {name}: {} clients at once, {requests} identity-endpoint request(s), the last served after {:.1} ms; at IMDS's documented 20 requests/s, {requests} requests take {:.2} s at least",
            options.cold_start,
            elapsed.as_secs_f64() * 1e3,
            requests as f64 / 20.0
        );
    }

    // 3. Soak.
    let mut samples = Vec::new();
    let mut statuses = std::collections::BTreeMap::<String, u64>::new();
    for round in 1..=options.soak_rounds {
        emulator.inject(
            Service::Imds,
            [
                Fault::Status(500),
                Fault::RetryAfter(429, 1),
                Fault::Status(410),
                Fault::Hang,
            ]
            .into_iter()
            .chain((0..8).map(|_| Fault::Lifetime {
                seconds: 60,
                refresh_in: None,
            })),
        );
        let mut upstream = tokio::task::JoinSet::new();
        for k in 0..8 {
            let addr = addr.clone();
            upstream.spawn(async move {
                request(&addr, &format!("https://soak-{k}.example"), true).await
            });
        }
        let (latencies, elapsed) = hits(&addr, options.clients, options.requests / 4, true).await;
        while let Some(answer) = upstream.join_next().await {
            let answer = answer.unwrap();
            let status = answer.get(9..12).unwrap_or("???").to_owned();
            *statuses.entry(status).or_default() += 1;
        }
        let rss = rss_mib(pid);
        samples.push(rss);
        println!(
            "soak round {round}: {} requests in {:.2} s, p99 {:.2} ms, RSS {rss:.1} MiB; upstream callers so far by status: {statuses:?}",
            latencies.len(),
            elapsed.as_secs_f64(),
            percentile(&latencies, 99.0)
        );
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let max = samples.iter().copied().fold(f64::MIN, f64::max);
        println!(
            "soak: RSS {first:.1} MiB after round 1, {last:.1} MiB after the last, at most {max:.1} MiB"
        );
    }
    child.start_kill().ok();
}

/// `clients` requests for `resource` at once, each on its own connection;
/// how long until the last was answered (each a token).
async fn all_at_once(addr: &str, clients: usize, resource: &str) -> Duration {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let addr = addr.to_owned();
        let resource = resource.to_owned();
        set.spawn(async move { request(&addr, &resource, true).await });
    }
    while let Some(answer) = set.join_next().await {
        let answer = answer.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    started.elapsed()
}

/// `clients` keep-alive connections, each sending `requests` token
/// requests one after another; with `mixed`, every fourth is a refusal and
/// every tenth goes on a new connection.
async fn hits(
    addr: &str,
    clients: usize,
    requests: usize,
    mixed: bool,
) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for client in 0..clients {
        let addr = addr.to_owned();
        set.spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let mut latencies = Vec::with_capacity(requests);
            for i in 0..requests {
                let t = Instant::now();
                if mixed && (client + i) % 10 == 0 {
                    let answer = request(&addr, "https://vault.azure.net", true).await;
                    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
                } else {
                    let refusal = mixed && i % 4 == 0;
                    let text = match (refusal, i % 3) {
                        (true, 0) => "GET /msi/token?api-version=2019-08-01&resource=x HTTP/1.1\r\nhost: 127.0.0.1\r\nx-identity-header: not-a-key-0123456789\r\n\r\n".to_owned(),
                        (true, 1) => "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".to_owned(),
                        (true, _) => "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=x&client_id=a&object_id=b HTTP/1.1\r\nhost: 127.0.0.1\r\nmetadata: true\r\n\r\n".to_owned(),
                        (false, _) => token_request("https://vault.azure.net", false),
                    };
                    stream.write_all(text.as_bytes()).await.unwrap();
                    let head = azmi_testkit::raw::read_response(&mut stream, Duration::from_secs(30)).await;
                    let expected = if refusal { "HTTP/1.1 40" } else { "HTTP/1.1 200" };
                    assert!(head.starts_with(expected), "{head}");
                }
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let mut all = Vec::with_capacity(clients * requests);
    while let Some(latencies) = set.join_next().await {
        all.extend(latencies.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    (all, elapsed)
}

fn report_hits(name: &str, latencies: &[Duration], elapsed: Duration, clients: usize) {
    println!(
        "{name}: {} requests from {clients} keep-alive clients in {:.2} s: {:.0} requests/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(latencies, 50.0),
        percentile(latencies, 99.0),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
}

/// The `p`th percentile of sorted `latencies`, in milliseconds.
fn percentile(latencies: &[Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let index = ((latencies.len() - 1) as f64 * p / 100.0).round() as usize;
    latencies[index].as_secs_f64() * 1e3
}

fn token_request(resource: &str, close: bool) -> String {
    format!(
        "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource} HTTP/1.1\r\nhost: 127.0.0.1\r\nmetadata: true\r\n{}\r\n",
        if close { "connection: close\r\n" } else { "" }
    )
}

/// One request on a connection of its own; the response's head.
async fn request(addr: &str, resource: &str, close: bool) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(token_request(resource, close).as_bytes())
        .await
        .unwrap();
    let mut text = Vec::new();
    stream.read_to_end(&mut text).await.unwrap();
    String::from_utf8_lossy(&text).into_owned()
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}
