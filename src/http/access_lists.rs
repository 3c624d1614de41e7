//! What the access-list operations of API keys and service accounts share: an entry as a
//! request gives it, and a network as a path names it.

use orgdoor_domain::AllowedNetwork;
use orgdoor_domain::limits::MAX_ACCESS_LIST_ENTRIES;
use serde::Deserialize;

use crate::error::AppError;

/// `UserAccessListRequest` / `ServiceAccountIPAccessListEntry` as sent: exactly one of the two.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListRequest {
    cidr_block: Option<String>,
    ip_address: Option<String>,
}

/// At most [`MAX_ACCESS_LIST_ENTRIES`] entries; checked by the caller before it looks the
/// credential up, as Atlas's order has it.
pub fn check_entry_count(requests: &[AccessListRequest]) -> Result<(), AppError> {
    AppError::check_length("accessList", requests, MAX_ACCESS_LIST_ENTRIES)
}

/// The networks a list of entries names: each an address or a CIDR block
/// (`INVALID_IP_ADDRESS_OR_CIDR_NOTATION` otherwise), never both or neither.
pub fn allowed_networks(requests: Vec<AccessListRequest>) -> Result<Vec<AllowedNetwork>, AppError> {
    requests
        .into_iter()
        .map(|request| match (request.ip_address, request.cidr_block) {
            (Some(address), None) => AllowedNetwork::from_address(&address)
                .map_err(|_| AppError::InvalidIpAddressOrCidr(address)),
            (None, Some(block)) => AllowedNetwork::from_cidr(&block)
                .map_err(|_| AppError::InvalidIpAddressOrCidr(block)),
            (None, None) => Err(AppError::MissingAttribute("ipAddress".into())),
            (Some(_), Some(_)) => Err(AppError::InvalidAttributeValue {
                attribute: "cidrBlock".into(),
                reason: "set ipAddress or cidrBlock, not both".into(),
            }),
        })
        .collect()
}

/// The `{ipAddress}` / `{cidrBlock}` path segment (a CIDR block with its slash encoded).
pub fn parse_network(raw: &str) -> Result<AllowedNetwork, AppError> {
    AllowedNetwork::from_path(raw).map_err(|_| AppError::InvalidIpAddressOrCidr(raw.to_owned()))
}
