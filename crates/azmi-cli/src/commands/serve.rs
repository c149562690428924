//! `azmi serve`: a credential broker on loopback for the processes of a
//! machine. It speaks the two managed-identity protocols the Azure SDKs
//! already speak (IMDS, and App Service's `IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER`), fetches every token through the sandboxed component
//! as `azmi token` does, keeps one cache for every client, and answers each
//! caller only what its tenant's grant allows.

mod broker;
mod config;
mod metrics;
mod protocol;
mod server;
mod timed_io;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use azmi::{Credential, UpstreamLimit};
use tokio::net::TcpListener;

use super::{Failure, config_builder, config_failure};
use crate::args::{Common, ServeArgs};
use broker::{Broker, Tenant};
use config::ServeConfig;

pub(crate) async fn run(common: &Common, args: &ServeArgs) -> Result<(), Failure> {
    for addr in &args.listen {
        if !addr.ip().is_loopback() {
            return Err(Failure::Usage(format!(
                "--listen {addr}: azmi serve listens on loopback addresses only (127.0.0.1, [::1]); whoever reaches it gets the grants it serves"
            )));
        }
    }
    let served = match &args.config {
        Some(path) => config::load(path).map_err(Failure::Usage)?,
        None => ServeConfig {
            tenants: Vec::new(),
            anonymous: None,
        },
    };
    let broker = Arc::new(broker(common, args, served, args.config.is_none())?);

    let mut listeners = Vec::new();
    for addr in &args.listen {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Failure::Other(format!("cannot listen on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Other(format!("cannot read the address of {addr}: {e}")))?;
        listeners.push((listener, bound));
    }
    let bound: Vec<SocketAddr> = listeners.iter().map(|(_, a)| *a).collect();
    refuse_itself_as_upstream(common, &bound)?;
    // Watched before the listen lines: a SIGTERM right after them stops
    // the broker cleanly rather than killing it.
    let signals = stop_signals()?;
    print_ready(&bound, &broker, args);

    let limits = server::ClientLimits {
        max_connections: args.max_connections as usize,
        timeout: args.client_timeout.0,
    };
    // Requests in flight finish within their deadline (--timeout); a
    // little more lets their answers be written.
    let drain = common.timeout.0 + Duration::from_secs(5);
    server::serve(
        listeners.into_iter().map(|(l, _)| l).collect(),
        broker,
        limits,
        || {
            let signals = signals.clone();
            async move {
                let _ = signals.lock().await.recv().await;
            }
        },
        drain,
    )
    .await
    .map_err(Failure::Other)
}

/// The variable clients are told to export names the broker's own
/// upstream too: pointed at the broker, every request would wait for
/// itself until its deadline.
fn refuse_itself_as_upstream(common: &Common, bound: &[SocketAddr]) -> Result<(), Failure> {
    let upstreams = [
        (
            "--imds-endpoint (AZURE_POD_IDENTITY_AUTHORITY_HOST)",
            common.imds_endpoint.clone(),
        ),
        ("IDENTITY_ENDPOINT", std::env::var("IDENTITY_ENDPOINT").ok()),
    ];
    for (name, url) in upstreams {
        let Some(authority) = url
            .as_deref()
            .and_then(|u| u.parse::<http::Uri>().ok())
            .and_then(|u| u.authority().map(|a| a.as_str().to_ascii_lowercase()))
        else {
            continue;
        };
        for addr in bound {
            let port = addr.port();
            let same = [format!("{addr}"), format!("localhost:{port}")].contains(&authority);
            if same {
                return Err(Failure::Usage(format!(
                    "{name} is this broker itself ({authority}): point the broker's own environment at the real identity endpoint (the variable it prints is for its clients)"
                )));
            }
        }
    }
    Ok(())
}

/// One `Credential` per tenant, all on one runtime: one cache, one gate.
fn broker(
    common: &Common,
    args: &ServeArgs,
    served: ServeConfig,
    transparent: bool,
) -> Result<Broker, Failure> {
    let runtime = super::runtime_builder(common)?
        .upstream_limit(
            UpstreamLimit::default()
                .per_second(args.upstream_rate)
                .concurrent(args.upstream_concurrency),
        )
        .build()
        .map_err(config_failure)?;
    let credential = |grant: Option<azmi::Grant>| -> Result<Credential, Failure> {
        let mut builder = config_builder(common, None)?;
        if let Some(grant) = grant {
            builder = builder.grant(grant);
        }
        let config = builder.build().map_err(config_failure)?;
        Ok(Credential::new(runtime.clone(), config))
    };
    let mut tenants = Vec::new();
    for spec in served.tenants {
        let credential = credential(Some(spec.grant))?;
        tenants.push(Tenant::new(
            &spec.name,
            Some((spec.key_digest, spec.key_file)),
            credential,
        ));
    }
    // Without a configuration, IMDS-mode callers may have whatever the
    // machine's identity has, as from IMDS itself.
    let anonymous = match (served.anonymous, transparent) {
        (Some(grant), _) => Some(credential(Some(grant))?),
        (None, true) => Some(credential(None)?),
        (None, false) => None,
    };
    let first = tenants
        .first()
        .map(|t| &t.credential)
        .or(anonymous.as_ref());
    if let Some(credential) = first {
        let config = credential.config();
        tracing::debug!(
            target: "azmi::serve",
            "identity source {}; sandbox policy: {}",
            config.source(),
            config.describe_policy()
        );
    }
    Ok(Broker {
        runtime,
        tenants,
        anonymous: anonymous.map(|c| Tenant::new(config::ANONYMOUS, None, c)),
        refused: Default::default(),
    })
}

/// The listen lines (exactly one per listener, flushed: scripts wait for
/// them), then how to point clients at the broker.
fn print_ready(bound: &[SocketAddr], broker: &Broker, args: &ServeArgs) {
    let mut text = String::new();
    for addr in bound {
        text.push_str(&format!("azmi serve: listening on http://{addr}\n"));
    }
    let base = format!("http://{}", bound[0]);
    text.push_str(
        "# Point Azure SDKs at the broker (Ctrl-C or SIGTERM stops it, after the requests in flight):\n",
    );
    if broker.anonymous.is_some() {
        let grant = if args.config.is_none() {
            "everything the machine's identity has"
        } else {
            "the [anonymous] grant"
        };
        text.push_str(&format!(
            "# IMDS mode ({grant}; Python, .NET, JavaScript, Java):\nexport AZURE_POD_IDENTITY_AUTHORITY_HOST={base}\n"
        ));
    } else {
        text.push_str("# IMDS mode: refused (the configuration has no [anonymous] section)\n");
    }
    if broker.tenants.is_empty() {
        text.push_str(
            "# App Service mode: no tenants (give --config [[tenant]] entries with a key_file)\n",
        );
    } else {
        text.push_str(
            "# App Service mode, one key per tenant (every SDK, Go and Rust included):\n",
        );
    }
    for tenant in &broker.tenants {
        let key_file = tenant
            .key_file
            .as_ref()
            .map_or(String::new(), |p| p.display().to_string());
        text.push_str(&format!(
            "#   {}: IDENTITY_ENDPOINT={base}/msi/token IDENTITY_HEADER=\"$(cat {key_file})\"\n",
            tenant.name
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Each SIGINT or SIGTERM, as a message; the handlers are installed now.
fn stop_signals() -> Result<Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>>, Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| Failure::Other(format!("cannot watch {name}: {e}")))
    };
    let mut interrupt = watch(SignalKind::interrupt(), "SIGINT")?;
    let mut terminate = watch(SignalKind::terminate(), "SIGTERM")?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            if tx.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok(Arc::new(tokio::sync::Mutex::new(rx)))
}
