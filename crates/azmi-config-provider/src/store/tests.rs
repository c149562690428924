use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{
    Error, Failure, ServiceFailure, Settings, Store, Vault, outcome_of_failure, secret_name,
};

const VAULT: &str = "https://myvault.vault.azure.net";

/// A vault of fixed secrets that records every read.
#[derive(Default)]
struct FakeVault {
    secrets: BTreeMap<&'static str, &'static str>,
    reads: RefCell<Vec<(String, Option<String>)>>,
    fail: Option<fn() -> Error>,
}

impl Vault for FakeVault {
    fn read(
        &self,
        vault_url: &str,
        name: &str,
        client_id: Option<&str>,
    ) -> Result<Option<String>, Error> {
        assert_eq!(vault_url, VAULT);
        self.reads
            .borrow_mut()
            .push((name.to_owned(), client_id.map(str::to_owned)));
        if let Some(fail) = self.fail {
            return Err(fail());
        }
        Ok(self.secrets.get(name).map(|v| (*v).to_owned()))
    }
}

fn vault() -> FakeVault {
    FakeVault {
        secrets: BTreeMap::from([("mysecret", "TOPSECRET"), ("db-password", "hunter2")]),
        ..FakeVault::default()
    }
}

fn settings(vars: &[(&str, &str)]) -> Settings {
    Settings::from_vars(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .chain([("AZMI_VAULT_URL".to_owned(), VAULT.to_owned())]),
    )
    .expect("valid settings")
}

#[test]
fn a_key_reads_the_secret_of_its_name_with_underscores_as_hyphens() {
    let vault = vault();
    let mut store = Store::default();
    let now = Instant::now();
    let settings = settings(&[]);
    assert_eq!(
        store.get(&vault, &settings, "mysecret", now),
        Ok(Some("TOPSECRET".into()))
    );
    assert_eq!(
        store.get(&vault, &settings, "DB_PASSWORD", now),
        Ok(Some("hunter2".into()))
    );
    assert_eq!(store.get(&vault, &settings, "nosuch", now), Ok(None));
}

#[test]
fn values_and_absences_are_kept_for_the_ttl_then_read_again() {
    let vault = vault();
    let mut store = Store::default();
    let start = Instant::now();
    let settings = settings(&[("AZMI_CONFIG_TTL", "60")]);
    for key in ["mysecret", "nosuch"] {
        store.get(&vault, &settings, key, start).expect("read");
        store
            .get(&vault, &settings, key, start + Duration::from_secs(59))
            .expect("kept");
    }
    assert_eq!(
        vault.reads.borrow().len(),
        2,
        "one read per key within the TTL"
    );
    store
        .get(
            &vault,
            &settings,
            "mysecret",
            start + Duration::from_secs(60),
        )
        .expect("read again");
    assert_eq!(
        vault.reads.borrow().len(),
        3,
        "read again once the TTL passed"
    );
}

#[test]
fn a_ttl_of_zero_reads_every_time_and_errors_are_never_kept() {
    let mut vault = vault();
    let mut store = Store::default();
    let now = Instant::now();
    let settings = settings(&[("AZMI_CONFIG_TTL", "0")]);
    store.get(&vault, &settings, "mysecret", now).expect("read");
    store.get(&vault, &settings, "mysecret", now).expect("read");
    assert_eq!(vault.reads.borrow().len(), 2);

    vault.fail = Some(|| Error::Io("the endpoint did not answer".into()));
    let settings = self::settings(&[]);
    for _ in 0..2 {
        let error = store
            .get(&vault, &settings, "db-password", now)
            .expect_err("fails");
        assert_eq!(
            error,
            Error::Io(format!(
                "secret `db-password` of {VAULT}: the endpoint did not answer"
            ))
        );
    }
    assert_eq!(vault.reads.borrow().len(), 4, "a failure is asked again");
}

#[test]
fn the_identity_is_the_configured_client_id() {
    let vault = vault();
    let settings = settings(&[("AZMI_CLIENT_ID", "11111111-2222-3333-4444-555555555555")]);
    Store::default()
        .get(&vault, &settings, "mysecret", Instant::now())
        .expect("read");
    assert_eq!(
        vault.reads.borrow()[0],
        (
            "mysecret".into(),
            Some("11111111-2222-3333-4444-555555555555".into())
        )
    );
}

#[test]
fn get_all_returns_the_named_keys_the_vault_has() {
    let vault = vault();
    let settings = settings(&[("AZMI_CONFIG_KEYS", "mysecret, nosuch ,db_password,")]);
    let all = Store::default()
        .get_all(&vault, &settings, Instant::now())
        .expect("get-all");
    assert_eq!(
        all,
        vec![
            ("mysecret".into(), "TOPSECRET".into()),
            ("db_password".into(), "hunter2".into())
        ]
    );
}

#[test]
fn get_all_without_keys_says_what_to_set() {
    let error = Store::default()
        .get_all(&vault(), &settings(&[]), Instant::now())
        .expect_err("no keys");
    let Error::Upstream(message) = error else {
        panic!("an upstream error: {error:?}")
    };
    assert!(message.contains("AZMI_CONFIG_KEYS"), "{message}");
}

#[test]
fn configuration_errors_name_the_variable_and_the_fix() {
    let unset = Settings::from_vars([]).expect("no variables is valid");
    let error = Store::default()
        .get(&vault(), &unset, "mysecret", Instant::now())
        .expect_err("no vault");
    assert!(
        matches!(&error, Error::Upstream(m) if m.contains("AZMI_VAULT_URL is not set")),
        "{error:?}"
    );

    for ttl in ["soon", "-1", "86401"] {
        let error = Settings::from_vars([("AZMI_CONFIG_TTL".to_owned(), ttl.to_owned())])
            .expect_err("a bad TTL");
        assert!(
            matches!(&error, Error::Upstream(m) if m.contains(&format!("AZMI_CONFIG_TTL `{ttl}`"))),
            "{error:?}"
        );
    }
}

#[test]
fn a_key_that_cannot_name_a_secret_is_refused_before_any_read() {
    let vault = vault();
    for key in ["", "db.password", "a/b", "ünïcode", &"x".repeat(128)] {
        let error = Store::default()
            .get(&vault, &settings(&[]), key, Instant::now())
            .expect_err("invalid key");
        assert!(
            matches!(&error, Error::Upstream(m) if m.contains("cannot name a Key Vault secret")),
            "{error:?}"
        );
    }
    assert!(vault.reads.borrow().is_empty());
    assert_eq!(secret_name(&"A".repeat(127)), Ok("a".repeat(127)));
}

#[test]
fn failures_become_the_wasi_config_case_a_caller_can_act_on() {
    let service = |status, code: &str| ServiceFailure {
        status,
        code: code.into(),
        message: "the service said so".into(),
        inner_code: None,
    };
    assert_eq!(
        outcome_of_failure(&Failure::NotFound(service(404, "SecretNotFound"))),
        Ok(None)
    );
    let upstream = |f: Failure| match outcome_of_failure(&f) {
        Err(Error::Upstream(m)) => m,
        other => panic!("upstream, not {other:?}"),
    };
    let io = |f: Failure| match outcome_of_failure(&f) {
        Err(Error::Io(m)) => m,
        other => panic!("io, not {other:?}"),
    };
    // A 404 from the identity endpoint (no such identity) is not an unset key.
    assert!(
        upstream(Failure::NotFound(service(404, "IdentityNotFound")))
            .contains("HTTP 404 IdentityNotFound")
    );
    assert!(
        upstream(Failure::Forbidden(service(403, "Forbidden"))).contains("Key Vault Secrets User")
    );
    assert!(
        upstream(Failure::Denied("not allowed".into())).contains("must allow outbound requests")
    );
    assert!(upstream(Failure::Unauthorized(service(401, ""))).contains("(HTTP 401)"));
    assert!(upstream(Failure::Service(service(429, "Throttled"))).contains("HTTP 429 Throttled"));
    assert!(upstream(Failure::InvalidArgument("bad vault".into())).contains("bad vault"));
    assert!(upstream(Failure::InvalidResponse("not JSON".into())).contains("not JSON"));
    let disabled = ServiceFailure {
        inner_code: Some("SecretDisabled".into()),
        ..service(403, "Forbidden")
    };
    let message = upstream(Failure::Forbidden(disabled));
    assert!(message.contains("the secret is disabled"), "{message}");
    assert!(!message.contains("Secrets User"), "{message}");
    // azmi's own message names the endpoint and the fix; it is not repeated.
    assert_eq!(
        io(Failure::Unavailable(
            "no endpoint answered at X; run on Azure".into()
        )),
        "no endpoint answered at X; run on Azure"
    );
    assert!(io(Failure::Timeout("deadline".into())).contains("timed out"));
    assert_eq!(io(Failure::Other("TLS".into())), "TLS");
}

#[test]
fn empty_variables_are_unset_ones() {
    let settings = Settings::from_vars(
        [
            ("AZMI_VAULT_URL", VAULT),
            ("AZMI_CONFIG_TTL", ""),
            ("AZMI_CONFIG_KEYS", " "),
            ("AZMI_CLIENT_ID", ""),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .expect("empty is unset");
    let error = Store::default()
        .get_all(&vault(), &settings, Instant::now())
        .expect_err("no keys");
    assert!(
        matches!(&error, Error::Upstream(m) if m.contains("AZMI_CONFIG_KEYS")),
        "{error:?}"
    );
    let vault = vault();
    Store::default()
        .get(&vault, &settings, "mysecret", Instant::now())
        .expect("read");
    assert_eq!(vault.reads.borrow()[0].1, None, "no client id");
}

#[test]
fn a_store_keeps_at_most_max_entries_and_forgets_the_oldest_first() {
    let vault = vault();
    let settings = settings(&[]);
    let mut store = Store::default();
    let start = Instant::now();
    for i in 0..super::MAX_ENTRIES + 10 {
        let at = start + Duration::from_millis(i as u64);
        store
            .get(&vault, &settings, &format!("key{i}"), at)
            .expect("read");
    }
    assert_eq!(store.entries.len(), super::MAX_ENTRIES);
    let reads = vault.reads.borrow().len();
    let later = start + Duration::from_secs(2);
    store.get(&vault, &settings, "key0", later).expect("read");
    assert_eq!(
        vault.reads.borrow().len(),
        reads + 1,
        "the oldest was forgotten"
    );
    let last = format!("key{}", super::MAX_ENTRIES + 9);
    store.get(&vault, &settings, &last, later).expect("kept");
    assert_eq!(vault.reads.borrow().len(), reads + 1, "the newest was kept");
}
