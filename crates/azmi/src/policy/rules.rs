//! The allow-list's rules, built from a configuration: the identity
//! endpoint each source uses, turned into the one rule that allows it (from
//! the source's own variable, on this machine or its link only, or for
//! workload identity a Microsoft Entra authority, exactly that method,
//! scheme, host, port and path), and the vaults.

use std::collections::BTreeMap;

use azmi_core::{
    ARC_DEFAULT_ENDPOINT, AZURE_AUTHORITY_HOST, AZURE_CLIENT_ID, AZURE_POD_IDENTITY_AUTHORITY_HOST,
    AZURE_TENANT_ID, IDENTITY_ENDPOINT, IDENTITY_SERVER_THUMBPRINT, IMDS_DEFAULT_BASE,
    MSI_ENDPOINT, Source, entra,
};

use azmi_core::address;

use crate::error::{Error, Setting};
use crate::policy::{self, EndpointRule, IMDS_TOKEN_PATH, Reach, Scheme, TlsTrust};

/// The rule for `source`, whose variables are in `env`; and, for IMDS, the
/// normalised base URL the component should be told (`None` for the
/// default).
pub(crate) fn endpoint_rule(
    source: Source,
    env: &BTreeMap<String, String>,
) -> Result<(EndpointRule, Option<String>), Error> {
    let var = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let required = |name: &'static str| {
        var(name).ok_or_else(|| {
            Error::config(
                Setting::Variable(name),
                None,
                format!("the {source} source needs {name}, which is not set"),
            )
        })
    };
    let get = http::Method::GET;
    match source {
        Source::Imds => {
            let raw = var(AZURE_POD_IDENTITY_AUTHORITY_HOST).unwrap_or(IMDS_DEFAULT_BASE);
            let (mut rule, base) =
                parse(AZURE_POD_IDENTITY_AUTHORITY_HOST, raw, get, &[Scheme::Http])?;
            rule.path = format!("{}{IMDS_TOKEN_PATH}", base.trim_end_matches('/'));
            let base_url = base_url(&rule, base.trim_end_matches('/'));
            Ok((rule, (base_url != IMDS_DEFAULT_BASE).then_some(base_url)))
        }
        Source::Arc => {
            let raw = var(IDENTITY_ENDPOINT).unwrap_or(ARC_DEFAULT_ENDPOINT);
            Ok((parse(IDENTITY_ENDPOINT, raw, get, &[Scheme::Http])?.0, None))
        }
        Source::AppService => Ok((
            parse(
                IDENTITY_ENDPOINT,
                required(IDENTITY_ENDPOINT)?,
                get,
                &[Scheme::Http, Scheme::Https],
            )?
            .0,
            None,
        )),
        Source::AppService2017 => Ok((
            parse(
                MSI_ENDPOINT,
                required(MSI_ENDPOINT)?,
                get,
                &[Scheme::Http, Scheme::Https],
            )?
            .0,
            None,
        )),
        Source::CloudShell => Ok((
            parse(
                MSI_ENDPOINT,
                required(MSI_ENDPOINT)?,
                http::Method::POST,
                &[Scheme::Http, Scheme::Https],
            )?
            .0,
            None,
        )),
        Source::ServiceFabric => {
            let (mut rule, _) = parse(
                IDENTITY_ENDPOINT,
                required(IDENTITY_ENDPOINT)?,
                get,
                &[Scheme::Https],
            )?;
            let raw = required(IDENTITY_SERVER_THUMBPRINT)?;
            let thumbprint = crate::tls::parse_thumbprint(raw).map_err(|why| {
                Error::config(
                    Setting::Variable(IDENTITY_SERVER_THUMBPRINT),
                    Some(raw),
                    format!("{IDENTITY_SERVER_THUMBPRINT}: {why}"),
                )
            })?;
            rule.trust = TlsTrust::Pinned(thumbprint);
            Ok((rule, None))
        }
        Source::WorkloadIdentity => Ok((
            workload_identity_rule(
                required(AZURE_TENANT_ID)?,
                required(AZURE_CLIENT_ID)?,
                var(AZURE_AUTHORITY_HOST),
            )?,
            None,
        )),
    }
}

/// Workload identity's one request: POST to the tenant's token endpoint at
/// the Entra authority, https on 443. (Whether the authority is a known
/// one, or pinned, is checked with the pins, `check_authority`.)
fn workload_identity_rule(
    tenant: &str,
    client_id: &str,
    authority: Option<&str>,
) -> Result<EndpointRule, Error> {
    let invalid = |name: &'static str, raw: &str, why: String| {
        Error::config(
            Setting::Variable(name),
            Some(raw),
            format!("{name}=`{raw}` {why}"),
        )
    };
    entra::check_tenant(tenant).map_err(|why| invalid(AZURE_TENANT_ID, tenant, why))?;
    entra::check_client_id(client_id).map_err(|why| invalid(AZURE_CLIENT_ID, client_id, why))?;
    let raw = authority.unwrap_or(entra::DEFAULT_AUTHORITY_HOST);
    let host = entra::parse_authority_host(raw)
        .map_err(|why| invalid(AZURE_AUTHORITY_HOST, raw, why.to_string()))?;
    Ok(EndpointRule {
        method: http::Method::POST,
        scheme: Scheme::Https,
        host,
        port: 443,
        path: entra::token_path(tenant),
        trust: TlsTrust::WebPki,
        reach: Reach::Internet,
    })
}

/// An Entra authority must be one of the clouds' (`entra::KNOWN_AUTHORITY_HOSTS`),
/// or pinned by the operator to an address: azmi sends the pod's
/// service-account token there.
pub(crate) fn check_authority(rule: &EndpointRule, pinned: bool) -> Result<(), Error> {
    if rule.reach != Reach::Internet || pinned || entra::is_known_authority(&rule.host) {
        return Ok(());
    }
    Err(Error::config(
        Setting::Variable(AZURE_AUTHORITY_HOST),
        Some(&rule.host),
        format!(
            "{AZURE_AUTHORITY_HOST} names `{}`, which is not a Microsoft Entra authority ({}); azmi sends the service-account token only to one, or to a host an operator pinned with --connect-to {}:443:ADDR:PORT",
            rule.host,
            entra::KNOWN_AUTHORITY_HOSTS.join(", "),
            rule.host
        ),
    ))
}

fn base_url(rule: &EndpointRule, base_path: &str) -> String {
    let scheme = "http";
    if rule.port == 80 {
        format!("{scheme}://{}{base_path}", rule.host)
    } else {
        format!("{scheme}://{}:{}{base_path}", rule.host, rule.port)
    }
}

/// Parses endpoint `raw` from variable `var` into a rule and its path.
fn parse(
    var: &'static str,
    raw: &str,
    method: http::Method,
    schemes: &[Scheme],
) -> Result<(EndpointRule, String), Error> {
    let invalid = |why: &str| {
        Error::config(
            Setting::Variable(var),
            Some(raw),
            format!("{var}=`{raw}` {why}"),
        )
    };
    let uri: http::Uri = raw.parse().map_err(|_| invalid("is not a URL"))?;
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => {
            return Err(invalid(&format!(
                "has scheme {other}; identity endpoints are http or https"
            )));
        }
        None => return Err(invalid("has no scheme; give an absolute URL")),
    };
    if !schemes.contains(&scheme) {
        return Err(invalid(match schemes {
            [Scheme::Https] => "is not https (this source's certificate is pinned)",
            _ => "is not http (identity endpoints on this machine are plain http)",
        }));
    }
    if uri.query().is_some() {
        return Err(invalid("has a query string"));
    }
    let authority = uri.authority().ok_or_else(|| invalid("has no host"))?;
    let (host, port) =
        policy::split_authority(authority.as_str(), scheme).map_err(|why| invalid(&why))?;
    // An IP literal must be on this machine or its link; the only name is
    // `localhost` (the Arc agent's and Cloud Shell's), resolved and checked
    // again per request (loopback only). Any other name is refused here,
    // before anything is looked up.
    let ip = policy::ip_literal(&host);
    if let Some(std::net::IpAddr::V6(v6)) = ip
        && let Some(form) = address::off_machine_ipv4_form(v6)
    {
        return Err(invalid(&format!(
            "is a {form} IPv6 address: it carries an IPv4 address but is routed off this machine, and azmi never sends identity requests across a network; give the IPv4 address itself"
        )));
    }
    let local = match ip {
        Some(ip) => address::identity_endpoint_allows(ip),
        None => host == "localhost",
    };
    if !local {
        return Err(invalid(
            "is not on this machine: identity endpoints must be a loopback address (127.0.0.0/8, ::1), a link-local one (169.254.0.0/16, fe80::/10; IMDS is 169.254.169.254), or localhost, and azmi never sends identity requests across a network",
        ));
    }
    let path = uri.path().to_owned();
    let rule = EndpointRule {
        method,
        scheme,
        host,
        port,
        path: path.clone(),
        trust: TlsTrust::WebPki,
        reach: Reach::Local,
    };
    Ok((rule, path))
}

/// Parses an allowed vault URL into its host name, by the rule the
/// component applies to the URLs it is given (`azmi_core::vault`).
pub(crate) fn parse_vault(raw: &str) -> Result<String, Error> {
    azmi_core::vault::parse_vault_url(raw).map_err(|why| {
        Error::config(
            Setting::Vault,
            Some(raw),
            format!("the vault `{raw}` {why}; give https://<vault-name>.vault.azure.net"),
        )
    })
}
