//! `connect-to` pins: a vault's `HOST:443`, or workload identity's Entra
//! authority, connected to another address (a private endpoint, a proxy,
//! an emulator), as curl's `--connect-to`. Managed-identity endpoints are
//! never pinned.

use std::fmt;

use super::normalize_host;
use crate::error::{Error, Setting};

/// `HOST:PORT:ADDR:PORT2`, as curl's `--connect-to`: a request for
/// HOST:PORT connects to ADDR:PORT2 instead. TLS still verifies HOST. The
/// operator chose ADDR, so its address class is not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) target_host: String,
    pub(crate) target_port: u16,
}

impl ConnectTo {
    /// A pin of `host:port` to `target_host:target_port`, checked as the
    /// `HOST:PORT:ADDR:PORT2` text is (hosts normalized, ports 1-65535).
    ///
    /// # Errors
    /// `Error::Config` (`Setting::ConnectTo`) naming the part that is not
    /// valid.
    pub fn new(
        host: &str,
        port: u16,
        target_host: &str,
        target_port: u16,
    ) -> Result<ConnectTo, Error> {
        format!(
            "{}:{port}:{}:{target_port}",
            bracket(host),
            bracket(target_host)
        )
        .parse::<ConnectTo>()
        .map_err(|why| Error::config(Setting::ConnectTo, Some(host), why))
    }

    /// The host:port whose requests are pinned.
    pub fn host(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// Where they connect instead.
    pub fn target(&self) -> (&str, u16) {
        (&self.target_host, self.target_port)
    }
}

/// An IPv6 address in brackets, anything else as it is.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    fn from_str(s: &str) -> Result<ConnectTo, String> {
        let usage = || {
            format!(
                "`{s}` is not HOST:PORT:ADDR:PORT2 (for example myvault.vault.azure.net:443:127.0.0.1:8443; IPv6 in brackets)"
            )
        };
        let mut parts = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let (part, after) = if let Some(v6) = rest.strip_prefix('[') {
                let end = v6.find(']').ok_or_else(usage)?;
                (&rest[..end + 2], &v6[end + 1..])
            } else {
                match rest.find(':') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, ""),
                }
            };
            parts.push(part);
            rest = match after.strip_prefix(':') {
                Some(r) if !r.is_empty() => r,
                Some(_) => return Err(usage()),
                None if after.is_empty() => "",
                None => return Err(usage()),
            };
        }
        let [host, port, target_host, target_port] = parts[..] else {
            return Err(usage());
        };
        let port_of = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(usage);
        Ok(ConnectTo {
            host: normalize_host(host).map_err(|why| format!("{}: {why}", usage()))?,
            port: port_of(port)?,
            target_host: normalize_host(target_host)
                .map_err(|why| format!("{}: {why}", usage()))?,
            target_port: port_of(target_port)?,
        })
    }
}

impl ConnectTo {
    /// A pin must name a vault on 443, or an Entra authority on 443 (a
    /// known one, or `authority`, workload identity's when that is the
    /// source): managed-identity endpoints are never pinned.
    pub(crate) fn check_for_vaults(&self, authority: Option<&str>) -> Result<(), Error> {
        let entra = authority == Some(self.host.as_str())
            || azmi_core::entra::is_known_authority(&self.host);
        if entra && self.port == 443 {
            return Ok(());
        }
        let refused = |why: String| {
            Error::config(
                Setting::ConnectTo,
                Some(&self.to_string()),
                format!(
                    "the connect-to pin `{self}` {why}; pins are for vaults (<vault-name>.vault.azure.net:443:ADDR:PORT) and workload identity's Entra authority (its host:443:ADDR:PORT) only, and managed-identity endpoints are never pinned, so their requests and credentials stay on this machine"
                ),
            )
        };
        if let Err(why) = azmi_core::vault::check_vault_host(&self.host) {
            return Err(refused(format!("names `{}`, which {why}", self.host)));
        }
        if self.port != 443 {
            return Err(refused(format!(
                "names port {}; vaults are only reached on 443",
                self.port
            )));
        }
        Ok(())
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.host, self.port, self.target_host, self.target_port
        )
    }
}
