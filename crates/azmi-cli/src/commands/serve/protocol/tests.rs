use super::*;

#[test]
fn paths_route_as_every_sdk_builds_them() {
    for path in [
        "/metadata/identity/oauth2/token",
        "//metadata/identity/oauth2/token",
        "/metadata/identity/oauth2/token/",
        "/pfx//metadata/identity/oauth2/token/".trim_start_matches("/pfx"),
        "/Metadata/Identity/OAuth2/Token",
    ] {
        assert_eq!(route(path), Route::Imds, "{path}");
    }
    assert_eq!(route("/MSI/token"), Route::AppService);
    assert_eq!(route("/msi/token/"), Route::AppService);
    assert_eq!(route("/healthz"), Route::Health);
    assert_eq!(route("/metrics"), Route::Metrics);
    for probe in [
        "/metadata/identity/getplatformmetadata",
        "/metadata/identity/issuecredential",
        "/metadata/identity/credential",
        "/metadata/identity/oauth2/token/extra",
        "/",
        "",
    ] {
        assert_eq!(route(probe), Route::Unknown, "{probe}");
    }
}

#[test]
fn queries_decode_raw_and_percent_encoded_values_alike() {
    let raw = parse_query("api-version=2018-02-01&resource=https://vault.azure.net").unwrap();
    let encoded =
        parse_query("api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net").unwrap();
    assert_eq!(raw, encoded);
    assert_eq!(raw.resource.as_deref(), Some("https://vault.azure.net"));
    assert_eq!(raw.api_version.as_deref(), Some("2018-02-01"));
    assert_eq!(raw.identity, None);
}

#[test]
fn every_identity_parameter_selects_its_kind() {
    for (query, identity) in [
        ("client_id=C", Identity::ClientId("C".into())),
        ("object_id=O", Identity::ObjectId("O".into())),
        ("principal_id=O", Identity::ObjectId("O".into())),
        (
            "msi_res_id=%2Fsubscriptions%2Fx",
            Identity::ResourceId("/subscriptions/x".into()),
        ),
        (
            "mi_res_id=/subscriptions/x",
            Identity::ResourceId("/subscriptions/x".into()),
        ),
    ] {
        assert_eq!(
            parse_query(query).unwrap().identity,
            Some(identity),
            "{query}"
        );
    }
    // Names that do not concern the token are ignored.
    assert_eq!(
        parse_query("bypass_cache=true&xms_cc=cp1").unwrap(),
        TokenQuery::default()
    );
}

#[test]
fn ambiguous_or_malformed_queries_are_refused_with_the_reason() {
    for (query, why) in [
        ("resource=a&resource=b", "more than once"),
        ("client_id=a&object_id=b", "more than one identity"),
        ("client_id=", "is empty"),
        ("resource=%zz", "two hexadecimal digits"),
        ("resource=%4", "two hexadecimal digits"),
        ("resource=%+a", "two hexadecimal digits"),
        ("resource=%ff", "not UTF-8"),
    ] {
        let error = parse_query(query).unwrap_err();
        assert!(error.contains(why), "{query}: {error}");
    }
}

#[test]
fn no_query_text_panics_the_parser() {
    // Every byte string of up to three bytes over an alphabet that covers
    // each branch: the parser answers, whatever it is given.
    let alphabet = [
        "%",
        "=",
        "&",
        "+",
        "a",
        "0",
        "f",
        "\u{e9}",
        "client_id",
        "resource",
    ];
    for a in alphabet {
        for b in alphabet {
            for c in alphabet {
                let _ = parse_query(&format!("{a}{b}{c}"));
                let _ = route(&format!("/{a}/{b}{c}"));
            }
        }
    }
}

#[test]
fn the_success_body_has_every_number_as_a_string() {
    let text = body(
        "T",
        "Bearer",
        "https://vault.azure.net",
        10_003_600,
        10_000_000,
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["expires_on"], "10003600");
    assert_eq!(body["expires_in"], "3600");
    assert_eq!(body["access_token"], "T");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://vault.azure.net");
}

#[test]
fn shown_values_are_one_short_line() {
    assert_eq!(shown("a\nb"), "a b");
    assert_eq!(shown(&"x".repeat(300)).chars().count(), 201);
}
