//! `azmi emulator`: the emulator in the foreground, with the settings that
//! point azmi (or an Azure SDK) at it.

use std::io::Write;
use std::path::Path;

use azmi::Source;
use azmi_emulator::{Emulator, EmulatorConfig, demo};

use super::Failure;
use crate::args::EmulatorArgs;

/// How often the emulated kubelet replaces the projected token: far more
/// often than a real one (80 % of an hour), so that a client that reads
/// the file once is caught within minutes.
const ROTATE_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

pub(crate) async fn run(args: &EmulatorArgs) -> Result<(), Failure> {
    let addrs = [args.imds_listen, args.vault_listen];
    for addr in addrs.into_iter().chain(args.vault_plaintext_listen) {
        let ip = addr.ip();
        let local =
            ip.is_loopback() || matches!(ip, std::net::IpAddr::V4(v4) if v4.is_link_local());
        if !local {
            return Err(Failure::Usage(format!(
                "the emulator listens on loopback or link-local addresses only, not {addr}"
            )));
        }
    }
    // The Arc agent's key files go where the flag says (Azure SDKs insist on
    // the real agent's directory), else into a temporary directory.
    let arc_token_dir = args
        .arc_token_dir
        .on_command_line
        .then(|| args.arc_token_dir.path.clone());
    if let Some(dir) = &arc_token_dir
        && !dir.is_dir()
    {
        return Err(Failure::Usage(format!(
            "--arc-token-dir {}: not a directory; the emulated Arc agent writes its key files there",
            dir.display()
        )));
    }
    let demo = EmulatorConfig::demo();
    let config = EmulatorConfig {
        workload_identity: azmi_emulator::WorkloadIdentityConfig {
            rotate_every: Some(ROTATE_EVERY),
            ..demo.workload_identity.clone()
        },
        imds_listen: args.imds_listen,
        vault_listen: args.vault_listen,
        vault_plaintext_listen: args.vault_plaintext_listen,
        faults: args.fault.clone(),
        arc_token_dir,
        ..demo
    };
    let emulator = Emulator::start(config)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;

    // Keep the temporary directory alive as long as the emulator runs.
    let (ca_path, _temp_dir) = match &args.ca_out {
        Some(path) => (path.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("azmi-emulator-")
                .tempdir()
                .map_err(|e| Failure::Other(format!("cannot create a temporary directory: {e}")))?;
            (dir.path().join("ca.pem"), Some(dir))
        }
    };
    std::fs::write(&ca_path, emulator.ca_pem()).map_err(|e| {
        Failure::Other(format!(
            "cannot write the CA certificate to {}: {e}",
            ca_path.display()
        ))
    })?;
    print_instructions(&emulator, &ca_path);

    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Failure::Other(format!("cannot wait for Ctrl-C: {e}")))?;
    Ok(())
}

fn print_instructions(emulator: &Emulator, ca_path: &Path) {
    let imds = emulator.imds_endpoint();
    let connect_to = emulator.connect_to();
    let authority_pin = emulator.authority_connect_to();
    let ca = ca_path.display();
    let vault = emulator.vault_url();
    let mut text = format!(
        "# azmi emulator: every managed-identity endpoint and a Key Vault, on loopback; Ctrl-C stops it.
#   IMDS:      {imds}  (system-assigned identity, and user-assigned `azmi-demo` with client id {client})
#   Key Vault: {vault} served at {addr}  (secrets: mysecret, uami-only, disabled-secret)
#   CA:        {ca}{plaintext}
# Point azmi at it (in another shell):
export AZURE_POD_IDENTITY_AUTHORITY_HOST={imds}
export AZMI_CONNECT_TO={connect_to},{authority_pin}
export AZMI_CA_FILE={ca}
#   azmi token --resource https://vault.azure.net
#   azmi token --client-id {client}
#   azmi secret --vault {vault} --name mysecret
# Azure SDKs: AZURE_POD_IDENTITY_AUTHORITY_HOST as above, trust {ca}, and resolve {host} to {ip}.
#
# The other sources (emulated credentials, not secrets; the detected source wins over IMDS):
",
        client = demo::USER_CLIENT_ID,
        addr = emulator.vault_addr(),
        host = demo::VAULT_HOST,
        ip = emulator.vault_addr().ip(),
        plaintext = emulator
            .vault_plaintext_addr()
            .map(|a| format!("\n#   Key Vault in plain HTTP (for hosts that cannot trust the CA): http://{a}"))
            .unwrap_or_default(),
    );
    for source in [
        Source::Arc,
        Source::AppService,
        Source::AppService2017,
        Source::ServiceFabric,
        Source::CloudShell,
        Source::WorkloadIdentity,
    ] {
        let vars: Vec<String> = emulator
            .source_variables(source)
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let extra = match source {
            Source::Arc => format!(" --arc-token-dir {}", emulator.arc_token_dir().display()),
            // Entra is pinned to the emulator by AZMI_CONNECT_TO above.
            Source::WorkloadIdentity => format!(
                "  (the projected token rotates every {} s; an SDK trusts {ca} and reaches Entra at https://localhost:{})",
                ROTATE_EVERY.as_secs(),
                emulator.entra_addr().port()
            ),
            _ => String::new(),
        };
        text.push_str(&format!(
            "#   {source}: {} azmi token{extra}\n",
            vars.join(" ")
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}
