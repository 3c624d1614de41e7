//! Organizations' lists and pages, held rendered so that reading them again (what clients do
//! most) costs neither the store nor serialization, and never served longer than the store's
//! word allows: the list of pending invitations, and org-users pages as each request asked for
//! them.
//!
//! The store records which organizations' invitations or users changed (any instance, any
//! process: triggers record it), and the follower of [`crate::freshness`] reads that record:
//! every poll, and after each write of this instance before the write is answered. An
//! organization's views are dropped when it shows in a reading, all views when a reading
//! reports every organization (a reset, a first reading) or fails, and none is served while
//! the last reading is stale. A view is also time-bound: it says from when until when it holds
//! without a write (statuses follow the clock, and the server clock may be moved back).
//!
//! A view read from the store is kept only if nothing says it may predate a change: no view
//! was dropped since the read began (the [`Lease`]).
//!
//! Memory is bounded by a byte budget (`--view-cache-bytes`): a view that does not fit pushes
//! others out, one larger than the whole budget is not kept.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use orgdoor_domain::OrgId;
use orgdoor_store::ChangedOrganizations;
use time::OffsetDateTime;

use crate::freshness::Freshness;

/// The byte budget unless `--view-cache-bytes` says otherwise: room for about 100,000
/// invitations, rendered.
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;

/// What holding a view costs beyond its body and key: the maps' entries and the ids.
const ENTRY_OVERHEAD: usize = 160;

/// Which of an organization's views.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ViewKey {
    /// The whole list of pending invitations.
    PendingInvitations,
    /// A page of users, as a request named it (version, base URL, query).
    UsersPage(Box<str>),
}

impl ViewKey {
    fn cost(&self) -> usize {
        match self {
            Self::PendingInvitations => 0,
            Self::UsersPage(request) => request.len(),
        }
    }
}

/// A view rendered as its request answers it, and the server times it holds for.
#[derive(Debug, Clone)]
pub struct RenderedView {
    pub body: Bytes,
    /// From when it holds: the server time it was read at, or the start of that second.
    pub holds_from: OffsetDateTime,
    /// Until when it holds, if anything but a write ends it (an invitation expiring).
    pub holds_until: Option<OffsetDateTime>,
}

impl RenderedView {
    fn holds_at(&self, now: OffsetDateTime) -> bool {
        self.holds_from <= now && self.holds_until.is_none_or(|until| now < until)
    }
}

pub struct HeldViews {
    held: RwLock<Held>,
    /// Most bytes held; 0 holds nothing.
    budget: usize,
    freshness: Freshness,
}

#[derive(Default)]
struct Held {
    views: HashMap<OrgId, HashMap<ViewKey, RenderedView>>,
    bytes: usize,
    /// Moves whenever views are dropped for a change, so that a read that began before cannot
    /// be kept: it may predate the change. (Any drop, not only its organization's: a reading
    /// cannot say which organizations have reads in flight.)
    drops: u64,
    /// When the reading last recorded began, to ignore one that began earlier.
    read_at: Option<Instant>,
}

/// Taken before reading a view from the store, to keep what the read returns under.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    drops: u64,
}

fn cost(key: &ViewKey, view: &RenderedView) -> usize {
    view.body.len() + key.cost() + ENTRY_OVERHEAD
}

impl HeldViews {
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

    /// Whether views are ever held; with a budget of 0 there is nothing to keep coherent.
    pub fn is_enabled(&self) -> bool {
        self.budget > 0
    }

    /// The organization's view as it stands at server time `now`, if held and still to be
    /// trusted.
    pub fn get(&self, org: &OrgId, key: &ViewKey, now: OffsetDateTime) -> Option<Bytes> {
        if !self.freshness.is_fresh() {
            return None;
        }
        let held = self.read();
        let view = held.views.get(org)?.get(key)?;
        view.holds_at(now).then(|| view.body.clone())
    }

    /// Taken before reading a view from the store.
    pub fn lease(&self) -> Lease {
        Lease {
            drops: self.read().drops,
        }
    }

    /// Keeps a view read under `lease`, unless a view was dropped since (it may predate that
    /// change) or it is larger than the whole budget; pushes others out to make room.
    pub fn keep(&self, org: &OrgId, key: ViewKey, lease: Lease, view: RenderedView) {
        let cost = cost(&key, &view);
        if cost > self.budget {
            return;
        }
        let mut held = self.write();
        if held.drops != lease.drops || held.read_at.is_none() {
            return;
        }
        held.remove(org, &key);
        while held.bytes + cost > self.budget && held.push_one_out() {}
        held.bytes += cost;
        held.views.entry(org.clone()).or_default().insert(key, view);
    }

    /// Records a reading that began at `read_at` and found `changed`: their views are dropped.
    /// A reading that began before the one already recorded (a drop of everything meanwhile)
    /// still drops what it names, since views kept after that drop may predate those changes
    /// and no later reading reports them again, but it makes nothing fresh.
    pub fn confirm(&self, changed: &ChangedOrganizations, read_at: Instant) {
        let mut held = self.write();
        let older_news = held.read_at.is_some_and(|recorded| read_at < recorded);
        match changed {
            ChangedOrganizations::Every => held.drop_all(),
            ChangedOrganizations::These(orgs) if !orgs.is_empty() => {
                for org in orgs {
                    if let Some(dropped) = held.views.remove(org) {
                        held.bytes -= dropped
                            .iter()
                            .map(|(key, view)| cost(key, view))
                            .sum::<usize>();
                    }
                }
                held.drops += 1;
            }
            ChangedOrganizations::These(_) => {}
        }
        if !older_news {
            held.read_at = Some(read_at);
            self.freshness.confirm(read_at);
        }
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

    /// How many views are held, and their bytes.
    pub fn size(&self) -> (usize, usize) {
        let held = self.read();
        (held.views.values().map(HashMap::len).sum(), held.bytes)
    }
}

impl Held {
    fn drop_all(&mut self) {
        self.views.clear();
        self.bytes = 0;
        self.drops += 1;
    }

    fn remove(&mut self, org: &OrgId, key: &ViewKey) {
        let Some(views) = self.views.get_mut(org) else {
            return;
        };
        if let Some(removed) = views.remove(key) {
            self.bytes -= cost(key, &removed);
        }
        if views.is_empty() {
            self.views.remove(org);
        }
    }

    /// Drops some view to make room; `false` when none is left.
    fn push_one_out(&mut self) -> bool {
        let Some((org, key)) = self
            .views
            .iter()
            .find_map(|(org, views)| views.keys().next().map(|key| (org.clone(), key.clone())))
        else {
            return false;
        };
        self.remove(&org, &key);
        true
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

    const LIST: ViewKey = ViewKey::PendingInvitations;

    fn list(bytes: usize, holds_until: Option<OffsetDateTime>) -> RenderedView {
        RenderedView {
            body: Bytes::from(vec![b' '; bytes]),
            holds_from: AT,
            holds_until,
        }
    }

    fn confirmed(budget: usize) -> HeldViews {
        let lists = HeldViews::new(budget);
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
        lists.keep(&first, LIST, lease, list(10, None));
        assert!(lists.get(&first, &LIST, AT).is_none());

        // Nothing held before the first reading either.
        let unread = HeldViews::new(1 << 20);
        unread.keep(&first, LIST, unread.lease(), list(10, None));
        assert_eq!(unread.size(), (0, 0));

        // A reading that names no organization drops nothing and spoils no lease.
        let lease = lists.lease();
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        lists.keep(&first, LIST, lease, list(10, None));
        assert_eq!(
            lists.get(&first, &LIST, AT).map(|body| body.len()),
            Some(10)
        );
    }

    #[test]
    fn a_reading_drops_the_lists_it_names_and_every_list_when_it_names_every_one() {
        let lists = confirmed(1 << 20);
        let (first, second) = (org(), org());
        lists.keep(&first, LIST, lists.lease(), list(10, None));
        lists.keep(&second, LIST, lists.lease(), list(20, None));
        lists.confirm(
            &ChangedOrganizations::These(vec![first.clone()]),
            Instant::now(),
        );
        assert!(lists.get(&first, &LIST, AT).is_none());
        assert!(lists.get(&second, &LIST, AT).is_some());
        assert_eq!(lists.size(), (1, 20 + ENTRY_OVERHEAD));
        lists.confirm(&ChangedOrganizations::Every, Instant::now());
        assert_eq!(lists.size(), (0, 0));
    }

    #[test]
    fn an_organizations_pages_go_with_its_list() {
        let views = confirmed(1 << 20);
        let (first, second) = (org(), org());
        let page = |query: &str| ViewKey::UsersPage(query.into());
        views.keep(&first, LIST, views.lease(), list(10, None));
        views.keep(&first, page("pageNum=1"), views.lease(), list(30, None));
        views.keep(&first, page("pageNum=2"), views.lease(), list(30, None));
        views.keep(&second, page("pageNum=1"), views.lease(), list(30, None));
        assert_eq!(views.size().0, 4);
        assert_eq!(
            views
                .get(&first, &page("pageNum=2"), AT)
                .map(|body| body.len()),
            Some(30)
        );
        assert!(views.get(&first, &page("pageNum=3"), AT).is_none());
        views.confirm(
            &ChangedOrganizations::These(vec![first.clone()]),
            Instant::now(),
        );
        assert_eq!(views.size(), (1, 30 + "pageNum=1".len() + ENTRY_OVERHEAD));
        assert!(views.get(&second, &page("pageNum=1"), AT).is_some());
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        let budget = 3 * (100 + ENTRY_OVERHEAD);
        let lists = confirmed(budget);
        let orgs: Vec<OrgId> = (0..10).map(|_| org()).collect();
        for org in &orgs {
            lists.keep(org, LIST, lists.lease(), list(100, None));
            assert!(lists.size().1 <= budget);
        }
        assert_eq!(lists.size().0, 3);
        // The last one kept is there; one larger than the whole budget is not kept.
        assert!(lists.get(&orgs[9], &LIST, AT).is_some());
        let large = org();
        lists.keep(&large, LIST, lists.lease(), list(budget, None));
        assert!(lists.get(&large, &LIST, AT).is_none());
        // Keeping one again replaces it instead of counting it twice.
        lists.keep(&orgs[9], LIST, lists.lease(), list(100, None));
        assert_eq!(lists.size(), (3, budget));
        // A budget of 0 holds nothing.
        let none = confirmed(0);
        none.keep(&orgs[0], LIST, none.lease(), list(0, None));
        assert_eq!(none.size(), (0, 0));
        assert!(!none.is_enabled());
    }

    #[test]
    fn a_list_holds_from_its_reading_until_its_first_invitation_expires() {
        let lists = confirmed(1 << 20);
        let org = org();
        let expiry = AT + time::Duration::days(30);
        lists.keep(&org, LIST, lists.lease(), list(10, Some(expiry)));
        assert!(lists.get(&org, &LIST, AT).is_some());
        assert!(
            lists
                .get(&org, &LIST, expiry - time::Duration::seconds(1))
                .is_some()
        );
        assert!(lists.get(&org, &LIST, expiry).is_none());
        assert!(
            lists
                .get(&org, &LIST, AT - time::Duration::seconds(1))
                .is_none()
        );
    }

    #[test]
    fn nothing_is_served_after_a_drop_of_everything_until_a_later_reading() {
        let lists = confirmed(1 << 20);
        let org = org();
        let began_before = Instant::now();
        lists.keep(&org, LIST, lists.lease(), list(10, None));
        lists.forget_all();
        lists.keep(&org, LIST, lists.lease(), list(10, None));
        // A reading that began before the drop is older news: it restores nothing.
        lists.confirm(&ChangedOrganizations::These(vec![]), began_before);
        assert!(lists.get(&org, &LIST, AT).is_none());
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        assert!(lists.get(&org, &LIST, AT).is_some());
    }

    #[test]
    fn an_older_reading_still_drops_what_it_names() {
        let lists = confirmed(1 << 20);
        let org = org();
        let began_before = Instant::now();
        lists.forget_all();
        // Kept after the drop, but read before a change the older reading reports.
        lists.keep(&org, LIST, lists.lease(), list(10, None));
        lists.confirm(
            &ChangedOrganizations::These(vec![org.clone()]),
            began_before,
        );
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        assert!(lists.get(&org, &LIST, AT).is_none());
    }
}
