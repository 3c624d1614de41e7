//! API access lists: the addresses a credential may be used from.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAccessListEntry {
    #[error("{0} is not an IP address")]
    NotAnAddress(String),
    #[error("{0} is not a CIDR block")]
    NotACidrBlock(String),
}

/// One allowed network: a single address (`/32`, `/128`) or a CIDR block, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllowedNetwork(IpNet);

impl AllowedNetwork {
    /// From an `ipAddress` value.
    pub fn from_address(candidate: &str) -> Result<Self, InvalidAccessListEntry> {
        let address: IpAddr = candidate
            .parse()
            .map_err(|_| InvalidAccessListEntry::NotAnAddress(candidate.to_owned()))?;
        Ok(Self(IpNet::from(address)))
    }

    /// From a `cidrBlock` value; `/` may arrive percent-encoded as `%2F`, as in paths.
    pub fn from_cidr(candidate: &str) -> Result<Self, InvalidAccessListEntry> {
        let decoded = candidate.replace("%2F", "/").replace("%2f", "/");
        let network = IpNet::from_str(&decoded)
            .map_err(|_| InvalidAccessListEntry::NotACidrBlock(candidate.to_owned()))?;
        Ok(Self(network.trunc()))
    }

    /// From a path segment: an address or a CIDR block.
    pub fn from_path(candidate: &str) -> Result<Self, InvalidAccessListEntry> {
        if candidate.contains('/') || candidate.to_ascii_lowercase().contains("%2f") {
            Self::from_cidr(candidate)
        } else {
            Self::from_address(candidate)
        }
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        // An IPv4 client may arrive as an IPv4-mapped IPv6 address on a dual-stack socket.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        self.0.contains(&address)
    }

    /// The address, when the network is a single host.
    pub fn single_address(&self) -> Option<IpAddr> {
        (self.0.prefix_len() == self.0.max_prefix_len()).then(|| self.0.addr())
    }

    /// `address/prefix`, the stored form.
    pub fn cidr(&self) -> String {
        self.0.to_string()
    }

    /// The single address as Atlas's spec patterns for `ipAddress` take it: IPv6 with all eight
    /// groups written out (`2001:db8:0:0:0:0:0:1`; the patterns allow no `::`).
    pub fn address_in_full(&self) -> Option<String> {
        self.single_address().map(address_in_full)
    }

    /// `cidrBlock` as the spec's patterns take it: the address in full, then the prefix length.
    pub fn cidr_in_full(&self) -> String {
        format!("{}/{}", address_in_full(self.0.addr()), self.0.prefix_len())
    }
}

fn address_in_full(address: IpAddr) -> String {
    match address {
        IpAddr::V6(v6) => v6
            .segments()
            .iter()
            .map(|group| format!("{group:x}"))
            .collect::<Vec<_>>()
            .join(":"),
        v4 => v4.to_string(),
    }
}

impl fmt::Display for AllowedNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for AllowedNetwork {
    type Err = InvalidAccessListEntry;

    fn from_str(candidate: &str) -> Result<Self, Self::Err> {
        Self::from_cidr(candidate)
    }
}

/// An entry of a credential's access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessListEntry {
    pub network: AllowedNetwork,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_single_hosts_and_blocks_lose_their_host_bits() {
        let host = AllowedNetwork::from_address("192.0.2.7").expect("valid");
        assert_eq!(host.cidr(), "192.0.2.7/32");
        assert_eq!(
            host.single_address(),
            Some("192.0.2.7".parse().expect("ip"))
        );
        let block = AllowedNetwork::from_cidr("192.0.2.7%2F24").expect("valid");
        assert_eq!(block.cidr(), "192.0.2.0/24");
        assert_eq!(block.single_address(), None);
        assert!(block.contains("192.0.2.200".parse().expect("ip")));
        assert!(!block.contains("192.0.3.1".parse().expect("ip")));
        assert!(block.contains("::ffff:192.0.2.9".parse().expect("ip")));
    }

    #[test]
    fn malformed_entries_are_refused() {
        assert!(AllowedNetwork::from_address("192.0.2.0/24").is_err());
        assert!(AllowedNetwork::from_cidr("192.0.2.0/33").is_err());
        assert!(AllowedNetwork::from_cidr("nonsense").is_err());
        assert!(AllowedNetwork::from_path("256.1.1.1").is_err());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(candidate in "\\PC{0,40}") {
            let _ = AllowedNetwork::from_path(&candidate);
        }

        #[test]
        fn every_v4_block_contains_its_own_network(a in any::<u8>(), b in any::<u8>(), prefix in 0u8..=32) {
            let block = AllowedNetwork::from_cidr(&format!("{a}.{b}.1.1/{prefix}")).expect("valid");
            let network: IpNet = block.cidr().parse().expect("round trip");
            prop_assert!(block.contains(network.addr()));
        }
    }

    #[test]
    fn ipv6_networks_are_written_out_as_the_spec_patterns_want() {
        let block = |cidr: &str| {
            AllowedNetwork::from_cidr(cidr)
                .expect("valid")
                .cidr_in_full()
        };
        assert_eq!(block("2001:db8::1/128"), "2001:db8:0:0:0:0:0:1/128");
        assert_eq!(block("2001:DB8::/32"), "2001:db8:0:0:0:0:0:0/32");
        assert_eq!(block("::/0"), "0:0:0:0:0:0:0:0/0");
        assert_eq!(block("192.0.2.77/24"), "192.0.2.0/24");
        let address = |text: &str| {
            AllowedNetwork::from_address(text)
                .expect("address")
                .address_in_full()
                .expect("a single host")
        };
        assert_eq!(address("::ffff:192.0.2.1"), "0:0:0:0:0:ffff:c000:201");
        assert_eq!(address("192.0.2.1"), "192.0.2.1");
        assert!(
            AllowedNetwork::from_cidr("10.0.0.0/8")
                .expect("valid")
                .address_in_full()
                .is_none()
        );
    }
}
