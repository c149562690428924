//! Which addresses a destination may be connected to, over the rules of
//! `azmi_core::address`, and how a refusal is explained.

use std::net::IpAddr;

use azmi_core::address;

/// The address check of a destination that was not pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressRule {
    /// A literal identity endpoint: on this machine or its link, strictly.
    IdentityEndpoint,
    /// `localhost`: loopback only.
    Localhost,
    /// A vault: public unicast only.
    Vault,
    /// Microsoft Entra's token endpoint (workload identity): public
    /// unicast only.
    Authority,
}

impl AddressRule {
    pub(crate) fn allows(self, ip: IpAddr) -> bool {
        match self {
            AddressRule::IdentityEndpoint => address::identity_endpoint_allows(ip),
            AddressRule::Localhost => address::localhost_allows(ip),
            AddressRule::Vault | AddressRule::Authority => address::vault_allows(ip),
        }
    }

    /// The rule, for a refusal's message.
    pub(crate) fn explain(self) -> &'static str {
        match self {
            AddressRule::IdentityEndpoint => {
                "identity endpoints must be on this machine (127.0.0.0/8, ::1) or its link (169.254.0.0/16, fe80::/10); NAT64, 6to4 and IPv4-compatible IPv6 addresses leave the machine"
            }
            AddressRule::Localhost => {
                "localhost must resolve to a loopback address (127.0.0.0/8 or ::1); a link-local answer would be another machine"
            }
            AddressRule::Vault => {
                "vaults must resolve to public addresses (pin a private endpoint or an emulator with --connect-to)"
            }
            AddressRule::Authority => {
                "Microsoft Entra must resolve to public addresses (pin a proxy or an emulator with --connect-to)"
            }
        }
    }
}
