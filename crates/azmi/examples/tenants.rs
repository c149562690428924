//! Embedding azmi for many tenants: one runtime per process (with the
//! token cache they share), one `Credential` per tenant with its own
//! identity, vault allow-list, limits and counts, called concurrently. For
//! tenants whose code the host does not trust, add a grant
//! (`examples/plugin-host.rs`). Runs against the built-in emulator, so
//! it works on any machine:
//!
//! ```text
//! cargo run -p azmi --example tenants
//! ```
//!
//! On Azure, drop the lines marked "on Azure: leave out" (the IMDS
//! endpoint, the loopback pin and the emulator's CA), allow the tenant's
//! real vault, and on App Service or Arc add `identity_variables_from_env()`.

use std::time::Duration;

use azmi::{CallLimits, Config, Credential, Error, Identity, Runtime};
use azmi_emulator::{Emulator, EmulatorConfig, demo};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Stand-ins for IMDS and https://myvault.vault.azure.net, on loopback.
    let emulator = Emulator::start(EmulatorConfig::demo()).await?;
    let vault = emulator.vault_url();

    // Compile (or load) the component once; every tenant shares it.
    let runtime = Runtime::new()?;

    // Tenant "alpha": the system-assigned identity, allowed to read the
    // vault, with a tighter deadline than the default.
    let alpha = Credential::new(
        runtime.clone(),
        Config::builder()
            .imds_endpoint(emulator.imds_endpoint()) // on Azure: leave out
            .allow_vault(&vault)
            .connect_to(emulator.connect_to()) // on Azure: leave out
            .add_root_certificates_pem(emulator.ca_pem().as_bytes(), "the emulator's CA")? // on Azure: leave out
            .call_limits(CallLimits::default().timeout(Duration::from_secs(10)))
            .build()?,
    );
    // Tenant "beta": a user-assigned identity, and no vault at all.
    let beta = Credential::new(
        runtime.clone(),
        Config::builder()
            .imds_endpoint(emulator.imds_endpoint()) // on Azure: leave out
            .identity(Identity::ClientId(demo::USER_CLIENT_ID.into()))
            .build()?,
    );

    // Both at once, from separate tasks.
    let (secret, token) = tokio::join!(
        tokio::spawn({
            let alpha = alpha.clone();
            let vault = vault.clone();
            async move { alpha.secret(&vault, "mysecret", None).await }
        }),
        tokio::spawn({
            let beta = beta.clone();
            async move { beta.token("https://management.azure.com").await }
        }),
    );
    let secret = secret.expect("the task ran")?;
    let token = token.expect("the task ran")?;
    println!("alpha read mysecret: {} bytes", secret.value.expose().len());
    println!(
        "beta got a token for {} ({} bytes, expires at {})",
        token.resource,
        token.token.expose().len(),
        token.expires_on
    );

    // Beta's sandbox cannot reach the vault: the host refuses the request
    // before any connection is made.
    match beta.secret(&vault, "mysecret", None).await {
        Err(Error::Denied(why)) => println!("beta may not read the vault: {why}"),
        other => panic!("beta should have been denied, got {other:?}"),
    }

    // The runtime's cache: alpha's second read needs no new token (and its
    // counts are alpha's own).
    alpha.secret(&vault, "mysecret", None).await?;
    println!("alpha's cache: {:?}", alpha.cache_stats());
    Ok(())
}
