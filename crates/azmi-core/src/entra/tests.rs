use super::*;

#[test]
fn authority_hosts_are_read_as_the_webhook_and_the_sdks_write_them() {
    for (raw, host) in [
        (
            "https://login.microsoftonline.com/",
            "login.microsoftonline.com",
        ),
        (
            "https://login.microsoftonline.com",
            "login.microsoftonline.com",
        ),
        (
            "HTTPS://Login.MicrosoftOnline.US:443/",
            "login.microsoftonline.us",
        ),
        ("login.chinacloudapi.cn", "login.chinacloudapi.cn"),
        (" https://entra.emulator.test/ ", "entra.emulator.test"),
    ] {
        assert_eq!(parse_authority_host(raw).as_deref(), Ok(host), "{raw}");
    }
}

#[test]
fn authority_hosts_other_than_https_443_and_a_bare_host_are_refused() {
    for (raw, why) in [
        (
            "http://login.microsoftonline.com/",
            AuthorityHostError::NotHttps,
        ),
        (
            "https://login.microsoftonline.com:8443/",
            AuthorityHostError::Port(8443),
        ),
        (
            "https://login.microsoftonline.com/tenant/",
            AuthorityHostError::Syntax(
                "has a path; give only the host (https://login.microsoftonline.com/), the tenant is AZURE_TENANT_ID",
            ),
        ),
        (
            "https://login.microsoftonline.com/?x=1",
            AuthorityHostError::Syntax("has a query or fragment; give https://<host>/"),
        ),
        (
            "ftp://login.microsoftonline.com/",
            AuthorityHostError::Syntax("has a scheme other than https"),
        ),
    ] {
        assert_eq!(parse_authority_host(raw), Err(why), "{raw}");
    }
    for raw in [
        "https://user@login.microsoftonline.com/",
        "https://login.microsoftonline.com./",
        "https:// login.microsoftonline.com/",
        "https://login\\microsoftonline.com/",
        "https://",
    ] {
        assert!(parse_authority_host(raw).is_err(), "{raw}");
    }
}

#[test]
fn only_entra_hosts_are_known_authorities() {
    assert!(is_known_authority(DEFAULT_AUTHORITY_HOST));
    assert!(is_known_authority("login.microsoftonline.us"));
    assert!(!is_known_authority(
        "login.microsoftonline.com.evil.example"
    ));
    assert!(!is_known_authority("127.0.0.1"));
    assert!(
        !is_known_authority("LOGIN.MICROSOFTONLINE.COM"),
        "hosts are compared lower-case"
    );
}

#[test]
fn tenants_are_one_path_segment() {
    for ok in [
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "contoso.onmicrosoft.com",
        "organizations",
    ] {
        assert_eq!(check_tenant(ok), Ok(()), "{ok}");
        assert_eq!(token_path(ok), format!("/{ok}/oauth2/v2.0/token"));
    }
    for bad in ["", "..", "a/b", "a?b", "a b", "a%2fb", &"a".repeat(257)] {
        assert!(check_tenant(bad).is_err(), "{bad}");
    }
}

#[test]
fn client_ids_are_visible_ascii() {
    assert_eq!(
        check_client_id("11111111-2222-3333-4444-555555555555"),
        Ok(())
    );
    for bad in ["", "a b", "a\nb", "é", &"a".repeat(257)] {
        assert!(check_client_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_resource_becomes_its_default_scope() {
    assert_eq!(
        resource_to_scope("https://vault.azure.net"),
        "https://vault.azure.net/.default"
    );
    // ARM's resource ends with a slash; the SDKs keep it.
    assert_eq!(
        resource_to_scope("https://management.azure.com/"),
        "https://management.azure.com//.default"
    );
}
