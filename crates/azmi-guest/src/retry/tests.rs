use std::cell::{Cell, RefCell};

use super::*;
use crate::error::ServiceError;

/// Virtual time: sleeping advances it, attempts take `per_attempt`.
struct FakeClock {
    now: Cell<Duration>,
    slept: RefCell<Vec<Duration>>,
    per_attempt: Duration,
}

impl FakeClock {
    fn new(per_attempt: Duration) -> FakeClock {
        FakeClock {
            now: Cell::new(Duration::ZERO),
            slept: RefCell::new(Vec::new()),
            per_attempt,
        }
    }
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        self.now.get()
    }
    fn sleep(&self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
        self.now.set(self.now.get() + duration);
    }
    fn jitter(&self) -> f64 {
        0.5
    }
}

fn service(status: u16) -> Failure {
    let error = Error::Service(ServiceError::new(status, String::new(), "m".into(), None));
    Failure {
        error,
        retry: Retry::Yes {
            after: None,
            gone: status == 410,
        },
    }
}

/// Replays statuses; 200 ends.
fn replay(clock: &FakeClock, policy: &Policy, statuses: &[u16]) -> (Result<u32, Error>, usize) {
    let calls = Cell::new(0usize);
    let result = run(clock, policy, |_| {
        let i = calls.get();
        calls.set(i + 1);
        clock.now.set(clock.now.get() + clock.per_attempt);
        match statuses.get(i).copied().unwrap_or(200) {
            200 => Ok(200),
            status => Err(service(status)),
        }
    });
    (result, calls.get())
}

#[test]
fn backs_off_exponentially_with_jitter() {
    let clock = FakeClock::new(Duration::ZERO);
    let (result, calls) = replay(&clock, &Policy::default(), &[500, 503, 429, 200]);
    assert_eq!((result.unwrap(), calls), (200, 4));
    // jitter 0.5 → factor 1.0: 0.8, 1.6, 3.2 s
    assert_eq!(
        *clock.slept.borrow(),
        [
            Duration::from_millis(800),
            Duration::from_millis(1600),
            Duration::from_millis(3200)
        ]
    );
}

#[test]
fn gives_up_after_max_retries_saying_so() {
    let clock = FakeClock::new(Duration::ZERO);
    let (result, calls) = replay(&clock, &Policy::default(), &[500; 10]);
    assert_eq!(calls, 6, "one attempt and five retries");
    let Err(Error::Service(e)) = result else {
        panic!("{result:?}")
    };
    assert!(
        e.message.ends_with("(after 6 attempts; retries exhausted)"),
        "{}",
        e.message
    );
}

#[test]
fn after_410_keeps_trying_for_seventy_seconds() {
    let clock = FakeClock::new(Duration::from_millis(100));
    let (result, calls) = replay(&clock, &Policy::default(), &[410; 100]);
    assert!(result.is_err());
    assert!(
        clock.now.get() >= Duration::from_secs(70),
        "gave up at {:?}",
        clock.now.get()
    );
    assert!(calls > 6, "more than the normal retry count: {calls}");
    let (result, _) = replay(
        &FakeClock::new(Duration::ZERO),
        &Policy::default(),
        &[410, 410, 200],
    );
    assert_eq!(result.unwrap(), 200);
}

#[test]
fn retry_after_is_honoured_and_capped() {
    let clock = FakeClock::new(Duration::ZERO);
    let policy = Policy::default();
    let mut first = true;
    let result = run(&clock, &policy, |_| {
        if std::mem::take(&mut first) {
            let mut f = service(429);
            f.retry = Retry::Yes {
                after: Some(Duration::from_secs(7)),
                gone: false,
            };
            return Err(f);
        }
        Ok(())
    });
    result.unwrap();
    assert_eq!(*clock.slept.borrow(), [Duration::from_secs(7)]);

    let clock = FakeClock::new(Duration::ZERO);
    let mut first = true;
    run(&clock, &policy, |_| {
        if std::mem::take(&mut first) {
            let mut f = service(503);
            f.retry = Retry::Yes {
                after: Some(Duration::from_secs(3600)),
                gone: false,
            };
            return Err(f);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(*clock.slept.borrow(), [Duration::from_secs(60)], "capped");
}

#[test]
fn never_waits_past_the_deadline() {
    let clock = FakeClock::new(Duration::from_secs(1));
    let policy = Policy {
        deadline: Duration::from_secs(5),
        ..Policy::default()
    };
    let (result, calls) = replay(&clock, &policy, &[410; 100]);
    let Err(Error::Service(e)) = result else {
        panic!("{result:?}")
    };
    assert!(
        e.message.contains("the next retry would pass the deadline"),
        "{}",
        e.message
    );
    // The last wait ended before the deadline; only the attempt after it
    // (whose own deadlines are cut to what remains) may end later.
    let slept: Duration = clock.slept.borrow().iter().sum();
    assert!(
        slept + Duration::from_secs(calls as u64 - 1) < Duration::from_secs(5),
        "{slept:?}"
    );
    assert!(calls >= 2);
}

#[test]
fn scale_shrinks_every_wait_but_not_the_410_floor() {
    let clock = FakeClock::new(Duration::ZERO);
    let policy = Policy {
        scale: 0.001,
        ..Policy::default()
    };
    let (result, calls) = replay(&clock, &policy, &[410; 1000]);
    assert!(result.is_err());
    // 70 s of service time is 70 ms of test time.
    assert!(
        clock.now.get() >= Duration::from_millis(70) && clock.now.get() < Duration::from_secs(1),
        "{:?}",
        clock.now.get()
    );
    assert!(calls > 6);
}

#[test]
fn no_retry_for_final_failures() {
    let clock = FakeClock::new(Duration::ZERO);
    let calls = Cell::new(0);
    let result: Result<(), _> = run(&clock, &Policy::default(), |_| {
        calls.set(calls.get() + 1);
        Err(Failure::from(Error::Unavailable("nothing there".into())))
    });
    assert_eq!(
        result.unwrap_err(),
        Error::Unavailable("nothing there".into()),
        "no note for one attempt"
    );
    assert_eq!(calls.get(), 1);
}

#[test]
fn statuses_per_peer() {
    let response = |status: u16, headers: &[(&str, &str)]| Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: Vec::new(),
    };
    assert_eq!(
        retry_for(Peer::Imds, &response(404, &[])),
        Retry::Yes {
            after: None,
            gone: false
        }
    );
    assert_eq!(
        retry_for(Peer::Imds, &response(410, &[])),
        Retry::Yes {
            after: None,
            gone: true
        }
    );
    assert_eq!(retry_for(Peer::Imds, &response(400, &[])), Retry::No);
    assert_eq!(
        retry_for(Peer::ServiceFabric, &response(404, &[])),
        Retry::No
    );
    assert_eq!(retry_for(Peer::Platform, &response(501, &[])), Retry::No);
    assert_eq!(
        retry_for(Peer::Vault, &response(501, &[])),
        Retry::Yes {
            after: None,
            gone: false
        }
    );
    assert_eq!(retry_for(Peer::Vault, &response(403, &[])), Retry::No);
    assert_eq!(
        retry_for(Peer::Vault, &response(429, &[("retry-after", "2")])),
        Retry::Yes {
            after: Some(Duration::from_secs(2)),
            gone: false
        }
    );
    assert_eq!(
        retry_for(
            Peer::Platform,
            &response(503, &[("retry-after-ms", "1500")])
        ),
        Retry::Yes {
            after: Some(Duration::from_millis(1500)),
            gone: false
        }
    );
}

#[test]
fn extreme_settings_never_panic() {
    // "No limit" spelled as the largest durations, and the smallest scale:
    // every wait saturates, and the deadline still decides.
    let policy = Policy {
        max_retries: u32::MAX,
        base_delay: Duration::MAX,
        max_delay: Duration::MAX,
        gone_min_total: Duration::MAX,
        retry_after_cap: Duration::MAX,
        deadline: Duration::from_secs(90),
        scale: f64::MIN_POSITIVE,
    };
    let clock = FakeClock::new(Duration::from_millis(1));
    let (result, calls) = replay(&clock, &policy, &[410, 500, 200]);
    assert_eq!((result.unwrap(), calls), (200, 3));
    let policy = Policy {
        scale: 1.0,
        deadline: Duration::MAX,
        ..policy
    };
    let (result, calls) = replay(&clock, &policy, &[500, 200]);
    let Err(Error::Service(e)) = result else {
        panic!("{result:?}")
    };
    // A wait of "forever" passes any deadline: the first error stands.
    assert_eq!((calls, e.status), (1, 500));
    let parsed = Policy::parse(&format!(
        "max_delay_ms={},deadline_ms={}",
        u64::MAX,
        u64::MAX
    ))
    .unwrap();
    assert_eq!(parsed.max_delay, Duration::from_millis(u64::MAX));
}
