//! A fake transport for native unit tests, matching requests the way the
//! Azure SDK's own tests do: method, URL without query, sorted query pairs,
//! required headers (extra ones allowed). An unexpected request panics.

use std::cell::RefCell;

use crate::transport::{Method, Request, Response, Transport, TransportError};

/// A canned reply: status, headers, body; or a transport failure.
type Reply = Result<(u16, Vec<(String, String)>, String), TransportError>;

pub(crate) struct Expect {
    pub(crate) method: Method,
    /// `scheme://authority/path`.
    pub(crate) url: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<String>,
    pub(crate) reply: Reply,
}

impl Expect {
    pub(crate) fn get(url: &str) -> Expect {
        Expect {
            method: Method::Get,
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            reply: Ok((200, Vec::new(), String::new())),
        }
    }

    pub(crate) fn post(url: &str, body: &str) -> Expect {
        Expect {
            method: Method::Post,
            body: Some(body.into()),
            ..Expect::get(url)
        }
    }

    pub(crate) fn query(mut self, pairs: &[(&str, &str)]) -> Expect {
        self.query = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.query.sort();
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Expect {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn reply(mut self, status: u16, content_type: &str, body: &str) -> Expect {
        self.reply = Ok((
            status,
            vec![("content-type".into(), content_type.into())],
            body.into(),
        ));
        self
    }

    pub(crate) fn reply_headers(
        mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Expect {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.reply = Ok((status, headers, body.into()));
        self
    }

    pub(crate) fn fail(mut self, error: TransportError) -> Expect {
        self.reply = Err(error);
        self
    }
}

/// Replays `Expect`s in order.
#[derive(Default)]
pub(crate) struct FakeTransport {
    expected: RefCell<Vec<Expect>>,
    pub(crate) calls: RefCell<usize>,
}

impl FakeTransport {
    pub(crate) fn new(expected: Vec<Expect>) -> FakeTransport {
        FakeTransport {
            expected: RefCell::new(expected),
            calls: RefCell::new(0),
        }
    }

    pub(crate) fn assert_done(&self) {
        assert!(
            self.expected.borrow().is_empty(),
            "expected requests were not sent"
        );
    }
}

pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("bad escape"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}

impl Transport for FakeTransport {
    fn send(&self, request: &Request) -> Result<Response, TransportError> {
        *self.calls.borrow_mut() += 1;
        let mut expected = self.expected.borrow_mut();
        assert!(!expected.is_empty(), "unexpected request {request:?}");
        let expect = expected.remove(0);
        assert_eq!(request.method, expect.method, "method of {request:?}");
        assert_eq!(request.display_url(), expect.url, "url of {request:?}");
        let mut query: Vec<(String, String)> = request
            .path_and_query
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        query.sort();
        assert_eq!(query, expect.query, "query of {request:?}");
        for (name, value) in &expect.headers {
            let sent = request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name));
            assert_eq!(
                sent.map(|(_, v)| v.as_str()),
                Some(value.as_str()),
                "header {name} of {request:?}"
            );
        }
        let sent_body = request
            .body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned());
        assert_eq!(sent_body, expect.body, "body of {request:?}");
        let (status, headers, body) = expect.reply?;
        Ok(Response {
            status,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n, v.into_bytes()))
                .collect(),
            body: body.into_bytes(),
        })
    }
}

/// A clock for unit tests: sleeping only moves virtual time.
#[derive(Default)]
pub(crate) struct FakeClock {
    now: std::cell::Cell<std::time::Duration>,
    pub(crate) slept: RefCell<Vec<std::time::Duration>>,
}

impl crate::retry::Clock for FakeClock {
    fn elapsed(&self) -> std::time::Duration {
        self.now.get()
    }

    fn sleep(&self, duration: std::time::Duration) {
        self.slept.borrow_mut().push(duration);
        self.now.set(self.now.get() + duration);
    }

    fn jitter(&self) -> f64 {
        0.5
    }
}

/// What a unit test needs to make a `Ctx`: a clock, a cache, a time.
pub(crate) struct Harness {
    pub(crate) clock: FakeClock,
    pub(crate) cache: crate::cache::Cache,
    pub(crate) now: u64,
    pub(crate) policy: crate::retry::Policy,
}

impl Harness {
    pub(crate) fn new() -> Harness {
        Harness {
            clock: FakeClock::default(),
            cache: crate::cache::Cache::default(),
            now: 1_700_000_000,
            policy: crate::retry::Policy::default(),
        }
    }

    /// One attempt only, whatever the status.
    pub(crate) fn no_retries() -> Harness {
        let mut h = Harness::new();
        h.policy.max_retries = 0;
        h.policy.gone_min_total = std::time::Duration::ZERO;
        h
    }

    pub(crate) fn ctx<'a>(&'a mut self, transport: &'a dyn Transport) -> crate::context::Ctx<'a> {
        crate::context::Ctx {
            transport,
            clock: &self.clock,
            policy: self.policy,
            now: self.now,
            cache: &mut self.cache,
        }
    }
}
