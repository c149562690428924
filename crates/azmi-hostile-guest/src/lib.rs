//! A hostile component for azmi's sandbox tests. It implements the same
//! world as the real one, and `get-token`'s `resource` names what to try:
//!
//! * `read:<path>`, `write:<path>`, `list:<path>`, `stat:<path>`: a
//!   filesystem operation through WASI (the Rust standard library);
//! * `env`: list the environment it was given;
//! * `residue`: report whether this instance's memory holds anything an
//!   earlier call left (a changed initialised static, a dirtied zeroed
//!   one), then dirty both for the next call to find; `residue:twice`
//!   does it twice in one call;
//! * `sleep:<ms>`: block on a host call (a clock) that long;
//! * `spin:<ms>`: run wasm that long; `spin:forever`;
//! * `alloc:<bytes>`: allocate and touch that much memory;
//! * `http:<url>`: a GET through wasi:http; `http-host:<host>|<url>` the
//!   same with a `Host` header of its own choosing;
//! * `fields:<count>:<bytes>`, `requests:<count>:<bytes>`,
//!   `bodies:<count>:<bytes>`: make the host hold memory for it: `count`
//!   header sets of one `bytes`-long value, outgoing requests with a
//!   `bytes`-long path, or outgoing bodies with `bytes` written and never
//!   sent, all kept alive; it stops at `count` (so that a host that never
//!   refuses fails the test instead of the machine);
//! * `message:<bytes>`: fail with an error message that long, over many
//!   lines.
//!
//! `discover-vault` answers with a challenge whose resource is the secret
//! name it was given, so a test can make it name any audience.
//!
//! Success comes back as an access token whose `token` describes what
//! happened; failure as `error::other` with the reason. The tests decide
//! what should have been possible.

mod http;

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

mod bindings {
    wit_bindgen::generate!({
        world: "credential-provider",
        path: "../../wit",
    });
}

use bindings::exports::azmi::identity::credentials::{
    AccessToken, Error, Guest, Identity, Secret, VaultChallenge,
};

struct Component;

fn ok(what: String) -> Result<AccessToken, Error> {
    Ok(AccessToken {
        token: what,
        token_type: "test".into(),
        resource: String::new(),
        expires_on: 0,
        refresh_at: None,
    })
}

fn attempt(command: &str) -> Result<String, String> {
    let (verb, arg) = command.split_once(':').unwrap_or((command, ""));
    match verb {
        "read" => std::fs::read(arg)
            .map(|b| format!("read {} bytes", b.len()))
            .map_err(|e| e.to_string()),
        "write" => std::fs::write(arg, b"written by the hostile guest")
            .map(|()| "wrote".into())
            .map_err(|e| e.to_string()),
        "list" => std::fs::read_dir(arg)
            .map(|entries| {
                let names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                format!("listed {}", names.join(","))
            })
            .map_err(|e| e.to_string()),
        "stat" => std::fs::metadata(arg)
            .map(|m| format!("{} bytes", m.len()))
            .map_err(|e| e.to_string()),
        // Block on a host call (a clock) for this many milliseconds.
        "sleep" => {
            let ms: u64 = arg.parse().map_err(|_| "sleep:<ms>".to_owned())?;
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok("slept".into())
        }
        "spin" if arg == "forever" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        // Burn CPU for this many milliseconds of wall time.
        "spin" => {
            let ms: u64 = arg.parse().map_err(|_| "spin:<ms>".to_owned())?;
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed() < std::time::Duration::from_millis(ms) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            Ok(format!("spun {x}"))
        }
        "alloc" => {
            let bytes: usize = arg.parse().map_err(|_| "alloc:<bytes>".to_owned())?;
            let mut v = vec![0u8; bytes];
            v[bytes.saturating_sub(1)] = 1;
            Ok(format!("allocated {}", std::hint::black_box(v).len()))
        }
        "fields" | "requests" | "bodies" => {
            let (count, bytes) = arg
                .split_once(':')
                .and_then(|(c, b)| Some((c.parse().ok()?, b.parse().ok()?)))
                .ok_or("<what>:<count>:<bytes>")?;
            http::hold(verb, count, bytes)
        }
        "message" => {
            let bytes: usize = arg.parse().map_err(|_| "message:<bytes>".to_owned())?;
            let mut message = "a very long line\n".repeat(bytes / 17 + 1);
            message.truncate(bytes);
            Err(message)
        }
        "http" => http::get(arg, None),
        "post" => http::send(arg, &wasi::http::types::Method::Post, None),
        "http-host" => {
            let (host, url) = arg.split_once('|').ok_or("http-host:<host>|<url>")?;
            http::get(url, Some(host))
        }
        // `residue:twice` checks twice in one call, so the second check
        // must find the first one's writes: the detector works.
        "residue" if arg == "twice" => Ok([residue(), residue()].join("; ")),
        "residue" => Ok(residue()),
        "env" => {
            let mut names: Vec<String> = std::env::vars_os()
                .map(|(k, _)| k.to_string_lossy().into_owned())
                .collect();
            names.sort();
            Ok(names.join(","))
        }
        other => Err(format!("unknown command {other}")),
    }
}

/// A static with a non-zero initial value (the data segment) and a zeroed
/// one spanning several pages (bss). A fresh instance sees both as the
/// image has them, however its memory slot was used before.
static INITIALISED: AtomicU64 = AtomicU64::new(INITIAL);
static ZEROED: [AtomicU8; 256 << 10] = [const { AtomicU8::new(0) }; 256 << 10];
const INITIAL: u64 = 0x5eed;

fn residue() -> String {
    let initialised = INITIALISED.swap(0xd127, Ordering::Relaxed);
    let dirty = ZEROED
        .iter()
        .filter(|b| b.swap(0xa5, Ordering::Relaxed) != 0)
        .count();
    if initialised == INITIAL && dirty == 0 {
        "fresh".into()
    } else {
        format!("residue: initialised static {initialised:#x}, {dirty} dirty bytes")
    }
}

impl Guest for Component {
    fn get_token(resource: String, _identity: Option<Identity>) -> Result<AccessToken, Error> {
        match attempt(&resource) {
            Ok(what) => ok(what),
            Err(why) => Err(Error::Other(why)),
        }
    }

    fn get_secret(
        _: String,
        _: String,
        _: Option<String>,
        _: Option<Identity>,
    ) -> Result<Secret, Error> {
        Err(Error::Other("not a secret reader".into()))
    }

    fn discover_vault(_: String, name: String, _: Option<String>) -> Result<VaultChallenge, Error> {
        Ok(VaultChallenge {
            resource: name,
            tenant: None,
        })
    }

    fn get_secret_with_token(
        _: String,
        _: String,
        _: Option<String>,
        _: String,
    ) -> Result<Secret, Error> {
        Err(Error::Other("not a secret reader".into()))
    }
}

#[cfg(target_arch = "wasm32")]
#[expect(
    unsafe_code,
    reason = "wit-bindgen's generated canonical-ABI export glue"
)]
mod export {
    use super::{Component, bindings};
    bindings::export!(Component with_types_in bindings);
}
