//! Azure Arc against hostile agents: every challenge that names a file it
//! should not, or is malformed, ends in a clear error before the file is
//! read (the agent sees no second request).

use azmi_testkit::assert_error;
use std::path::Path;

use azmi::{Error, Identity, Source};
use azmi_emulator::{ArcBehavior, Emulator, EmulatorConfig, Service};

use crate::support::{credential, emulator_with, fresh_resource};

const DIR: &str = azmi::ARC_TOKEN_DIR;

async fn arc_agent(behavior: ArcBehavior) -> Emulator {
    emulator_with(EmulatorConfig {
        arc: behavior,
        ..EmulatorConfig::demo()
    })
    .await
}

async fn token(emulator: &Emulator) -> Result<azmi::AccessToken, Error> {
    let config = emulator
        .config_builder_for(Source::Arc)
        .unwrap()
        .build()
        .unwrap();
    credential(config)
        .get_token(&fresh_resource(), &Identity::SystemAssigned)
        .await
}

/// Files the hostile realms point at, inside the agent's directory; returns
/// the file outside it that a symbolic link points to.
fn plant(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("big.key"), vec![b'k'; 5000]).unwrap();
    std::fs::write(dir.join("x.txt"), "not a key").unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/x.key"), "nested").unwrap();
    let outside = dir
        .parent()
        .unwrap()
        .join(format!("outside-{}.txt", std::process::id()));
    std::fs::write(&outside, "OUTSIDE-SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("link.key")).unwrap();
    outside
}

#[tokio::test]
async fn hostile_realms_are_refused_before_any_read() {
    let cases: Vec<(Option<String>, &str)> = vec![
        (
            Some("Basic realm=/etc/shadow".into()),
            "not directly in the Arc token directory",
        ),
        (
            Some("Basic realm=../../etc/passwd".into()),
            "not an absolute path",
        ),
        (
            Some(format!("Basic realm={DIR}/../x.key")),
            "not directly in the Arc token directory",
        ),
        (
            Some(format!("Basic realm={DIR}/sub/x.key")),
            "not directly in the Arc token directory",
        ),
        (
            Some(format!("Basic realm={DIR}/x.txt")),
            "does not end in .key",
        ),
        (
            Some(format!("Basic realm={DIR}/big.key")),
            "is 5000 bytes, more than the 4096",
        ),
        (
            Some(format!("Basic realm={DIR}/link.key")),
            "is a symbolic link",
        ),
        (Some(String::new()), "no WWW-Authenticate header"),
        (None, "no WWW-Authenticate header"),
        (Some("Basic realm=".into()), "names no key file"),
        (Some(format!("Basic realm={DIR}/a=b.key")), "holds `=`"),
        (
            Some(format!("Bearer realm={DIR}/x.key")),
            "is not `Basic realm=<path of the key file>`",
        ),
    ];
    for (header, why) in cases {
        let emulator = arc_agent(ArcBehavior::Challenge(header.clone())).await;
        let outside = plant(emulator.arc_token_dir());
        let err = token(&emulator).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse(ref m) if m.starts_with("the Arc agent's challenge was refused") && m.contains(why)),
            "{header:?}: {err:?}"
        );
        assert!(!err.to_string().contains("OUTSIDE-SECRET") && !err.to_string().contains("kkkk"));
        assert_eq!(
            emulator.requests(Service::Arc),
            1,
            "{header:?}: no key was sent"
        );
        std::fs::remove_file(outside).unwrap();
    }
}

#[tokio::test]
async fn a_refused_key_is_a_clear_error_without_the_key() {
    let emulator = arc_agent(ArcBehavior::RejectKey).await;
    let err = token(&emulator).await.unwrap_err();
    let Error::Unauthorized(e) = &err else {
        panic!("{err:?}")
    };
    assert!(
        e.message
            .contains("refused the key from /var/opt/azcmagent/tokens/"),
        "{}",
        e.message
    );
    assert_eq!(emulator.requests(Service::Arc), 2);
    // The key files the agent wrote hold 64 hex digits; none is in the error.
    let text = format!("{err:?}");
    let hexrun = text
        .as_bytes()
        .windows(64)
        .any(|w| w.iter().all(u8::is_ascii_hexdigit));
    assert!(!hexrun, "{text}");
}

#[tokio::test]
async fn a_reply_other_than_the_challenge_is_refused() {
    let emulator = arc_agent(ArcBehavior::FirstStatus(200)).await;
    let err = token(&emulator).await.unwrap_err();
    assert_error!(
        err,
        Error::InvalidResponse(_),
        "answered 200 instead of its 401 challenge"
    );
    let emulator = arc_agent(ArcBehavior::FirstStatus(503)).await;
    let err = token(&emulator).await.unwrap_err();
    assert!(
        matches!(err, Error::Service(ref e) if e.status == 503),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_key_file_is_fresh_and_used_once() {
    let emulator = arc_agent(ArcBehavior::Normal).await;
    token(&emulator).await.unwrap();
    token(&emulator).await.unwrap();
    assert_eq!(emulator.requests(Service::Arc), 4);
    let left = std::fs::read_dir(emulator.arc_token_dir()).unwrap().count();
    assert_eq!(left, 0, "accepted keys are deleted by the agent");
}
