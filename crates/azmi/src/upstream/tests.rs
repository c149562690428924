//! The gate on a paused clock: when each request goes, which are answered
//! by the gate, and what is counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use wasmtime_wasi_http::{Error, WasiBody};

use super::{Sent, UpstreamGate, UpstreamLimit, UpstreamStats};

const ENDPOINT: &str = "http://127.0.0.1:1";

fn answer(status: u16, retry_after: Option<&str>) -> Result<Sent, Error> {
    let mut response: http::Response<WasiBody> = http::Response::new(
        Full::new(Bytes::new())
            .map_err(|never: std::convert::Infallible| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = http::StatusCode::from_u16(status).expect("a status");
    if let Some(value) = retry_after {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_str(value).expect("a header value"),
        );
    }
    let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
    Ok((response, io))
}

/// Sends one request through the gate that answers `status` (counting
/// the requests that really went), and returns the status the caller got
/// and how long after `t0` the request went (if it did).
async fn send(
    gate: Arc<UpstreamGate>,
    t0: Instant,
    deadline: Duration,
    status: u16,
    retry_after: Option<&str>,
    sent: Arc<AtomicU32>,
) -> (u16, Option<Duration>) {
    let went = Arc::new(std::sync::Mutex::new(None));
    let request = {
        let went = went.clone();
        let sent = sent.clone();
        async move {
            *went.lock().unwrap() = Some(t0.elapsed());
            sent.fetch_add(1, Ordering::Relaxed);
            answer(status, retry_after)
        }
    };
    let (response, _io) = gate
        .send(ENDPOINT, Instant::now() + deadline, request)
        .await
        .expect("an answer");
    let went = *went.lock().unwrap();
    (response.status().as_u16(), went)
}

fn gate(per_second: u32, concurrent: u32) -> Arc<UpstreamGate> {
    Arc::new(UpstreamGate::new(
        UpstreamLimit::default()
            .per_second(per_second)
            .concurrent(concurrent),
    ))
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_the_rate_wait_for_their_turn() {
    let gate = gate(2, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..5 {
        calls.spawn(send(
            gate.clone(),
            t0,
            Duration::from_secs(30),
            200,
            None,
            sent.clone(),
        ));
    }
    let mut went = Vec::new();
    while let Some(joined) = calls.join_next().await {
        let (status, at) = joined.expect("the call ran");
        assert_eq!(status, 200);
        went.push(at.expect("sent"));
    }
    went.sort();
    // A burst of 2, then one every 500 ms.
    let ms: Vec<u128> = went.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 0, 500, 1000, 1500]);
    assert_eq!(gate.stats().requests, 5);
}

#[tokio::test(start_paused = true)]
async fn a_request_whose_turn_is_after_its_deadline_is_answered_429_without_being_sent() {
    let gate = gate(1, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    assert_eq!(
        send(
            gate.clone(),
            t0,
            Duration::from_secs(30),
            200,
            None,
            sent.clone()
        )
        .await,
        (200, Some(Duration::ZERO))
    );
    // The next turn is in 1 s; a call with 1.2 s left must answer 0.5 s
    // before its end, so it cannot wait.
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_millis(1200),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (429, None));
    assert_eq!(sent.load(Ordering::Relaxed), 1);
    // Nothing was reserved for it: the next caller that can wait gets the turn.
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (200, Some(Duration::from_secs(1))));
    let stats = gate.stats();
    assert_eq!((stats.requests, stats.held_back), (2, 1));
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_every_later_request_back_for_its_retry_after() {
    // No limit of its own: only the endpoint's 429 paces.
    let gate = gate(0, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    assert_eq!(
        send(
            gate.clone(),
            t0,
            Duration::from_secs(30),
            429,
            Some("3"),
            sent.clone()
        )
        .await
        .0,
        429
    );
    // A caller that cannot wait 3 s is answered by the gate; one that can
    // goes when the 3 s have passed.
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_secs(2),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (429, None));
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (200, Some(Duration::from_secs(3))));
    assert_eq!(
        gate.stats(),
        UpstreamStats {
            requests: 2,
            errors: 1,
            throttled: 1,
            held_back: 1,
            reachable: Some(true),
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_is_honoured_for_at_most_a_minute() {
    let gate = gate(0, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        429,
        Some("86400"),
        sent.clone(),
    )
    .await;
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_secs(120),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (200, Some(Duration::from_secs(60))));
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_the_concurrency_wait_for_one_to_finish() {
    let gate = gate(0, 1);
    let t0 = Instant::now();
    let slow = |gate: Arc<UpstreamGate>| async move {
        let went = Arc::new(std::sync::Mutex::new(None));
        let at = went.clone();
        let request = async move {
            *at.lock().unwrap() = Some(t0.elapsed());
            tokio::time::sleep(Duration::from_secs(2)).await;
            answer(200, None)
        };
        let result = gate
            .send(ENDPOINT, Instant::now() + Duration::from_secs(30), request)
            .await;
        assert!(result.is_ok());
        let went = *went.lock().unwrap();
        went.expect("sent")
    };
    let (a, b) = tokio::join!(slow(gate.clone()), slow(gate.clone()));
    let mut went = [a, b];
    went.sort();
    assert_eq!(went, [Duration::ZERO, Duration::from_secs(2)]);
}

#[tokio::test(start_paused = true)]
async fn failures_and_reachability_are_counted() {
    let gate = gate(0, 0);
    assert_eq!(gate.stats().reachable, None);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        500,
        None,
        sent.clone(),
    )
    .await;
    send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        400,
        None,
        sent.clone(),
    )
    .await;
    let failed = gate
        .clone()
        .send(ENDPOINT, Instant::now() + Duration::from_secs(30), async {
            Err(Error::ConnectionRefused)
        })
        .await;
    assert!(failed.is_err());
    let stats = gate.stats();
    // 400 is an answer (an identity the endpoint does not have), not a failure.
    assert_eq!((stats.requests, stats.errors), (3, 2));
    assert_eq!(stats.reachable, Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_may_go_now_goes_however_little_of_its_call_is_left() {
    let gate = gate(5, 5);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    // Inside the margin the gate keeps before a deadline, but no wait is needed.
    let (status, went) = send(
        gate.clone(),
        t0,
        Duration::from_millis(100),
        200,
        None,
        sent.clone(),
    )
    .await;
    assert_eq!((status, went), (200, Some(Duration::ZERO)));
}

#[tokio::test(start_paused = true)]
async fn one_endpoint_s_429_does_not_hold_another_back() {
    let gate = gate(0, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        429,
        Some("30"),
        sent.clone(),
    )
    .await;
    let other = gate
        .clone()
        .send(
            "http://127.0.0.1:2",
            Instant::now() + Duration::from_secs(5),
            async { answer(200, None) },
        )
        .await
        .expect("an answer");
    assert_eq!(other.0.status(), 200);
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(gate.stats().held_back, 0);
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_back_requests_already_queued_and_its_end_lets_only_the_burst_through() {
    let gate = gate(1, 0);
    let sent = Arc::new(AtomicU32::new(0));
    let t0 = Instant::now();
    // The first goes at once and is throttled for 10 s; three more were
    // queued behind it at the rate (1 s, 2 s, 3 s) and must wait the hold out.
    let first = tokio::spawn(send(
        gate.clone(),
        t0,
        Duration::from_secs(60),
        429,
        Some("10"),
        sent.clone(),
    ));
    tokio::task::yield_now().await;
    let mut queued = tokio::task::JoinSet::new();
    for _ in 0..3 {
        queued.spawn(send(
            gate.clone(),
            t0,
            Duration::from_secs(60),
            200,
            None,
            sent.clone(),
        ));
    }
    assert_eq!(first.await.unwrap().0, 429);
    let mut went = Vec::new();
    while let Some(joined) = queued.join_next().await {
        went.push(joined.unwrap().1.expect("sent").as_secs());
    }
    went.sort();
    // Nothing during the hold; after it, one a second (a burst of 1).
    assert!(went.iter().all(|s| *s >= 10), "{went:?}");
    assert_eq!(
        went.windows(2).filter(|w| w[0] == w[1]).count(),
        0,
        "{went:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_before_its_answer_counts_the_endpoint_unreachable() {
    let gate = gate(0, 0);
    let sent = Arc::new(AtomicU32::new(0));
    send(
        gate.clone(),
        Instant::now(),
        Duration::from_secs(30),
        200,
        None,
        sent,
    )
    .await;
    assert_eq!(gate.stats().reachable, Some(true));
    let hanging = |deadline: Duration| {
        gate.clone().send(
            ENDPOINT,
            Instant::now() + deadline,
            std::future::pending::<Result<Sent, Error>>(),
        )
    };
    // A caller that gives up before its deadline says nothing of the endpoint.
    let given_up = tokio::time::timeout(Duration::from_secs(1), hanging(Duration::from_secs(30)));
    assert!(given_up.await.is_err());
    let stats = gate.stats();
    assert_eq!(
        (stats.requests, stats.errors, stats.reachable),
        (2, 0, Some(true))
    );
    // The call's deadline drops the request while the endpoint hangs.
    let timed_out = tokio::time::timeout(Duration::from_secs(2), hanging(Duration::from_secs(2)));
    assert!(timed_out.await.is_err());
    let stats = gate.stats();
    assert_eq!((stats.requests, stats.errors), (3, 1));
    assert_eq!(stats.reachable, Some(false));
}

#[tokio::test(start_paused = true)]
async fn a_request_holds_its_slot_until_its_body_is_done_with() {
    let gate = gate(0, 1);
    let t0 = Instant::now();
    let sent = Arc::new(AtomicU32::new(0));
    let (first, _io) = gate
        .clone()
        .send(ENDPOINT, t0 + Duration::from_secs(30), async {
            answer(200, None)
        })
        .await
        .expect("an answer");
    let second = tokio::spawn(send(
        gate.clone(),
        t0,
        Duration::from_secs(30),
        200,
        None,
        sent.clone(),
    ));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sent.load(Ordering::Relaxed), 0, "the first body is unread");
    drop(first);
    let (status, went) = second.await.expect("the second call");
    assert_eq!((status, went), (200, Some(Duration::from_secs(3))));
}

/// Not a timing: a request the gate may send at once must not wait for
/// the timer's next tick (a millisecond, which was most of an uncached
/// call's cost), so it is sent, and answered, at the first poll.
#[tokio::test]
async fn a_request_that_may_go_now_is_sent_at_the_first_poll() {
    for gate in [gate(0, 0), gate(5, 5)] {
        let mut send = std::pin::pin!(gate.send(
            ENDPOINT,
            Instant::now() + Duration::from_secs(30),
            async { answer(200, None) }
        ));
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(send.as_mut().poll(cx))).await;
        assert!(first.is_ready(), "the request waited for a timer");
    }
}
