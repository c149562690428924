//! Credentials for tenants: each tenant's grant decides what it gets,
//! before anything is instantiated, cached or sent; every tenant of a
//! runtime shares one token cache; a budget keeps one tenant from spending
//! the identity endpoint's quota. Through the real component, against the
//! emulator, whose request counts prove what reached it.

use std::time::Duration;

use azmi::{Budget, Error, Grant, GrantRule, Identity, Setting};
use azmi_emulator::{Emulator, Service, demo};
use azmi_testkit::assert_error;

use crate::support::{config_for, credential, emulator};

const VAULT_AUDIENCE: &str = "https://vault.azure.net";

fn user() -> Identity {
    Identity::ClientId(demo::USER_CLIENT_ID.into())
}

/// A tenant that may use the user-assigned identity, get tokens for
/// storage, and read `mysecret` and the `uami-*` secrets of the demo vault.
fn alpha(emulator: &Emulator) -> Grant {
    Grant::builder("alpha")
        .identity(Identity::ClientId(demo::USER_CLIENT_ID.to_uppercase()))
        .resource("https://storage.azure.com/.default")
        .vault(emulator.vault_url(), ["mysecret", "uami-*"])
        .hand_out_tokens(true)
        .build()
        .unwrap()
}

/// A credential under `alpha`'s grant.
fn alpha_tenant(emulator: &Emulator) -> azmi::Credential {
    credential(config_for(emulator).grant(alpha(emulator)).build().unwrap())
}

fn counts(emulator: &Emulator) -> (u64, u64) {
    (emulator.imds_requests(), emulator.requests(Service::Vault))
}

#[tokio::test]
async fn a_tenant_gets_what_its_grant_allows_and_nothing_else() {
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    let tenant = alpha_tenant(&emulator);
    assert_eq!(
        tenant.config().identity(),
        &Identity::ClientId(demo::USER_CLIENT_ID.to_uppercase())
    );

    // Allowed: its identity (in any case), its audience, its secrets.
    let token = tenant.token("https://storage.azure.com/").await.unwrap();
    assert_eq!(token.resource, "https://storage.azure.com/");
    tenant
        .get_token("https://storage.azure.com", &user())
        .await
        .unwrap();
    let secret = tenant.secret(&vault, "uami-only", None).await.unwrap();
    assert_eq!(secret.value.expose(), "UAMISECRET");
    let before = counts(&emulator);

    // Refused, each by its rule, and nothing reaches the emulator.
    let refusals = [
        (
            tenant
                .get_token("https://storage.azure.com", &Identity::SystemAssigned)
                .await,
            "the system-assigned identity",
            GrantRule::Identities,
        ),
        (
            tenant.token("https://management.azure.com/.default").await,
            "the resource `https://management.azure.com`",
            GrantRule::Resources,
        ),
        (
            tenant.token(VAULT_AUDIENCE).await,
            "the resource `https://vault.azure.net`",
            GrantRule::Resources,
        ),
    ];
    for (result, says, rule) in refusals {
        let err = result.unwrap_err();
        assert_error!(err, Error::Denied(_), "tenant `alpha`", says, rule.name());
    }
    let err = tenant
        .secret("https://othervault.vault.azure.net", "mysecret", None)
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::Denied(_),
        "the vault othervault.vault.azure.net",
        "`vaults`"
    );
    let err = tenant
        .secret(&vault, "disabled-secret", None)
        .await
        .unwrap_err();
    assert_error!(
        err,
        Error::Denied(_),
        "the secret `disabled-secret`",
        "`secrets`"
    );
    let err = tenant
        .get_secret(&vault, "mysecret", None, &Identity::SystemAssigned)
        .await
        .unwrap_err();
    assert_error!(err, Error::Denied(_), "the system-assigned identity");
    assert_eq!(
        counts(&emulator),
        before,
        "a refused call reaches no endpoint"
    );

    let stats = tenant.grant_stats();
    assert_eq!(stats.denied_by(GrantRule::Identities), 2);
    assert_eq!(stats.denied_by(GrantRule::Resources), 2);
    assert_eq!(stats.denied_by(GrantRule::Vaults), 1);
    assert_eq!(stats.denied_by(GrantRule::Secrets), 1);
    assert_eq!(stats.denied_by(GrantRule::Tokens), 0);

    // What it was refused never names a credential it was given.
    for message in [
        tenant.token(VAULT_AUDIENCE).await.unwrap_err().to_string(),
        tenant
            .secret(&vault, "nope", None)
            .await
            .unwrap_err()
            .to_string(),
    ] {
        assert!(!message.contains(token.token.expose()), "{message}");
        assert!(!message.contains("UAMISECRET"), "{message}");
    }
}

#[tokio::test]
async fn a_tenant_may_read_secrets_without_ever_seeing_a_token() {
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    let grant = Grant::builder("beta")
        .identity(Identity::SystemAssigned)
        .resource(VAULT_AUDIENCE)
        .vault(&vault, ["*"])
        .build()
        .unwrap();
    let tenant = credential(config_for(&emulator).grant(grant).build().unwrap());
    let err = tenant.token(VAULT_AUDIENCE).await.unwrap_err();
    assert_error!(err, Error::Denied(_), "a bearer token", "`tokens`");
    assert_eq!(emulator.imds_requests(), 0);
    // The vault's token is fetched for it, and never handed over.
    let secret = tenant.secret(&vault, "mysecret", None).await.unwrap();
    assert_eq!(secret.value.expose(), "TOPSECRET");
    assert_eq!(emulator.imds_requests(), 1);
    assert_eq!(tenant.grant_stats().denied_by(GrantRule::Tokens), 1);
}

#[tokio::test]
async fn a_configuration_identity_the_grant_does_not_allow_is_refused() {
    let emulator = emulator().await;
    let err = config_for(&emulator)
        .grant(alpha(&emulator))
        .identity(Identity::SystemAssigned)
        .build()
        .unwrap_err();
    let Error::Config(ref config) = err else {
        panic!("{err:?}");
    };
    assert_eq!(config.setting, Setting::Grant);
    assert_error!(
        err,
        Error::Config(_),
        "ConfigBuilder::identity",
        "system-assigned"
    );
}

#[tokio::test]
async fn a_thousand_tenants_with_one_identity_cost_one_request() {
    let emulator = emulator().await;
    let tenants: Vec<_> = (0..1000)
        .map(|i| {
            let grant = Grant::builder(format!("tenant-{i}"))
                .identity(user())
                .resource(VAULT_AUDIENCE)
                .hand_out_tokens(true)
                .build()
                .unwrap();
            credential(config_for(&emulator).grant(grant).build().unwrap())
        })
        .collect();
    let calls: Vec<_> = tenants
        .iter()
        .map(|tenant| {
            let tenant = tenant.clone();
            tokio::spawn(async move { tenant.token(VAULT_AUDIENCE).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap().unwrap());
    }
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "one token for all");
    assert_eq!(emulator.imds_requests(), 1, "one identity-endpoint request");
    let misses: u64 = tenants.iter().map(|t| t.cache_stats().misses).sum();
    let served: u64 = tenants
        .iter()
        .map(|t| {
            let s = t.cache_stats();
            s.hits + s.coalesced
        })
        .sum();
    assert_eq!(
        (misses, served),
        (1, 999),
        "each tenant counts its own calls"
    );
    // Another identity, or another endpoint, is another entry.
    tenants[0].get_token(VAULT_AUDIENCE, &user()).await.unwrap();
    assert_eq!(emulator.imds_requests(), 1);
    let elsewhere = crate::support::emulator().await;
    let grant = Grant::builder("elsewhere")
        .identity(user())
        .resource(VAULT_AUDIENCE)
        .hand_out_tokens(true)
        .build()
        .unwrap();
    credential(config_for(&elsewhere).grant(grant).build().unwrap())
        .token(VAULT_AUDIENCE)
        .await
        .unwrap();
    assert_eq!(
        (emulator.imds_requests(), elsewhere.imds_requests()),
        (1, 1)
    );
}

#[tokio::test]
async fn the_budget_stops_a_greedy_tenant_and_not_its_neighbour() {
    let emulator = emulator().await;
    let grant = |name: &str, budget: Budget| {
        (0..100)
            .fold(
                Grant::builder(name)
                    .identity(Identity::SystemAssigned)
                    .hand_out_tokens(true)
                    .budget(budget),
                |g, i| g.resource(format!("api://resource-{i}")),
            )
            .build()
            .unwrap()
    };
    let greedy = credential(
        config_for(&emulator)
            .grant(grant("greedy", Budget::new(5, Duration::from_secs(3600))))
            .build()
            .unwrap(),
    );
    let neighbour = credential(
        config_for(&emulator)
            .grant(grant(
                "neighbour",
                Budget::new(5, Duration::from_secs(3600)),
            ))
            .build()
            .unwrap(),
    );
    let calls: Vec<_> = (0..100)
        .map(|i| {
            let greedy = greedy.clone();
            tokio::spawn(async move { greedy.token(&format!("api://resource-{i}")).await })
        })
        .collect();
    let (mut served, mut refused) = (Vec::new(), Vec::new());
    for (i, call) in calls.into_iter().enumerate() {
        match call.await.unwrap() {
            Ok(_) => served.push(i),
            Err(err) => {
                assert_error!(
                    err,
                    Error::Denied(_),
                    "tenant `greedy`",
                    "`budget`",
                    "next is available in"
                );
                refused.push(i);
            }
        }
    }
    assert_eq!(served.len(), 5, "its burst, and no more");
    assert_eq!(greedy.grant_stats().denied_by(GrantRule::Budget), 95);
    assert_eq!(emulator.imds_requests(), 5);
    // What it was served costs nothing again.
    greedy
        .token(&format!("api://resource-{}", served[0]))
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 5);
    // Its neighbour is served from its own budget, for what the greedy
    // tenant was refused (so the request reaches the endpoint).
    neighbour
        .token(&format!("api://resource-{}", refused[0]))
        .await
        .unwrap();
    assert_eq!(emulator.imds_requests(), 6);
    assert_eq!(neighbour.grant_stats().denied_by(GrantRule::Budget), 0);
}

/// The host's side of a plugin: a tenant's store with arguments and
/// stdout only (no network, files or environment), and its credential.
mod plugin {
    use std::sync::OnceLock;

    use azmi::{Credential, CredentialsView};
    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime_wasi::p2::bindings::Command;
    use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
    use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

    pub(super) struct Plugin {
        wasi: WasiCtx,
        table: ResourceTable,
        credential: Credential,
    }

    impl WasiView for Plugin {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl CredentialsView for Plugin {
        fn credential(&mut self) -> &Credential {
            &self.credential
        }
    }

    /// The tenant component and its linker, compiled once per test binary.
    fn linked() -> &'static (Component, Linker<Plugin>) {
        static LINKED: OnceLock<(Component, Linker<Plugin>)> = OnceLock::new();
        LINKED.get_or_init(|| {
            let engine = wasmtime::Engine::default();
            let component =
                Component::from_file(&engine, azmi_test_guests::TENANT_COMPONENT).unwrap();
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
            azmi::add_to_linker_async(&mut linker).unwrap();
            (component, linker)
        })
    }

    /// Runs the tenant's component on `tasks`; its lines, one per task.
    pub(super) async fn run(credential: Credential, tasks: &[String]) -> Vec<String> {
        let (component, linker) = linked();
        let stdout = MemoryOutputPipe::new(64 << 10);
        let wasi = WasiCtxBuilder::new()
            .arg("plugin")
            .args(tasks)
            .stdout(stdout.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let plugin = Plugin {
            wasi,
            table: ResourceTable::new(),
            credential,
        };
        let mut store = wasmtime::Store::new(linker.engine(), plugin);
        let command = Command::instantiate_async(&mut store, component, linker)
            .await
            .unwrap();
        command
            .wasi_cli_run()
            .call_run(&mut store)
            .await
            .unwrap()
            .unwrap();
        let printed = String::from_utf8(stdout.contents().to_vec()).unwrap();
        printed.lines().map(str::to_owned).collect()
    }
}

#[tokio::test]
async fn a_tenant_component_gets_exactly_its_grant_through_the_linker() {
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    let imds = emulator.addr(Service::Imds);
    let tenant = alpha_tenant(&emulator);
    let tasks = [
        "token https://storage.azure.com".to_owned(),
        format!("secret {vault} uami-only"),
        format!("token https://storage.azure.com {}", demo::SYSTEM_CLIENT_ID),
        "token https://management.azure.com".to_owned(),
        format!("secret {vault} disabled-secret"),
        "secret https://othervault.vault.azure.net mysecret".to_owned(),
        format!("tcp {imds}"),
    ];
    let connections = emulator.connections(Service::Imds);
    let lines = plugin::run(tenant.clone(), &tasks).await;
    assert_eq!(lines.len(), tasks.len(), "{lines:#?}");
    assert!(
        lines[0].starts_with("ok token https://storage.azure.com expires "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("ok secret uami-only version "),
        "{}",
        lines[1]
    );
    for (line, rule) in [
        (&lines[2], "`identities`"),
        (&lines[3], "`resources`"),
        (&lines[4], "`secrets`"),
        (&lines[5], "`vaults`"),
    ] {
        assert!(
            line.contains(" denied: the grant of tenant `alpha`") && line.contains(rule),
            "{line}"
        );
    }
    // The tenant has no network of its own: not even loopback.
    assert!(
        lines[6].starts_with(&format!("err tcp {imds} network: ")),
        "{}",
        lines[6]
    );
    // Two identity-endpoint requests (the storage token, the vault's), made
    // by azmi's component over its own connection; none by the tenant.
    assert_eq!(emulator.imds_requests(), 2);
    assert_eq!(emulator.connections(Service::Imds) - connections, 1);
    assert_eq!(tenant.grant_stats().denied_by(GrantRule::Identities), 1);
    // What the tenant printed holds no credential (it prints lengths).
    let token = tenant.token("https://storage.azure.com").await.unwrap();
    for line in &lines {
        assert!(
            !line.contains(token.token.expose()) && !line.contains("UAMISECRET"),
            "{line}"
        );
    }
}

#[tokio::test]
async fn a_component_linked_without_a_grant_gets_nothing() {
    let emulator = emulator().await;
    let vault = emulator.vault_url();
    // A configuration that may reach the vault, but no grant: through the
    // linker, deny by default.
    let ungranted = credential(config_for(&emulator).build().unwrap());
    let tasks = [
        "token https://vault.azure.net".to_owned(),
        format!("secret {vault} mysecret"),
    ];
    for line in plugin::run(ungranted, &tasks).await {
        assert!(
            line.contains(" denied: this component's credential has no grant"),
            "{line}"
        );
    }
    assert_eq!(counts(&emulator), (0, 0));
}

/// Everything azmi logs while tenants are served and refused, at the most
/// verbose level, holds no token and no secret value.
#[tokio::test]
async fn logs_of_granted_and_refused_calls_hold_no_credential() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This test's runtime has one thread: everything it runs logs here.
    let _logging = tracing::subscriber::set_default(subscriber);

    let emulator = emulator().await;
    let vault = emulator.vault_url();
    let tenant = alpha_tenant(&emulator);
    let token = tenant.token("https://storage.azure.com").await.unwrap();
    let secret = tenant.secret(&vault, "uami-only", None).await.unwrap();
    tenant
        .token("https://management.azure.com")
        .await
        .unwrap_err();
    tenant
        .secret(&vault, "mysecret-not-granted", None)
        .await
        .unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("rule `resources`"),
        "the refusals were logged: {logs}"
    );
    assert!(!logs.contains(token.token.expose()), "a token in the logs");
    assert!(
        !logs.contains(secret.value.expose()),
        "a secret in the logs"
    );
}
