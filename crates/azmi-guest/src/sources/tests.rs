use super::*;

#[test]
fn each_environment_picks_its_source() {
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[], "Imds"),
        (&[(AZMI_ARC_AGENT, "present")], "Arc"),
        (
            &[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:40342/t"),
                ("IMDS_ENDPOINT", "http://127.0.0.1:40342"),
            ],
            "Arc",
        ),
        (
            &[
                ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t"),
                ("IDENTITY_HEADER", "h"),
            ],
            "AppService",
        ),
        (
            &[
                ("MSI_ENDPOINT", "http://127.0.0.1:1/t"),
                ("MSI_SECRET", "s"),
            ],
            "AppService2017",
        ),
        (
            &[
                ("IDENTITY_ENDPOINT", "https://127.0.0.1:1/t"),
                ("IDENTITY_HEADER", "h"),
                ("IDENTITY_SERVER_THUMBPRINT", "t"),
            ],
            "ServiceFabric",
        ),
        (&[("MSI_ENDPOINT", "http://127.0.0.1:1/t")], "CloudShell"),
    ];
    for (vars, expected) in cases {
        let source = from_env(&Env::from_pairs(vars.iter().copied())).unwrap();
        assert_eq!(format!("{:?}", source.kind), expected, "{vars:?}");
    }
}

#[test]
fn the_hosts_decision_wins_and_is_checked() {
    let env = Env::from_pairs([
        (AZMI_IDENTITY_SOURCE, "imds"),
        ("MSI_ENDPOINT", "http://127.0.0.1:1/t"),
    ]);
    assert_eq!(from_env(&env).unwrap().kind, azmi_core::Source::Imds);
    let env = Env::from_pairs([(AZMI_IDENTITY_SOURCE, "app-service")]);
    assert!(
        matches!(from_env(&env), Err(Error::InvalidArgument(ref m)) if m.contains("IDENTITY_ENDPOINT"))
    );
    let env = Env::from_pairs([(AZMI_IDENTITY_SOURCE, "vm")]);
    assert!(
        matches!(from_env(&env), Err(Error::InvalidArgument(ref m)) if m.contains("`vm` is not a managed-identity source"))
    );
    let env = Env::from_pairs([("IDENTITY_ENDPOINT", "http://127.0.0.1:1/t")]);
    assert!(
        matches!(from_env(&env), Err(Error::Unavailable(ref m)) if m.contains("neither IDENTITY_HEADER"))
    );
}
