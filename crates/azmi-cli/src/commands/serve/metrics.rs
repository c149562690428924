//! `GET /metrics`: the broker's counts in the Prometheus text format
//! (0.0.4). Labels are tenant names (validated at start: letters, digits,
//! `-`, `_`, `.`), rules, reasons and statuses; never a key, a token or an
//! identity id.

use std::fmt::Write;
use std::sync::PoisonError;

use azmi::GrantRule;

use super::broker::{Broker, Tenant};

pub(crate) fn render(broker: &Broker) -> String {
    let tenants: Vec<&Tenant> = broker.anonymous.iter().chain(&broker.tenants).collect();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let per_tenant = |f: &dyn Fn(&Tenant) -> u64| -> Vec<(String, u64)> {
        tenants
            .iter()
            .map(|t| (format!("{{tenant=\"{}\"}}", t.name), f(t)))
            .collect()
    };

    let mut answered = Vec::new();
    for tenant in &tenants {
        let counts = tenant
            .answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (status, n) in counts.iter() {
            answered.push((
                format!("{{tenant=\"{}\",code=\"{status}\"}}", tenant.name),
                *n,
            ));
        }
    }
    family(
        "azmi_serve_token_requests_total",
        "counter",
        "Token requests answered, by tenant and HTTP status.",
        answered,
    );
    let refused = broker
        .refused
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|(reason, n)| (format!("{{reason=\"{}\"}}", reason.label()), *n))
        .collect();
    family(
        "azmi_serve_refused_total",
        "counter",
        "Requests refused before a tenant was known, by reason.",
        refused,
    );
    family(
        "azmi_cache_hits_total",
        "counter",
        "Token requests served from the cache.",
        per_tenant(&|t| t.credential.cache_stats().hits),
    );
    family(
        "azmi_cache_misses_total",
        "counter",
        "Token requests that fetched from the identity endpoint.",
        per_tenant(&|t| t.credential.cache_stats().misses),
    );
    family(
        "azmi_cache_coalesced_total",
        "counter",
        "Token requests that waited for another request's fetch of the same token.",
        per_tenant(&|t| t.credential.cache_stats().coalesced),
    );
    family(
        "azmi_cache_refreshes_total",
        "counter",
        "Proactive refreshes of still-valid tokens.",
        per_tenant(&|t| t.credential.cache_stats().refreshes),
    );
    let mut denied = Vec::new();
    for tenant in &tenants {
        let stats = tenant.credential.grant_stats();
        for rule in GrantRule::ALL {
            let n = stats.denied_by(rule);
            if n > 0 {
                denied.push((format!("{{tenant=\"{}\",rule=\"{rule}\"}}", tenant.name), n));
            }
        }
    }
    family(
        "azmi_grant_denials_total",
        "counter",
        "Token requests a tenant's grant refused, by rule.",
        denied,
    );
    let entries = tenants
        .first()
        .map_or(0, |t| t.credential.cache_stats().entries);
    family(
        "azmi_cache_entries",
        "gauge",
        "Tokens held in the shared cache.",
        vec![(String::new(), entries)],
    );
    let upstream = broker.runtime.upstream_stats();
    for (name, help, value) in [
        (
            "azmi_upstream_requests_total",
            "Requests sent to the identity endpoint.",
            upstream.requests,
        ),
        (
            "azmi_upstream_errors_total",
            "Requests to the identity endpoint that failed: no response, 429 or 5xx.",
            upstream.errors,
        ),
        (
            "azmi_upstream_throttled_total",
            "429 answers from the identity endpoint.",
            upstream.throttled,
        ),
        (
            "azmi_upstream_held_back_total",
            "Requests answered 429 by azmi instead of being sent (the endpoint's Retry-After, or the upstream limit).",
            upstream.held_back,
        ),
    ] {
        family(name, "counter", help, vec![(String::new(), value)]);
    }
    if let Some(reachable) = upstream.reachable {
        family(
            "azmi_upstream_reachable",
            "gauge",
            "1 if the last request to the identity endpoint got an answer.",
            vec![(String::new(), u64::from(reachable))],
        );
    }
    out
}
