use super::steps::upstream;
use super::*;
use crate::error::ConfigError;
use crate::error::Setting;
use crate::policy::rules::parse_vault;
use azmi_core::AZMI_IDENTITY_SOURCE;
use azmi_core::{
    IDENTITY_ENDPOINT, IDENTITY_HEADER, IDENTITY_SERVER_THUMBPRINT, IMDS_ENDPOINT, MSI_ENDPOINT,
    MSI_SECRET,
};
use std::path::Path;

fn build(vars: &[(&str, &str)]) -> Result<Config, Error> {
    vars.iter()
        .fold(Config::builder(), |b, (n, v)| b.identity_variable(*n, *v))
        .build()
}

fn rule(config: &Config) -> String {
    config
        .policy
        .identity_endpoints
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn each_source_allows_exactly_its_endpoint() {
    for (vars, source, allowed) in [
        (
            vec![],
            Source::Imds,
            "GET http://169.254.169.254:80/metadata/identity/oauth2/token",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1:8080/")],
            Source::Imds,
            "GET http://127.0.0.1:8080/metadata/identity/oauth2/token",
        ),
        (
            vec![
                (
                    IDENTITY_ENDPOINT,
                    "http://localhost:40342/metadata/identity/oauth2/token",
                ),
                (IMDS_ENDPOINT, "http://localhost:40342"),
            ],
            Source::Arc,
            "GET http://localhost:40342/metadata/identity/oauth2/token",
        ),
        (
            vec![
                (IDENTITY_ENDPOINT, "http://127.0.0.1:41741/MSI/token/"),
                (IDENTITY_HEADER, "h"),
            ],
            Source::AppService,
            "GET http://127.0.0.1:41741/MSI/token/",
        ),
        (
            vec![
                (MSI_ENDPOINT, "http://127.0.0.1:8081/msi/token"),
                (MSI_SECRET, "s"),
            ],
            Source::AppService2017,
            "GET http://127.0.0.1:8081/msi/token",
        ),
        (
            vec![(MSI_ENDPOINT, "http://localhost:50342/oauth2/token")],
            Source::CloudShell,
            "POST http://localhost:50342/oauth2/token",
        ),
        (
            vec![
                (
                    IDENTITY_ENDPOINT,
                    "https://127.0.0.1:2377/metadata/identity/oauth2/token",
                ),
                (IDENTITY_HEADER, "h"),
                (
                    IDENTITY_SERVER_THUMBPRINT,
                    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67",
                ),
            ],
            Source::ServiceFabric,
            "GET https://127.0.0.1:2377/metadata/identity/oauth2/token (certificate pinned by thumbprint)",
        ),
    ] {
        let config = build(&vars).unwrap();
        assert_eq!(config.source(), source, "{vars:?}");
        assert_eq!(rule(&config), allowed, "{vars:?}");
        assert_eq!(
            config
                .guest_env
                .get(AZMI_IDENTITY_SOURCE)
                .map(String::as_str),
            Some(source.name())
        );
        assert_eq!(config.granted_dir.is_some(), source == Source::Arc);
    }
}

#[test]
fn the_component_gets_only_its_sources_variables() {
    let config = build(&[
        (IDENTITY_ENDPOINT, "http://127.0.0.1:41741/MSI/token"),
        (IDENTITY_HEADER, "h"),
        (MSI_ENDPOINT, "http://127.0.0.1:8081/msi/token"),
        (MSI_SECRET, "SECRET-2017"),
        (AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1:9"),
    ])
    .unwrap();
    assert_eq!(
        config.guest_variables(),
        [
            AZMI_IDENTITY_SOURCE,
            "AZMI_RETRY",
            IDENTITY_ENDPOINT,
            IDENTITY_HEADER
        ]
    );
    assert!(!format!("{config:?}").contains("SECRET-2017"));
    assert!(
        Config::builder().build().unwrap().guest_variables()
            == [AZMI_IDENTITY_SOURCE, "AZMI_RETRY"],
        "the default IMDS needs no variable"
    );
}

#[test]
fn endpoints_must_be_local_and_well_formed() {
    for (vars, why) in [
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "https://127.0.0.1")],
            "is not http",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "127.0.0.1:80")],
            "no scheme",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://8.8.8.8")],
            "is not on this machine: identity endpoints must be a loopback address",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://imds.example")],
            "is not on this machine",
        ),
        (
            vec![
                (IDENTITY_ENDPOINT, "http://evil.example/t"),
                (IDENTITY_HEADER, "h"),
            ],
            "IDENTITY_ENDPOINT=`http://evil.example/t` is not on this machine",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1:99999")],
            "has an invalid port `99999`",
        ),
        (
            vec![(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1/?x=1")],
            "query",
        ),
        (
            vec![
                (IDENTITY_ENDPOINT, "http://203.0.113.9/token"),
                (IDENTITY_HEADER, "h"),
            ],
            "IDENTITY_ENDPOINT=`http://203.0.113.9/token` is not on this machine",
        ),
        (
            vec![
                (IDENTITY_ENDPOINT, "http://127.0.0.1:2377/t"),
                (IDENTITY_HEADER, "h"),
                (IDENTITY_SERVER_THUMBPRINT, "0123"),
            ],
            "is not https",
        ),
        (
            vec![
                (IDENTITY_ENDPOINT, "https://127.0.0.1:2377/t"),
                (IDENTITY_HEADER, "h"),
                (IDENTITY_SERVER_THUMBPRINT, "0123"),
            ],
            "IDENTITY_SERVER_THUMBPRINT: `0123` is not a SHA-1 thumbprint",
        ),
    ] {
        let Err(Error::Config(ConfigError {
            setting, message, ..
        })) = build(&vars)
        else {
            panic!("{vars:?} accepted")
        };
        // The error is about one of the variables given, by name.
        assert!(
            matches!(setting, Setting::Variable(name) if vars.iter().any(|(n, _)| *n == name)),
            "{vars:?}: {setting:?}"
        );
        assert!(message.contains(why), "{vars:?}: {message}");
    }
}

#[test]
fn ipv6_forms_that_leave_the_machine_are_refused_in_every_variable() {
    for (literal, form) in [
        ("[64:ff9b::a9fe:a9fe]", "NAT64"),
        ("[64:ff9b::7f00:1]", "NAT64"),
        ("[2002:7f00:1::]", "6to4"),
        ("[2002:a9fe:a9fe::]", "6to4"),
        ("[::7f00:1]", "IPv4-compatible"),
    ] {
        for (vars, variable) in [
            (
                vec![(
                    AZURE_POD_IDENTITY_AUTHORITY_HOST,
                    format!("http://{literal}"),
                )],
                AZURE_POD_IDENTITY_AUTHORITY_HOST,
            ),
            (
                vec![
                    (
                        IDENTITY_ENDPOINT,
                        format!("http://{literal}:8081/msi/token"),
                    ),
                    (IDENTITY_HEADER, "h".into()),
                ],
                IDENTITY_ENDPOINT,
            ),
            (
                vec![
                    (IDENTITY_ENDPOINT, format!("http://{literal}:40342/t")),
                    (IMDS_ENDPOINT, "http://localhost:40342".into()),
                ],
                IDENTITY_ENDPOINT,
            ),
            (
                vec![
                    (MSI_ENDPOINT, format!("http://{literal}/msi/token")),
                    (MSI_SECRET, "s".into()),
                ],
                MSI_ENDPOINT,
            ),
            (
                vec![(MSI_ENDPOINT, format!("http://{literal}/t"))],
                MSI_ENDPOINT,
            ),
        ] {
            let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let Err(Error::Config(ConfigError {
                setting,
                value,
                message,
            })) = build(&vars)
            else {
                panic!("{vars:?} accepted")
            };
            assert_eq!(setting, Setting::Variable(variable));
            assert_eq!(value.as_deref(), Some(vars[0].1));
            assert!(
                message.starts_with(&format!("{variable}=`"))
                    && message.contains(&format!("is a {form} IPv6 address")),
                "{vars:?}: {message}"
            );
        }
    }
    // Really local IPv6 endpoints stay allowed.
    for local in [
        "[::1]:8080",
        "[fe80::1]",
        "[::ffff:127.0.0.1]:8080",
        "[::ffff:a9fe:a9fe]",
    ] {
        build(&[(
            AZURE_POD_IDENTITY_AUTHORITY_HOST,
            &format!("http://{local}"),
        )])
        .unwrap_or_else(|e| panic!("{local}: {e}"));
    }
}

#[test]
fn pins_are_for_vaults_and_entra_only() {
    let pinned = |pin: &str| {
        Config::builder()
            .connect_to(pin.parse().unwrap())
            .identity_variable(IDENTITY_ENDPOINT, "http://127.0.0.1:41741/msi/token")
            .identity_variable(IDENTITY_HEADER, "h")
            .build()
    };
    pinned("myvault.vault.azure.net:443:127.0.0.1:8443").unwrap();
    // A known Entra authority may be pinned (for workload identity; no
    // other source sends anything there).
    pinned("login.microsoftonline.com:443:127.0.0.1:8443").unwrap();
    for pin in [
        "169.254.169.254:80:203.0.113.7:80",          // IMDS
        "127.0.0.1:41741:203.0.113.7:80",             // this configuration's endpoint
        "localhost:40342:127.0.0.1:40342",            // the Arc agent
        "login.microsoftonline.com:8443:127.0.0.1:1", // Entra, but not on 443
        "login.example.com:443:127.0.0.1:1",          // not an Entra authority
        "myvault.vault.azure.net:8443:127.0.0.1:1",   // a vault, but not on 443
    ] {
        let Err(Error::Config(ConfigError { message, .. })) = pinned(pin) else {
            panic!("{pin} accepted")
        };
        assert!(
            message.contains(pin) && message.contains("pins are for vaults"),
            "{pin}: {message}"
        );
    }
}

#[test]
fn imds_endpoint_beats_the_variable() {
    let config = Config::builder()
        .identity_variable(AZURE_POD_IDENTITY_AUTHORITY_HOST, "http://127.0.0.1:1")
        .imds_endpoint("http://127.0.0.1:9")
        .build()
        .unwrap();
    assert_eq!(
        config.guest_env.get(IMDS_ENDPOINT_VAR).map(String::as_str),
        Some("http://127.0.0.1:9")
    );
}

#[test]
fn forcing_and_detection_failures_are_explained() {
    let err = Config::builder()
        .source(Source::AppService)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.message.contains("needs IDENTITY_ENDPOINT")),
        "{err:?}"
    );
    let err = build(&[(IDENTITY_ENDPOINT, "http://127.0.0.1:1/t")]).unwrap_err();
    assert!(
        matches!(err, Error::Unavailable(ref m) if m.contains("neither IDENTITY_HEADER")),
        "{err:?}"
    );
    let config = Config::builder().arc_agent_present(true).build().unwrap();
    assert_eq!(
        rule(&config),
        "GET http://localhost:40342/metadata/identity/oauth2/token"
    );
}

#[test]
fn vaults_must_be_key_vault_hosts_on_443() {
    assert_eq!(
        parse_vault("https://MyVault.vault.azure.net/").unwrap(),
        "myvault.vault.azure.net"
    );
    // A bare host is not a vault URL, here as in the component.
    assert!(matches!(
        parse_vault("myvault.vault.azure.net"),
        Err(Error::Config(ConfigError {
            setting: Setting::Vault,
            ..
        }))
    ));
    for bad in [
        "http://myvault.vault.azure.net",
        "https://myvault.vault.azure.net:8443",
        "https://evilvault.azure.net",
        "https://a.b.vault.azure.net",
        "https://myvault.vault.azure.net/secrets/x",
    ] {
        assert!(matches!(parse_vault(bad), Err(Error::Config(_))), "{bad}");
    }
}

#[test]
fn only_identity_variables_are_accepted() {
    let err = Config::builder()
        .guest_env("PATH", "/bin")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref m) if m.message.contains("PATH") && m.message.contains(IMDS_ENDPOINT_VAR)),
        "{err:?}"
    );
    let err = Config::builder()
        .identity_variable("AZMI_IDENTITY_SOURCE", "arc")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

/// The shared cache's key: no value can pose as the boundary between two
/// variables, and extra trust roots (which verify an https endpoint) count.
#[test]
fn the_upstream_digest_is_unambiguous() {
    let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let dir = Path::new("/var/opt/azcmagent/tokens");
    let split = upstream(
        Source::AppService,
        &env(&[("IDENTITY_ENDPOINT", "http://a"), ("IDENTITY_HEADER", "h")]),
        dir,
        &[],
    );
    let posing = upstream(
        Source::AppService,
        &env(&[("IDENTITY_ENDPOINT", "http://a\0IDENTITY_HEADER=h")]),
        dir,
        &[],
    );
    assert_ne!(split, posing);
    let root = CertificateDer::from(vec![1, 2, 3]);
    assert_ne!(
        split,
        upstream(
            Source::AppService,
            &env(&[("IDENTITY_ENDPOINT", "http://a"), ("IDENTITY_HEADER", "h")]),
            dir,
            &[root],
        )
    );
    assert_eq!(
        split,
        upstream(
            Source::AppService,
            &env(&[("IDENTITY_HEADER", "h"), ("IDENTITY_ENDPOINT", "http://a")]),
            Path::new("/elsewhere"),
            &[],
        ),
        "order does not matter, nor the Arc directory of another source"
    );
}

mod workload_identity {
    use super::*;
    use azmi_core::{
        AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID,
    };

    fn refused(err: &Error, setting: Setting, says: &str) {
        let Error::Config(ConfigError {
            setting: s,
            message,
            ..
        }) = err
        else {
            panic!("not a configuration error: {err:?}")
        };
        assert_eq!(*s, setting, "{message}");
        assert!(message.contains(says), "{message}");
    }

    struct Pod {
        dir: tempfile::TempDir,
        file: String,
    }

    fn pod() -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("azure-identity-token");
        std::fs::write(&file, "a.b.c").unwrap();
        Pod {
            file: file.to_str().unwrap().to_owned(),
            dir,
        }
    }

    fn builder(pod: &Pod, authority: Option<&str>) -> ConfigBuilder {
        let mut b = Config::builder()
            .identity_variable(AZURE_FEDERATED_TOKEN_FILE, &pod.file)
            .identity_variable(AZURE_CLIENT_ID, "11111111-1111-1111-1111-111111111111")
            .identity_variable(AZURE_TENANT_ID, "tenant-1")
            // Variables of another source, which the component must not get.
            .identity_variable(MSI_ENDPOINT, "http://127.0.0.1:8081/msi/token")
            .identity_variable(MSI_SECRET, "SECRET-2017");
        if let Some(a) = authority {
            b = b.identity_variable(AZURE_AUTHORITY_HOST, a);
        }
        b
    }

    #[test]
    fn detected_with_exactly_its_post_its_directory_and_its_variables() {
        let pod = pod();
        let config = builder(&pod, None).build().unwrap();
        assert_eq!(config.source(), Source::WorkloadIdentity);
        assert_eq!(
            rule(&config),
            "POST https://login.microsoftonline.com:443/tenant-1/oauth2/v2.0/token"
        );
        let grant = config.granted_dir.as_ref().unwrap();
        assert_eq!(
            (grant.host.as_path(), grant.guest.as_str()),
            (pod.dir.path(), pod.dir.path().to_str().unwrap())
        );
        assert_eq!(
            config.guest_variables(),
            [
                AZMI_IDENTITY_SOURCE,
                "AZMI_RETRY",
                AZURE_CLIENT_ID,
                AZURE_FEDERATED_TOKEN_FILE,
                AZURE_TENANT_ID
            ]
        );
        let sovereign = builder(&pod, Some("https://login.microsoftonline.us/"))
            .build()
            .unwrap();
        assert_eq!(
            rule(&sovereign),
            "POST https://login.microsoftonline.us:443/tenant-1/oauth2/v2.0/token"
        );
    }

    #[test]
    fn an_unknown_authority_needs_a_pin_and_only_it_may_be_pinned() {
        let pod = pod();
        let err = builder(&pod, Some("https://entra.emulator.test/"))
            .build()
            .unwrap_err();
        refused(
            &err,
            Setting::Variable(AZURE_AUTHORITY_HOST),
            "not a Microsoft Entra authority",
        );
        let pin = ConnectTo::new("entra.emulator.test", 443, "127.0.0.1", 8443).unwrap();
        let config = builder(&pod, Some("https://entra.emulator.test/"))
            .connect_to(pin.clone())
            .build()
            .unwrap();
        assert_eq!(config.policy.connect_to, std::slice::from_ref(&pin));
        // The same pin is refused when the source is not workload identity.
        let err = Config::builder().connect_to(pin).build().unwrap_err();
        refused(&err, Setting::ConnectTo, "pins are for vaults");
        for bad in [
            "http://login.microsoftonline.com/",
            "https://login.microsoftonline.com:8443/",
        ] {
            let err = builder(&pod, Some(bad)).build().unwrap_err();
            refused(&err, Setting::Variable(AZURE_AUTHORITY_HOST), bad);
        }
    }

    #[test]
    fn the_token_directory_must_hold_the_token_alone() {
        let pod = pod();
        std::fs::write(pod.dir.path().join("other-secret"), "x").unwrap();
        let err = builder(&pod, None).build().unwrap_err();
        refused(
            &err,
            Setting::Variable(AZURE_FEDERATED_TOKEN_FILE),
            "also holds other-secret",
        );
    }
}
