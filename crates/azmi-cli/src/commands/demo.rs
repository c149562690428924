//! `azmi demo`: the seed's walk-through, through the real sandbox, against
//! the built-in emulator on ephemeral loopback ports. Each step prints what
//! it asked and what came back; tokens are never shown, the demo secret is.

use std::time::Instant;

use azmi::{Credential, Error, Identity, Source};
use azmi_emulator::{Emulator, EmulatorConfig, demo};

use super::{Failure, config_failure, runtime};
use crate::args::Common;
use crate::output::now;

pub(crate) async fn run(common: &Common) -> Result<(), Failure> {
    let started = Instant::now();
    println!(
        "azmi demo: managed identity and Key Vault through the sandbox, against the built-in emulator (loopback only)\n"
    );
    let emulator = Emulator::start(EmulatorConfig::demo())
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    let config = emulator
        .config_builder()
        .and_then(|b| b.timeout(common.timeout.0).build())
        .map_err(config_failure)?;
    println!(
        "emulator  IMDS at {}, Key Vault {} at {}",
        emulator.imds_endpoint(),
        emulator.vault_url(),
        emulator.vault_addr()
    );
    println!(
        "sandbox   {}; no files, no sockets, no other environment\n",
        config.describe_policy()
    );
    let credential_runtime = runtime(common)?;
    let credential = Credential::new(credential_runtime.clone(), config);

    let mut failed = 0;
    let mut step = |ok: bool| failed += usize::from(!ok);

    println!("1. token for https://vault.azure.net, system-assigned identity");
    step(report_token(
        credential
            .get_token("https://vault.azure.net", &Identity::SystemAssigned)
            .await,
    ));

    println!(
        "2. token for https://management.azure.com/, user-assigned identity (client id {})",
        demo::USER_CLIENT_ID
    );
    let user = Identity::ClientId(demo::USER_CLIENT_ID.into());
    step(report_token(
        credential
            .get_token("https://management.azure.com/", &user)
            .await,
    ));

    println!("3. secret `mysecret` from {}", emulator.vault_url());
    let result = credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await;
    step(match result {
        Ok(secret) => {
            println!(
                "   ok: mysecret = {} (version {})\n",
                secret.value.expose(),
                secret.version
            );
            secret.value.expose() == "TOPSECRET"
        }
        Err(e) => unexpected(&e),
    });

    println!(
        "4. token on an Azure Arc server: the agent challenges, the component reads its key file"
    );
    let arc = emulator
        .config_builder_for(Source::Arc)
        .and_then(|b| b.timeout(common.timeout.0).build())
        .map_err(config_failure)?;
    println!(
        "   sandbox: {}; files: {} read-only (host {})",
        arc.describe_policy(),
        azmi::ARC_TOKEN_DIR,
        emulator.arc_token_dir().display()
    );
    let arc_credential = Credential::new(credential_runtime.clone(), arc);
    step(report_token(
        arc_credential
            .get_token("https://vault.azure.net", &Identity::SystemAssigned)
            .await,
    ));

    println!(
        "5. secret `mysecret` in an AKS pod with workload identity: the component reads the projected service-account token and exchanges it at Microsoft Entra"
    );
    let workload = emulator
        .config_builder_for(Source::WorkloadIdentity)
        .and_then(|b| b.timeout(common.timeout.0).build())
        .map_err(config_failure)?;
    let token_file = emulator.workload_identity_token_file();
    println!(
        "   sandbox: {}; files: {} read-only",
        workload.describe_policy(),
        token_file.parent().unwrap_or(&token_file).display()
    );
    let workload_credential = Credential::new(credential_runtime.clone(), workload);
    let result = workload_credential
        .get_secret(
            &emulator.vault_url(),
            "mysecret",
            None,
            &Identity::SystemAssigned,
        )
        .await;
    step(match result {
        Ok(secret) => {
            println!(
                "   ok: mysecret = {} through identity {}\n",
                secret.value.expose(),
                demo::USER_CLIENT_ID
            );
            secret.value.expose() == "TOPSECRET"
        }
        Err(e) => unexpected(&e),
    });

    let other = "https://othervault.vault.azure.net";
    println!("6. secret `mysecret` from {other}, which the policy does not allow");
    let result = credential
        .get_secret(other, "mysecret", None, &Identity::SystemAssigned)
        .await;
    step(match result {
        Err(Error::Denied(reason)) => {
            println!("   denied by the sandbox, as it should be: {reason}\n");
            true
        }
        Ok(_) => {
            println!("   UNEXPECTED: the sandbox let the request through\n");
            false
        }
        Err(e) => unexpected(&e),
    });

    println!(
        "emulator saw {} IMDS, {} Arc, {} Entra and {} vault requests; done in {} ms",
        emulator.imds_requests(),
        emulator.requests(azmi_emulator::Service::Arc),
        emulator.requests(azmi_emulator::Service::WorkloadIdentity),
        emulator.vault_requests(),
        started.elapsed().as_millis()
    );
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Other(format!(
            "{failed} demo step(s) did not go as expected"
        )))
    }
}

fn report_token(result: Result<azmi::AccessToken, Error>) -> bool {
    match result {
        Ok(token) => {
            let left = token.expires_on.saturating_sub(now());
            println!(
                "   ok: {} token for {} ({} characters, not shown), expires in {}h{:02}m\n",
                token.token_type,
                token.resource,
                token.token.expose().len(),
                left / 3600,
                left % 3600 / 60
            );
            true
        }
        Err(e) => unexpected(&e),
    }
}

fn unexpected(error: &Error) -> bool {
    println!("   FAILED: {error}\n");
    false
}
