//! Organizations' lists of pending invitations, held rendered so that listing them (what
//! clients do most) costs neither the store nor serialization, and never served longer than
//! the store's word allows.
//!
//! The store records which organizations' invitations or users changed (any instance, any
//! process: triggers record it), and the follower of [`crate::freshness`] reads that record:
//! every poll, and after each write of this instance before the write is answered. A list is
//! dropped when its organization shows in a reading, all lists when a reading reports every
//! organization (a reset, a first reading) or fails, and none is served while the last
//! reading is stale. A list is also time-bound: it holds the invitations pending at the moment
//! it was read, which are the ones pending until the first of them expires, and the server
//! clock may be moved back.
//!
//! A list read from the store is kept only if nothing says it may predate a change: no list was
//! dropped since the read began (the [`Lease`]).
//!
//! Memory is bounded by a byte budget (`--invitation-list-cache-bytes`): a list that does not
//! fit pushes others out, one larger than the whole budget is not kept.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use orgdoor_domain::OrgId;
use orgdoor_store::ChangedOrganizations;
use time::OffsetDateTime;

use crate::freshness::Freshness;

/// The byte budget unless `--invitation-list-cache-bytes` says otherwise: room for about
/// 100,000 invitations, rendered.
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

/// What holding a list costs beyond its body: the map's entry and the id.
const ENTRY_OVERHEAD: usize = 128;

/// An organization's pending invitations, rendered as the list answers them.
#[derive(Debug, Clone)]
pub struct RenderedList {
    pub body: Bytes,
    /// The server time the list was read at: before it, invitations since expired were still
    /// pending.
    pub read_at: OffsetDateTime,
    /// When the first of its invitations expires (`None`: it has none).
    pub first_expiry: Option<OffsetDateTime>,
}

impl RenderedList {
    fn holds_at(&self, now: OffsetDateTime) -> bool {
        self.read_at <= now && self.first_expiry.is_none_or(|expiry| now < expiry)
    }

    fn cost(&self) -> usize {
        self.body.len() + ENTRY_OVERHEAD
    }
}

pub struct PendingLists {
    held: RwLock<Held>,
    /// Most bytes held; 0 holds nothing.
    budget: usize,
    freshness: Freshness,
}

#[derive(Default)]
struct Held {
    lists: HashMap<OrgId, RenderedList>,
    bytes: usize,
    /// Moves whenever lists are dropped for a change, so that a read that began before cannot
    /// be kept: it may predate the change. (Any drop, not only its organization's: a reading
    /// cannot say which organizations have reads in flight.)
    drops: u64,
    /// When the reading last recorded began, to ignore one that began earlier.
    read_at: Option<Instant>,
}

/// Taken before reading a list from the store, to keep what the read returns under.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    drops: u64,
}

impl PendingLists {
    pub fn new(budget: usize) -> Self {
        Self {
            held: RwLock::default(),
            budget,
            freshness: Freshness::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Held> {
        self.held.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether lists are ever held; with a budget of 0 there is nothing to keep coherent.
    pub fn is_enabled(&self) -> bool {
        self.budget > 0
    }

    /// The organization's list as it stands at server time `now`, if held and still to be
    /// trusted.
    pub fn get(&self, org: &OrgId, now: OffsetDateTime) -> Option<Bytes> {
        if !self.freshness.is_fresh() {
            return None;
        }
        let held = self.read();
        let list = held.lists.get(org)?;
        list.holds_at(now).then(|| list.body.clone())
    }

    /// Taken before reading a list from the store.
    pub fn lease(&self) -> Lease {
        Lease {
            drops: self.read().drops,
        }
    }

    /// Keeps a list read under `lease`, unless a list was dropped since (it may predate that
    /// change) or it is larger than the whole budget; pushes others out to make room.
    pub fn keep(&self, org: &OrgId, lease: Lease, list: RenderedList) {
        let cost = list.cost();
        if cost > self.budget {
            return;
        }
        let mut held = self.write();
        if held.drops != lease.drops || held.read_at.is_none() {
            return;
        }
        if let Some(replaced) = held.lists.remove(org) {
            held.bytes -= replaced.cost();
        }
        while held.bytes + cost > self.budget {
            let Some(victim) = held.lists.keys().next().cloned() else {
                break;
            };
            if let Some(pushed_out) = held.lists.remove(&victim) {
                held.bytes -= pushed_out.cost();
            }
        }
        held.bytes += cost;
        held.lists.insert(org.clone(), list);
    }

    /// Records a reading that began at `read_at` and found `changed`: their lists are dropped.
    /// A reading that began before the one already recorded is older news and changes nothing
    /// (what it reports was dropped with everything else by then).
    pub fn confirm(&self, changed: &ChangedOrganizations, read_at: Instant) {
        let mut held = self.write();
        if held.read_at.is_some_and(|recorded| read_at < recorded) {
            return;
        }
        match changed {
            ChangedOrganizations::Every => held.drop_all(),
            ChangedOrganizations::These(orgs) if !orgs.is_empty() => {
                for org in orgs {
                    if let Some(dropped) = held.lists.remove(org) {
                        held.bytes -= dropped.cost();
                    }
                }
                held.drops += 1;
            }
            ChangedOrganizations::These(_) => {}
        }
        held.read_at = Some(read_at);
        self.freshness.confirm(read_at);
    }

    /// Drops everything and trusts nothing until the next reading: for a write whose effect
    /// could not be confirmed, or a reading that failed. A reading that began before this call
    /// is ignored like any older news.
    pub fn forget_all(&self) {
        let mut held = self.write();
        held.drop_all();
        held.read_at = Some(Instant::now());
        self.freshness.lapse();
    }

    /// How many lists are held, and their bytes.
    pub fn size(&self) -> (usize, usize) {
        let held = self.read();
        (held.lists.len(), held.bytes)
    }
}

impl Held {
    fn drop_all(&mut self) {
        self.lists.clear();
        self.bytes = 0;
        self.drops += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orgdoor_domain::OrgId;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2026-08-10 03:03:37 UTC);

    fn org() -> OrgId {
        OrgId::generate(AT)
    }

    fn list(bytes: usize, first_expiry: Option<OffsetDateTime>) -> RenderedList {
        RenderedList {
            body: Bytes::from(vec![b' '; bytes]),
            read_at: AT,
            first_expiry,
        }
    }

    fn confirmed(budget: usize) -> PendingLists {
        let lists = PendingLists::new(budget);
        lists.confirm(&ChangedOrganizations::Every, Instant::now());
        lists
    }

    #[test]
    fn a_list_read_before_any_drop_is_not_kept() {
        let lists = confirmed(1 << 20);
        let (first, second) = (org(), org());
        let lease = lists.lease();
        lists.confirm(
            &ChangedOrganizations::These(vec![second.clone()]),
            Instant::now(),
        );
        lists.keep(&first, lease, list(10, None));
        assert!(lists.get(&first, AT).is_none());

        // Nothing held before the first reading either.
        let unread = PendingLists::new(1 << 20);
        unread.keep(&first, unread.lease(), list(10, None));
        assert_eq!(unread.size(), (0, 0));

        // A reading that names no organization drops nothing and spoils no lease.
        let lease = lists.lease();
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        lists.keep(&first, lease, list(10, None));
        assert_eq!(lists.get(&first, AT).map(|body| body.len()), Some(10));
    }

    #[test]
    fn a_reading_drops_the_lists_it_names_and_every_list_when_it_names_every_one() {
        let lists = confirmed(1 << 20);
        let (first, second) = (org(), org());
        lists.keep(&first, lists.lease(), list(10, None));
        lists.keep(&second, lists.lease(), list(20, None));
        lists.confirm(
            &ChangedOrganizations::These(vec![first.clone()]),
            Instant::now(),
        );
        assert!(lists.get(&first, AT).is_none());
        assert!(lists.get(&second, AT).is_some());
        assert_eq!(lists.size(), (1, 20 + ENTRY_OVERHEAD));
        lists.confirm(&ChangedOrganizations::Every, Instant::now());
        assert_eq!(lists.size(), (0, 0));
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        let budget = 3 * (100 + ENTRY_OVERHEAD);
        let lists = confirmed(budget);
        let orgs: Vec<OrgId> = (0..10).map(|_| org()).collect();
        for org in &orgs {
            lists.keep(org, lists.lease(), list(100, None));
            assert!(lists.size().1 <= budget);
        }
        assert_eq!(lists.size().0, 3);
        // The last one kept is there; one larger than the whole budget is not kept.
        assert!(lists.get(&orgs[9], AT).is_some());
        let large = org();
        lists.keep(&large, lists.lease(), list(budget, None));
        assert!(lists.get(&large, AT).is_none());
        // Keeping one again replaces it instead of counting it twice.
        lists.keep(&orgs[9], lists.lease(), list(100, None));
        assert_eq!(lists.size(), (3, budget));
        // A budget of 0 holds nothing.
        let none = confirmed(0);
        none.keep(&orgs[0], none.lease(), list(0, None));
        assert_eq!(none.size(), (0, 0));
        assert!(!none.is_enabled());
    }

    #[test]
    fn a_list_holds_from_its_reading_until_its_first_invitation_expires() {
        let lists = confirmed(1 << 20);
        let org = org();
        let expiry = AT + time::Duration::days(30);
        lists.keep(&org, lists.lease(), list(10, Some(expiry)));
        assert!(lists.get(&org, AT).is_some());
        assert!(
            lists
                .get(&org, expiry - time::Duration::seconds(1))
                .is_some()
        );
        assert!(lists.get(&org, expiry).is_none());
        assert!(lists.get(&org, AT - time::Duration::seconds(1)).is_none());
    }

    #[test]
    fn nothing_is_served_after_a_drop_of_everything_until_a_later_reading() {
        let lists = confirmed(1 << 20);
        let org = org();
        let began_before = Instant::now();
        lists.keep(&org, lists.lease(), list(10, None));
        lists.forget_all();
        lists.keep(&org, lists.lease(), list(10, None));
        // A reading that began before the drop is older news: it restores nothing.
        lists.confirm(&ChangedOrganizations::These(vec![]), began_before);
        assert!(lists.get(&org, AT).is_none());
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        assert!(lists.get(&org, AT).is_some());
    }
}
