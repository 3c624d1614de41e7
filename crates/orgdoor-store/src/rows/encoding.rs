//! How single values are stored: roles as comma-separated names, instants as UTC seconds,
//! pages as LIMIT/OFFSET; and what a failed read or write of them is.

use std::str::FromStr;

use orgdoor_domain::{OrgId, PageRequest, RoleSet};
use time::OffsetDateTime;

use crate::error::{is_unique_violation, missing_referent};
use crate::{Rejection, StoreError};

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(crate) fn parse<T: FromStr>(value: &str, what: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| corrupt(format_args!("{what} {value:?}")))
}

pub(crate) fn seconds(instant: OffsetDateTime) -> i64 {
    instant.unix_timestamp()
}

pub(crate) fn instant(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(corrupt)
}

/// Organization or project roles as stored: their Atlas names, comma-separated.
pub(crate) fn encode_roles<R: Copy + PartialEq + Into<&'static str>>(roles: &RoleSet<R>) -> String {
    roles.iter().map(Into::into).collect::<Vec<_>>().join(",")
}

pub(crate) fn decode_roles<R: Copy + PartialEq + FromStr>(
    encoded: &str,
) -> Result<RoleSet<R>, StoreError> {
    let roles = encoded
        .split(',')
        .map(|role| parse::<R>(role, "role"))
        .collect::<Result<Vec<_>, _>>()?;
    RoleSet::new(roles).ok_or_else(|| corrupt("an empty role set"))
}

pub(crate) fn limit_offset(page: PageRequest) -> (i64, i64) {
    (
        i64::from(page.items_per_page()),
        i64::try_from(page.offset()).unwrap_or(i64::MAX),
    )
}

pub(crate) fn count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or_default()
}

/// Maps a failed insert or update in `org`: a unique violation is the given rejection, a
/// foreign-key violation means the organization is gone, anything else is a store failure.
pub(crate) fn write_error(
    error: sqlx::Error,
    org: &OrgId,
    on_unique: impl FnOnce() -> Rejection,
) -> StoreError {
    if is_unique_violation(&error) {
        on_unique().into()
    } else {
        missing_referent(error, || Rejection::OrganizationNotFound(org.clone()))
    }
}
