//! Address allow-lists of CIDR blocks, IPv4 and IPv6 ([UH-AUTH-23], [UH-AUTH-25]).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// A list of CIDR blocks; an address is allowed when one contains it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// Parses blocks such as `127.0.0.0/8` and `::1/128`; a bare address is its own /32 or
    /// /128.
    pub fn parse<S: AsRef<str>>(blocks: &[S]) -> Result<AllowList, String> {
        blocks
            .iter()
            .map(|b| {
                let b = b.as_ref();
                b.parse::<IpNet>()
                    .or_else(|_| b.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{b:?} is not a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowList)
    }

    /// The loopback and private ranges: what a node accepts by default.
    pub fn local() -> AllowList {
        let blocks = [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ];
        AllowList(blocks.iter().filter_map(|b| b.parse().ok()).collect())
    }

    /// Every address: what an unconfigured node's outbound list is (1.2 restricts nothing).
    pub fn any() -> AllowList {
        AllowList(
            ["0.0.0.0/0", "::/0"]
                .iter()
                .filter_map(|b| b.parse().ok())
                .collect(),
        )
    }

    /// Whether `addr` is in a block, after mapping IPv4-mapped IPv6 addresses to IPv4.
    pub fn allows(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// Whether the list is empty (allows nothing).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let blocks: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&blocks.join(", "))
    }
}
