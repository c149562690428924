use super::*;

fn vault() -> Vault {
    Vault::parse("https://myvault.vault.azure.net").unwrap()
}

#[test]
fn parses_the_service_challenge_shapes() {
    let c = parse(Some(r#"Bearer authorization="https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#)).unwrap();
    assert_eq!(c.resource, "https://vault.azure.net");
    assert_eq!(
        c.tenant.as_deref(),
        Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
    );
    let c = parse(Some(r#"Bearer authorization_uri="https://login.windows.net/t", scope="https://vault.azure.net/.default""#)).unwrap();
    assert_eq!(
        (c.resource.as_str(), c.tenant.as_deref()),
        ("https://vault.azure.net", Some("t"))
    );
    let c = parse(Some("bearer resource=https://vault.azure.net")).unwrap();
    assert_eq!(
        (c.resource.as_str(), c.tenant),
        ("https://vault.azure.net", None)
    );
    let c = parse(Some(
        r#"Bearer authorization="https://adfs.local/adfs", resource="https://vault.local/x""#,
    ))
    .unwrap();
    assert_eq!(c.tenant, None, "ADFS names no tenant");
}

#[test]
fn refuses_what_is_not_a_bearer_challenge() {
    for (header, why) in [
        (None, "no WWW-Authenticate"),
        (Some("Basic realm=x"), "not a Bearer challenge"),
        (
            Some(r#"Bearer authorization="https://login.windows.net/t""#),
            "neither resource nor scope",
        ),
        (
            Some(r#"Bearer resource="https://vault.azure.net"#),
            "malformed",
        ),
    ] {
        let Err(Error::InvalidResponse(m)) = parse(header) else {
            panic!("{header:?} accepted")
        };
        assert!(m.contains(why), "{header:?}: {m}");
    }
    assert!(parse(Some(&format!("Bearer resource={}", "a".repeat(5000)))).is_err());
}

#[test]
fn verification_stops_token_harvesting() {
    let ok = |r: &str| {
        verify(
            &Challenge {
                resource: r.into(),
                tenant: None,
            },
            &vault(),
        )
    };
    ok("https://vault.azure.net").unwrap();
    ok("https://vault.azure.net/").unwrap();
    ok("https://vault.azure.net:443").unwrap();
    ok("https://azure.net").unwrap();
    for evil in [
        "https://management.azure.com",
        "https://evil.example",
        "https://myvault.vault.azure.net",
        "https://ault.azure.net",
        "http://vault.azure.net",
        "vault.azure.net",
        "https://user@vault.azure.net",
        "https://",
    ] {
        let Err(Error::InvalidResponse(m)) = ok(evil) else {
            panic!("{evil} accepted")
        };
        assert!(
            m.starts_with("the vault's authentication challenge was refused"),
            "{m}"
        );
    }
}
