//! How many items one request may carry in each list, checked before any per-item work so that
//! a large body costs no more than reading it.
//!
//! Atlas's spec sets `maxItems` on one request list only (a service account's access-list
//! entries, 200); the other bounds follow Atlas's documented service limits or, where there is
//! none, are our choice (docs/compatibility.md). A list at its bound is accepted; one item more
//! is `VALIDATION_ERROR`.

use std::collections::HashSet;
use std::hash::Hash;

/// Organization or project roles in one list. Seven organization and eleven project roles
/// exist, so a list of twenty repeats some (our choice).
pub const MAX_ROLES: usize = 20;
/// `teamIds`: Atlas allows 250 teams per organization.
pub const MAX_TEAM_IDS: usize = 250;
/// `groupRoleAssignments`: Atlas allows 250 projects per organization.
pub const MAX_GROUP_ROLE_ASSIGNMENTS: usize = 250;
/// Users added to a team in one request (`usernames`, `addTeamUsers`): Atlas allows 250 users
/// per team.
pub const MAX_TEAM_USERS: usize = 250;
/// Teams given roles in a project in one request: Atlas allows 100 teams per project.
pub const MAX_PROJECT_TEAMS: usize = 100;
/// Resource tags of a project: Atlas allows 50 per resource.
pub const MAX_TAGS: usize = 50;
/// Access-list entries added in one request: the spec's `maxItems` for service accounts,
/// applied to API keys too.
pub const MAX_ACCESS_LIST_ENTRIES: usize = 200;

/// A list longer than its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at most {max} items are allowed")]
pub struct TooManyItems {
    pub max: usize,
}

/// `Ok` when `items` holds at most `max` entries.
pub fn at_most<T>(items: &[T], max: usize) -> Result<(), TooManyItems> {
    if items.len() > max {
        Err(TooManyItems { max })
    } else {
        Ok(())
    }
}

/// Removes repeats while keeping first-seen order (the spec's `uniqueItems`), in linear time.
pub fn dedup<T: Eq + Hash + Clone>(items: Vec<T>) -> Vec<T> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// Like [`dedup`], comparing items by `key` (an address by its lowercased form, say).
pub fn dedup_by_key<T, K: Eq + Hash>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .into_iter()
        .filter(|item| seen.insert(key(item)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_list_at_its_bound_fits_and_one_more_does_not() {
        assert_eq!(at_most(&[1, 2, 3], 3), Ok(()));
        assert_eq!(at_most(&[1, 2, 3, 4], 3), Err(TooManyItems { max: 3 }));
    }

    #[test]
    fn a_large_list_is_deduplicated_in_linear_time() {
        // Quadratic de-duplication of this many distinct items took minutes.
        let items: Vec<u64> = (0..200_000).chain(0..200_000).collect();
        let unique = dedup(items);
        assert_eq!(unique.len(), 200_000);
        assert_eq!(unique.first(), Some(&0));
        assert_eq!(unique.last(), Some(&199_999));
    }

    proptest! {
        #[test]
        fn dedup_keeps_the_first_of_each_in_order(items in proptest::collection::vec(0u8..8, 0..40)) {
            let mut expected: Vec<u8> = Vec::new();
            for item in &items {
                if !expected.contains(item) {
                    expected.push(*item);
                }
            }
            prop_assert_eq!(dedup(items.clone()), expected.clone());
            prop_assert_eq!(dedup_by_key(items, |item| *item), expected);
        }
    }
}
