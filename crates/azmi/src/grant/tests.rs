use std::time::Duration;

use super::*;
use crate::error::{Error, Setting};

const UAMI: &str = "A5B6C7D8-E9F0-4A1B-8C2D-3E4F5A6B7C8D";

fn grant() -> Grant {
    Grant::builder("t1")
        .identity(Identity::ClientId(UAMI.into()))
        .identity(Identity::SystemAssigned)
        .resource("https://storage.azure.com/.default")
        .resource("https://management.azure.com/")
        .vault("https://MyVault.vault.azure.net/", ["db-password", "app-*"])
        .hand_out_tokens(true)
        .build()
        .unwrap()
}

#[test]
fn an_empty_grant_allows_nothing() {
    let empty = Grant::builder("nobody").build().unwrap();
    let rule = |r: Result<(), Denial>| r.unwrap_err().rule;
    assert_eq!(
        rule(empty.check_identity(&Identity::SystemAssigned)),
        GrantRule::Identities
    );
    assert_eq!(
        rule(empty.check_token("https://vault.azure.net")),
        GrantRule::Tokens
    );
    assert_eq!(
        rule(empty.check_secret("myvault.vault.azure.net", "x")),
        GrantRule::Vaults
    );
    assert_eq!(empty.default_identity(), &Identity::SystemAssigned);
}

#[test]
fn identities_compare_case_insensitively() {
    let grant = grant();
    grant
        .check_identity(&Identity::ClientId(UAMI.to_ascii_lowercase()))
        .unwrap();
    grant.check_identity(&Identity::SystemAssigned).unwrap();
    let denial = grant
        .check_identity(&Identity::ObjectId(UAMI.into()))
        .unwrap_err();
    assert_eq!(denial.rule, GrantRule::Identities);
    assert!(denial.message.contains("tenant `t1`"), "{}", denial.message);
    assert!(denial.message.contains("object id"), "{}", denial.message);
    assert_eq!(
        grant.default_identity(),
        &Identity::ClientId(UAMI.into()),
        "the first identity is the default"
    );
}

#[test]
fn resources_match_exactly_but_for_a_trailing_slash() {
    let grant = grant();
    for allowed in [
        "https://storage.azure.com",
        "https://storage.azure.com/",
        "https://management.azure.com",
        "https://management.azure.com/",
    ] {
        grant.check_token(allowed).unwrap();
    }
    for refused in [
        "https://storage.azure.com/x",
        "https://storage.azure.com.evil.example",
        "https://vault.azure.net",
        "https://management.azure.com//",
    ] {
        let denial = grant.check_token(refused).unwrap_err();
        assert_eq!(denial.rule, GrantRule::Resources, "{refused}");
        assert!(
            denial.message.contains(refused.trim_end_matches('/')),
            "{}",
            denial.message
        );
    }
}

#[test]
fn tokens_are_withheld_unless_handed_out() {
    let withheld = Grant::builder("t2")
        .identity(Identity::SystemAssigned)
        .resource("https://vault.azure.net")
        .build()
        .unwrap();
    let denial = withheld.check_token("https://vault.azure.net").unwrap_err();
    assert_eq!(denial.rule, GrantRule::Tokens);
}

#[test]
fn secrets_by_exact_name_and_prefix() {
    let grant = grant();
    let host = "myvault.vault.azure.net";
    for allowed in ["db-password", "DB-Password", "app-", "app-key", "APP-KEY-2"] {
        grant.check_secret(host, allowed).unwrap();
    }
    for refused in ["db-password2", "db", "ap", "other"] {
        assert_eq!(
            grant.check_secret(host, refused).unwrap_err().rule,
            GrantRule::Secrets,
            "{refused}"
        );
    }
    assert_eq!(
        grant
            .check_secret("othervault.vault.azure.net", "db-password")
            .unwrap_err()
            .rule,
        GrantRule::Vaults
    );
    let every = Grant::builder("t3")
        .vault("https://myvault.vault.azure.net", ["*"])
        .build()
        .unwrap();
    every.check_secret(host, "anything-at-all").unwrap();
}

#[test]
fn bad_entries_are_refused_naming_them() {
    let cases = [
        (
            Grant::builder("t").identity(Identity::ClientId(" ".into())),
            "empty id",
        ),
        (
            Grant::builder("t")
                .identity(Identity::SystemAssigned)
                .default_identity(Identity::ClientId(UAMI.into())),
            "not one the grant allows",
        ),
        (Grant::builder("t").resource("a b"), "more than one scope"),
        (Grant::builder("t").resource(""), "empty"),
        (
            Grant::builder("t").vault("https://evil.example", ["x"]),
            "evil.example",
        ),
        (
            Grant::builder("t").vault("https://myvault.vault.azure.net", ["a*b"]),
            "`a*b`",
        ),
        (
            Grant::builder("t").vault("https://myvault.vault.azure.net", ["../x"]),
            "`../x`",
        ),
        (
            Grant::builder("t").vault("https://myvault.vault.azure.net", [""]),
            "``",
        ),
    ];
    for (builder, says) in cases {
        let Err(Error::Config(error)) = builder.build() else {
            panic!("accepted: {says}");
        };
        assert_eq!(error.setting, Setting::Grant);
        assert!(error.to_string().contains(says), "{says}: {error}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_budget_bursts_then_refills() {
    let bucket = Bucket::new(Budget::new(3, Duration::from_secs(2)));
    for _ in 0..3 {
        bucket.take().unwrap();
    }
    let wait = bucket.take().unwrap_err();
    assert!(
        wait <= Duration::from_secs(2) && wait > Duration::ZERO,
        "{wait:?}"
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    bucket.take().unwrap();
    assert!(bucket.take().is_err());
    // Never more than the burst, however long it rests.
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        bucket.take().unwrap();
    }
    assert!(bucket.take().is_err());
    // "This many, ever": no panic, however long the refill.
    let never = Bucket::new(Budget::new(1, Duration::MAX));
    never.take().unwrap();
    assert_eq!(never.take().unwrap_err(), Duration::MAX);
    let unlimited = Bucket::new(Budget::unlimited());
    for _ in 0..10_000 {
        unlimited.take().unwrap();
    }
}

#[test]
fn a_refusal_names_its_rule_for_error_denied_by() {
    let grant = grant();
    for (denial, rule) in [
        (
            grant.check_identity(&Identity::ObjectId("x".into())),
            GrantRule::Identities,
        ),
        (
            grant.check_token("https://vault.azure.net"),
            GrantRule::Resources,
        ),
        (
            grant.check_secret("other.vault.azure.net", "x"),
            GrantRule::Vaults,
        ),
    ] {
        let error = Error::Denied(denial.unwrap_err().message);
        assert_eq!(error.denied_by(), Some(rule), "{error}");
    }
    // The sandbox's own refusals name no rule, nor does a look-alike.
    for message in [
        "http://10.0.0.1/ is not the identity endpoint",
        "the tenant `x` does not allow y (rule `identities`)",
    ] {
        assert_eq!(Error::Denied(message.into()).denied_by(), None);
    }
    assert_eq!(Error::Other("(rule `identities`)".into()).denied_by(), None);
}
