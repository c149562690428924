//! A plugin host that hands credentials to code it does not trust. Each
//! tenant is a component written against azmi's WIT alone (it imports
//! `azmi:identity/credentials`, world `credential-consumer`); the host
//! links that interface into it with the tenant's `Grant`, and no network:
//! the tenant asks azmi, azmi checks the grant, serves the runtime's shared
//! token cache or fetches through its own sandbox, and the tenant never
//! reaches the identity endpoint itself. Runs against the built-in
//! emulator:
//!
//! ```text
//! cargo run --release --example plugin-host
//! ```
//!
//! It prints what each tenant got and what each was refused, and exits
//! non-zero if any tenant got something its grant does not allow.

use std::time::Duration;

use azmi::{Budget, Credential, CredentialsView, Grant, GrantRule, Identity, Runtime};
use azmi_emulator::{Emulator, EmulatorConfig, Service, demo};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// One tenant's store: its WASI context (arguments and stdout only: no
/// network, no files, no environment) and its credential.
struct Plugin {
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

/// Runs the tenant's component once with `tasks` as its arguments and
/// returns what it printed, a line per task.
async fn run_plugin(
    linker: &Linker<Plugin>,
    component: &Component,
    credential: Credential,
    tasks: &[String],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
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
    let command = Command::instantiate_async(&mut store, component, linker).await?;
    let ran = command.wasi_cli_run().call_run(&mut store).await?;
    if ran.is_err() {
        return Err("the plugin exited with an error".into());
    }
    let printed = String::from_utf8(stdout.contents().to_vec())?;
    Ok(printed.lines().map(str::to_owned).collect())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Stand-ins for IMDS and https://myvault.vault.azure.net, on loopback.
    let emulator = Emulator::start(EmulatorConfig::demo()).await?;
    let vault = emulator.vault_url();

    // azmi's runtime: its component, and the token cache every tenant shares.
    let runtime = Runtime::new()?;

    // The tenants' engine and linker: WASI (as each store's context allows)
    // and azmi's `credentials`, and nothing else; no wasi:http.
    let engine = wasmtime::Engine::default();
    let component = Component::from_file(&engine, azmi_test_guests::TENANT_COMPONENT)?;
    let mut linker = Linker::<Plugin>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    azmi::add_to_linker_async(&mut linker)?;

    let imds = emulator.addr(Service::Imds);
    let tenants = [
        (
            // Reads one secret, never sees a token.
            Grant::builder("reader")
                .identity(Identity::SystemAssigned)
                .vault(&vault, ["mysecret"])
                .build()?,
            vec![
                format!("secret {vault} mysecret"),
                format!("secret {vault} uami-only"),
                "token https://vault.azure.net".to_owned(),
                format!("tcp {imds}"),
            ],
        ),
        (
            // A user-assigned identity, tokens for storage and management,
            // and a small budget.
            Grant::builder("deployer")
                .identity(Identity::ClientId(demo::USER_CLIENT_ID.into()))
                .resource("https://management.azure.com/")
                .resource("https://storage.azure.com")
                .vault(&vault, ["uami-*"])
                .hand_out_tokens(true)
                .budget(Budget::new(3, Duration::from_secs(60)))
                .build()?,
            vec![
                "token https://management.azure.com".to_owned(),
                "token https://storage.azure.com/.default".to_owned(),
                format!("token https://storage.azure.com {}", demo::SYSTEM_CLIENT_ID),
                "token https://graph.microsoft.com".to_owned(),
                format!("secret {vault} uami-only"),
            ],
        ),
        (
            // Granted nothing.
            Grant::builder("stranger").build()?,
            vec![
                "token https://management.azure.com".to_owned(),
                format!("secret {vault} mysecret"),
            ],
        ),
    ];

    let mut wrong = Vec::new();
    for (grant, tasks) in tenants {
        let name = grant.tenant().to_owned();
        let config = emulator.config_builder()?.grant(grant).build()?;
        let credential = Credential::new(runtime.clone(), config);
        let lines = run_plugin(&linker, &component, credential.clone(), &tasks).await?;
        for line in &lines {
            println!("{name}: {line}");
        }
        let stats = credential.grant_stats();
        let refused: Vec<String> = GrantRule::ALL
            .into_iter()
            .filter(|rule| stats.denied_by(*rule) > 0)
            .map(|rule| format!("{rule} {}", stats.denied_by(rule)))
            .collect();
        println!("{name}: refused by rule: {}", refused.join(", "));
        wrong.extend(check(&name, &tasks, &lines));
    }
    println!(
        "identity-endpoint requests: {} for every tenant together",
        emulator.imds_requests()
    );
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("tenants got what their grants do not allow: {wrong:?}").into())
    }
}

/// What each tenant must have got: the tasks its grant allows succeed,
/// the others are refused, and no tenant has a network of its own.
fn check(tenant: &str, tasks: &[String], lines: &[String]) -> Vec<String> {
    let allowed: &[bool] = match tenant {
        "reader" => &[true, false, false, false],
        "deployer" => &[true, true, false, false, true],
        _ => &[false, false],
    };
    let mut wrong = Vec::new();
    if lines.len() != tasks.len() {
        wrong.push(format!(
            "{tenant}: {} answers to {} tasks",
            lines.len(),
            tasks.len()
        ));
    }
    for ((task, line), allowed) in tasks.iter().zip(lines).zip(allowed) {
        let ok = line.starts_with("ok ");
        let refused = line.contains(" denied: ") || line.contains(" network: ");
        if (*allowed && !ok) || (!*allowed && !refused) {
            wrong.push(format!("{tenant}: {task} -> {line}"));
        }
    }
    wrong
}
