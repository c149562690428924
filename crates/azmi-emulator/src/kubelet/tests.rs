use super::*;

fn kubelet(dir: &Path) -> Kubelet {
    Kubelet::new(
        dir.to_path_buf(),
        crate::EmulatorConfig::demo().workload_identity,
    )
}

#[test]
fn the_issuer_verifies_its_own_tokens_only() {
    let issuer = Issuer::new("tenant").unwrap();
    let token =
        issuer.sign(&json!({"iss": issuer.url, "sub": "s", "aud": ["a"], "exp": 10, "jti": "j"}));
    let claims = issuer.verify(&token).unwrap();
    assert_eq!(
        (
            claims.subject.as_str(),
            claims.audiences.as_slice(),
            claims.expires
        ),
        ("s", &["a".to_owned()][..], 10)
    );
    let other = Issuer::new("tenant").unwrap();
    assert!(other.verify(&token).is_none(), "another issuer's token");
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
    assert!(issuer.verify(&forged).is_none(), "a forged signature");
    assert!(issuer.verify("a.b").is_none());
}

#[test]
fn rotation_switches_the_volume_and_leaves_only_kubelets_entries() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::new("tenant").unwrap();
    let kubelet = kubelet(dir.path());
    kubelet.rotate(&issuer).unwrap();
    let first = std::fs::read_to_string(kubelet.file()).unwrap();
    assert_eq!(issuer.verify(&first).unwrap().id, kubelet.current());
    kubelet.rotate(&issuer).unwrap();
    let second = std::fs::read_to_string(kubelet.file()).unwrap();
    assert_ne!(first, second);
    assert_eq!(issuer.verify(&second).unwrap().id, kubelet.current());
    assert!(
        std::fs::symlink_metadata(kubelet.file())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        3,
        "{names:?}: the file, ..data and one data directory"
    );
    assert!(
        names
            .iter()
            .all(|n| n == TOKEN_FILE_NAME || n.starts_with("..")),
        "{names:?}"
    );
}

#[test]
fn queued_faults_shape_the_next_files() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = Issuer::new("tenant").unwrap();
    let kubelet = kubelet(dir.path());
    kubelet.queue([
        TokenFileFault::Stale,
        TokenFileFault::Malformed,
        TokenFileFault::WrongAudience,
    ]);
    kubelet.rotate(&issuer).unwrap();
    let stale = issuer
        .verify(&std::fs::read_to_string(kubelet.file()).unwrap())
        .unwrap();
    assert!(stale.expires < now());
    kubelet.rotate(&issuer).unwrap();
    assert!(
        issuer
            .verify(&std::fs::read_to_string(kubelet.file()).unwrap())
            .is_none()
    );
    kubelet.rotate(&issuer).unwrap();
    let wrong = issuer
        .verify(&std::fs::read_to_string(kubelet.file()).unwrap())
        .unwrap();
    assert_eq!(wrong.audiences, ["https://kubernetes.default.svc"]);
    kubelet.rotate(&issuer).unwrap();
    let good = issuer
        .verify(&std::fs::read_to_string(kubelet.file()).unwrap())
        .unwrap();
    assert_eq!(good.audiences, [azmi_core::entra::EXCHANGE_AUDIENCE]);
    assert!(good.expires > now());
}
