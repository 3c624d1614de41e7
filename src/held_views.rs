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
//! A view read from the store is kept only if nothing says it may predate a change: neither
//! its organization's views nor every view were dropped since the read began (the lease a
//! [`ReadTurn`] carries). One request at a time
//! reads a view that is not held; the others that miss it meanwhile wait for that read and
//! look again ([`HeldViews::lookup`]).
//!
//! Memory is bounded by a byte budget (`--view-cache-bytes`): a view that does not fit pushes
//! others out, one larger than the whole budget is not kept.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use axum::body::Bytes;
use orgdoor_domain::OrgId;
use orgdoor_store::ChangedOrganizations;
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::freshness::{Freshness, Readings};

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
    /// Asked for a reading when a view is held but the last reading is too old.
    readings: Arc<Readings>,
    /// The views being read from the store now, each by the request that missed it first;
    /// the receiver tells when that read ends.
    reading: Mutex<HashMap<(OrgId, ViewKey), watch::Receiver<()>>>,
    /// Hashes organizations into `Held::drops_by_bucket`; keyed at random, so no client can
    /// pick organizations that share another's bucket.
    buckets: RandomState,
}

struct Held {
    views: HashMap<OrgId, HashMap<ViewKey, RenderedView>>,
    bytes: usize,
    /// Moves whenever every view is dropped, so that no read that began before can be kept: it
    /// may predate the change.
    drops_of_all: u64,
    /// Moves whenever an organization's views are dropped for a change, counted in one of
    /// [`DROP_BUCKETS`] by a hash of the organization, so that a read of its views that began
    /// before cannot be kept. Bounded whatever the number of organizations; an organization
    /// that shares a bucket with a changed one only has a read not kept that could have been.
    drops_by_bucket: Vec<u64>,
    /// When the reading last recorded began, to ignore one that began earlier.
    read_at: Option<Instant>,
    /// Views kept since the start, for tests and diagnostics: each was read from the store.
    kept: u64,
}

/// How many counters of dropped organizations there are (`Held::drops_by_bucket`).
const DROP_BUCKETS: usize = 256;

/// Taken before reading a view from the store, to keep what the read returns under: the drops
/// that would make it stale.
#[derive(Debug, Clone, Copy)]
struct Lease {
    drops_of_all: u64,
    bucket: usize,
    drops_in_bucket: u64,
}

/// What a request for a view finds: the view, or its turn to read it from the store.
pub enum Lookup<'a> {
    Held(Bytes),
    Read(ReadTurn<'a>),
}

impl Lookup<'_> {
    pub fn is_held(&self) -> bool {
        matches!(self, Self::Held(_))
    }
}

/// A request's turn to read a view from the store and offer it to [`HeldViews::keep`].
///
/// Why only one at a time: the misses of a view that many clients read at once (a list of
/// 10,000 invitations after a change, a page at the turn of a second) would each read and
/// render it, all at once, costing the store, the CPU and memory N times for one result.
/// The others wait for the first read and look again; one that still misses (the read failed,
/// or what it read could not be kept) reads on its own instead of queueing again, so a view
/// that cannot be kept never lines its readers up one behind another.
pub struct ReadTurn<'a> {
    lease: Lease,
    reading: Option<Reading<'a>>,
}

/// A read of a view in flight; its end (kept, failed or cut off) wakes those waiting for it.
struct Reading<'a> {
    views: &'a HeldViews,
    view: (OrgId, ViewKey),
    /// Dropped after the entry is removed: waiters then wake and find the entry gone.
    _ended: watch::Sender<()>,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.views.lock_reading().remove(&self.view);
    }
}

fn cost(key: &ViewKey, view: &RenderedView) -> usize {
    view.body.len() + key.cost() + ENTRY_OVERHEAD
}

impl HeldViews {
    /// Holds up to `budget` bytes, asking `readings` for a reading when the last is too old.
    pub fn new(budget: usize, readings: Arc<Readings>) -> Self {
        Self {
            held: RwLock::default(),
            budget,
            freshness: Freshness::default(),
            readings,
            reading: Mutex::default(),
            buckets: RandomState::new(),
        }
    }

    fn bucket(&self, org: &OrgId) -> usize {
        (self.buckets.hash_one(org) % DROP_BUCKETS as u64) as usize
    }

    fn lock_reading(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(OrgId, ViewKey), watch::Receiver<()>>> {
        self.reading.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// The organization's view at server time `now` if held; otherwise the request's turn to
    /// read it, given once any read of it already in flight has ended and the view is still
    /// not held. A request must not look up a view while it holds a turn to read the same one:
    /// it would wait for itself.
    pub async fn lookup(&self, org: &OrgId, key: &ViewKey, now: OffsetDateTime) -> Lookup<'_> {
        if let Some(body) = self.get_fresh(org, key, now).await {
            return Lookup::Held(body);
        }
        let mut reading = None;
        let in_flight = if self.is_enabled() {
            match self.lock_reading().entry((org.clone(), key.clone())) {
                Entry::Occupied(entry) => Some(entry.get().clone()),
                Entry::Vacant(entry) => {
                    let (ended, watch) = watch::channel(());
                    reading = Some(Reading {
                        views: self,
                        view: entry.key().clone(),
                        _ended: ended,
                    });
                    entry.insert(watch);
                    None
                }
            }
        } else {
            None
        };
        if let Some(mut ended) = in_flight {
            // Only the sender's drop ends this wait: nothing is ever sent.
            let _ = ended.changed().await;
            if let Some(body) = self.get_fresh(org, key, now).await {
                return Lookup::Held(body);
            }
        }
        Lookup::Read(ReadTurn {
            lease: self.lease(org),
            reading,
        })
    }

    /// The view if held while the last reading is fresh. When it is held but the last reading
    /// is too old (the follower was late: a busy core, a slow store), it asks for a reading and
    /// serves the view if one that began after the ask left it held, however long that reading
    /// took: reading it from the store instead would make the core busier still. If no reading
    /// comes (the follower stopped, the store hangs), everything held is dropped, so later
    /// requests go to the store without waiting.
    async fn get_fresh(&self, org: &OrgId, key: &ViewKey, now: OffsetDateTime) -> Option<Bytes> {
        if let Some(body) = self.get(org, key, now) {
            return Some(body);
        }
        if !self.holds(org, key, now) {
            return None;
        }
        let asked = Instant::now();
        if !self.readings.await_reading().await {
            self.forget_all();
            return None;
        }
        let held = self.read();
        if held.read_at.is_none_or(|read_at| read_at < asked) {
            return None;
        }
        let view = held.views.get(org)?.get(key)?;
        view.holds_at(now).then(|| view.body.clone())
    }

    /// Whether the view is held, fresh or not.
    fn holds(&self, org: &OrgId, key: &ViewKey, now: OffsetDateTime) -> bool {
        let held = self.read();
        held.views
            .get(org)
            .and_then(|views| views.get(key))
            .is_some_and(|view| view.holds_at(now))
    }

    /// Taken before reading one of `org`'s views from the store.
    fn lease(&self, org: &OrgId) -> Lease {
        let bucket = self.bucket(org);
        let held = self.read();
        Lease {
            drops_of_all: held.drops_of_all,
            bucket,
            drops_in_bucket: held.drops_by_bucket[bucket],
        }
    }

    /// Keeps a view read in `turn`, unless the organization's views (or every view) were
    /// dropped since the turn was given (it may predate that change) or it is larger than the whole budget; pushes others out to make
    /// room. Ends the turn, waking those waiting for it.
    pub fn keep(&self, org: &OrgId, key: ViewKey, turn: ReadTurn<'_>, view: RenderedView) {
        let ReadTurn { lease, reading } = turn;
        self.keep_under(org, key, lease, view);
        // Only now that what it read is held do those waiting for it look again.
        drop(reading);
    }

    fn keep_under(&self, org: &OrgId, key: ViewKey, lease: Lease, view: RenderedView) {
        let cost = cost(&key, &view);
        if cost > self.budget {
            return;
        }
        let mut held = self.write();
        if held.drops_of_all != lease.drops_of_all
            || held.drops_by_bucket[lease.bucket] != lease.drops_in_bucket
            || held.read_at.is_none()
        {
            return;
        }
        held.remove(org, &key);
        while held.bytes + cost > self.budget && held.push_one_out() {}
        held.bytes += cost;
        held.kept += 1;
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
            ChangedOrganizations::These(orgs) => {
                for org in orgs {
                    if let Some(dropped) = held.views.remove(org) {
                        held.bytes -= dropped
                            .iter()
                            .map(|(key, view)| cost(key, view))
                            .sum::<usize>();
                    }
                    held.drops_by_bucket[self.bucket(org)] += 1;
                }
            }
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

    /// How many views were kept since the start: each was read from the store.
    pub fn kept(&self) -> u64 {
        self.read().kept
    }

    /// How many views are held, and their bytes.
    pub fn size(&self) -> (usize, usize) {
        let held = self.read();
        (held.views.values().map(HashMap::len).sum(), held.bytes)
    }
}

impl Default for Held {
    fn default() -> Self {
        Self {
            views: HashMap::new(),
            bytes: 0,
            drops_of_all: 0,
            drops_by_bucket: vec![0; DROP_BUCKETS],
            read_at: None,
            kept: 0,
        }
    }
}

impl Held {
    fn drop_all(&mut self) {
        self.views.clear();
        self.bytes = 0;
        self.drops_of_all += 1;
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

    /// A turn to read, as a request that found no read in flight gets it.
    fn turn<'a>(views: &'a HeldViews, org: &OrgId) -> ReadTurn<'a> {
        ReadTurn {
            lease: views.lease(org),
            reading: None,
        }
    }

    fn list(bytes: usize, holds_until: Option<OffsetDateTime>) -> RenderedView {
        RenderedView {
            body: Bytes::from(vec![b' '; bytes]),
            holds_from: AT,
            holds_until,
        }
    }

    fn confirmed(budget: usize) -> HeldViews {
        let lists = HeldViews::new(budget, Arc::default());
        lists.confirm(&ChangedOrganizations::Every, Instant::now());
        lists
    }

    #[test]
    fn a_list_read_before_a_drop_of_its_organization_or_of_all_is_not_kept() {
        let lists = confirmed(1 << 20);
        let first = org();
        // Another organization in another bucket: its changes spoil none of first's reads.
        let second = std::iter::repeat_with(org)
            .find(|other| lists.bucket(other) != lists.bucket(&first))
            .expect("an organization in another bucket");
        let lease = turn(&lists, &first);
        lists.confirm(
            &ChangedOrganizations::These(vec![first.clone()]),
            Instant::now(),
        );
        lists.keep(&first, LIST, lease, list(10, None));
        assert!(lists.get(&first, &LIST, AT).is_none());

        let lease = turn(&lists, &first);
        lists.confirm(&ChangedOrganizations::Every, Instant::now());
        lists.keep(&first, LIST, lease, list(10, None));
        assert!(lists.get(&first, &LIST, AT).is_none());

        // Nothing held before the first reading either.
        let unread = HeldViews::new(1 << 20, Arc::default());
        unread.keep(&first, LIST, turn(&unread, &first), list(10, None));
        assert_eq!(unread.size(), (0, 0));

        // A reading that names no organization, or only others, spoils no lease.
        let lease = turn(&lists, &first);
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        lists.confirm(
            &ChangedOrganizations::These(vec![second.clone()]),
            Instant::now(),
        );
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
        lists.keep(&first, LIST, turn(&lists, &first), list(10, None));
        lists.keep(&second, LIST, turn(&lists, &second), list(20, None));
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
        views.keep(&first, LIST, turn(&views, &first), list(10, None));
        views.keep(
            &first,
            page("pageNum=1"),
            turn(&views, &first),
            list(30, None),
        );
        views.keep(
            &first,
            page("pageNum=2"),
            turn(&views, &first),
            list(30, None),
        );
        views.keep(
            &second,
            page("pageNum=1"),
            turn(&views, &second),
            list(30, None),
        );
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
            lists.keep(org, LIST, turn(&lists, org), list(100, None));
            assert!(lists.size().1 <= budget);
        }
        assert_eq!(lists.size().0, 3);
        // The last one kept is there; one larger than the whole budget is not kept.
        assert!(lists.get(&orgs[9], &LIST, AT).is_some());
        let large = org();
        lists.keep(&large, LIST, turn(&lists, &large), list(budget, None));
        assert!(lists.get(&large, &LIST, AT).is_none());
        // Keeping one again replaces it instead of counting it twice.
        lists.keep(&orgs[9], LIST, turn(&lists, &orgs[9]), list(100, None));
        assert_eq!(lists.size(), (3, budget));
        // A budget of 0 holds nothing.
        let none = confirmed(0);
        none.keep(&orgs[0], LIST, turn(&none, &orgs[0]), list(0, None));
        assert_eq!(none.size(), (0, 0));
        assert!(!none.is_enabled());
    }

    #[test]
    fn a_list_holds_from_its_reading_until_its_first_invitation_expires() {
        let lists = confirmed(1 << 20);
        let org = org();
        let expiry = AT + time::Duration::days(30);
        lists.keep(&org, LIST, turn(&lists, &org), list(10, Some(expiry)));
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
        lists.keep(&org, LIST, turn(&lists, &org), list(10, None));
        lists.forget_all();
        lists.keep(&org, LIST, turn(&lists, &org), list(10, None));
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
        lists.keep(&org, LIST, turn(&lists, &org), list(10, None));
        lists.confirm(
            &ChangedOrganizations::These(vec![org.clone()]),
            began_before,
        );
        lists.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
        assert!(lists.get(&org, &LIST, AT).is_none());
    }

    /// Whether `lookup` is still waiting after the other tasks ran.
    async fn still_waiting<T>(lookup: &mut std::pin::Pin<Box<impl Future<Output = T>>>) -> bool {
        tokio::select! {
            biased;
            _ = lookup.as_mut() => false,
            () = tokio::task::yield_now() => true,
        }
    }

    /// Views whose follower reads only when asked and at once, finding no change: what is held
    /// never goes unconfirmed for long, however slow the machine running the test.
    fn answered(budget: usize) -> (Arc<HeldViews>, tokio::task::JoinHandle<()>) {
        let readings = Arc::new(Readings::default());
        let views = Arc::new(HeldViews::new(budget, Arc::clone(&readings)));
        views.confirm(&ChangedOrganizations::Every, Instant::now());
        let follower = tokio::spawn({
            let views = Arc::clone(&views);
            async move {
                let mut poll = tokio::time::interval(std::time::Duration::from_secs(3600));
                loop {
                    let covered = readings.reading_due(&mut poll).await;
                    views.confirm(&ChangedOrganizations::These(vec![]), Instant::now());
                    readings.reading_done(covered);
                }
            }
        });
        (views, follower)
    }

    #[tokio::test]
    async fn a_miss_waits_for_the_read_in_flight_and_takes_what_it_kept() {
        let (views, follower) = answered(1 << 20);
        let org = org();
        let Lookup::Read(first) = views.lookup(&org, &LIST, AT).await else {
            panic!("nothing is held yet");
        };
        let mut second = Box::pin(views.lookup(&org, &LIST, AT));
        assert!(still_waiting(&mut second).await, "a second read began");
        // Another view of the same organization is not held up.
        let other = ViewKey::UsersPage("pageNum=1".into());
        assert!(matches!(
            views.lookup(&org, &other, AT).await,
            Lookup::Read(_)
        ));

        views.keep(&org, LIST, first, list(10, None));
        match second.await {
            Lookup::Held(body) => assert_eq!(body.len(), 10),
            Lookup::Read(_) => panic!("the kept view was read again"),
        }
        assert!(views.lock_reading().is_empty());
        follower.abort();
    }

    #[tokio::test]
    async fn a_read_that_ends_without_keeping_lets_each_waiter_read_on_its_own() {
        let (views, follower) = answered(1 << 20);
        let org = org();
        let Lookup::Read(first) = views.lookup(&org, &LIST, AT).await else {
            panic!("nothing is held yet");
        };
        let mut second = Box::pin(views.lookup(&org, &LIST, AT));
        let mut third = Box::pin(views.lookup(&org, &LIST, AT));
        assert!(still_waiting(&mut second).await);
        assert!(still_waiting(&mut third).await);
        // The read failed, or its request was cut off.
        drop(first);
        let (Lookup::Read(second), Lookup::Read(third)) = (second.await, third.await) else {
            panic!("nothing was kept, so nothing can be held");
        };
        // Neither queues behind the other: both may read now, and either may keep.
        views.keep(&org, LIST, third, list(30, None));
        drop(second);
        assert!(views.lookup(&org, &LIST, AT).await.is_held());
        assert!(views.lock_reading().is_empty());
        follower.abort();
    }

    #[tokio::test]
    async fn a_held_view_gone_stale_is_served_once_a_reading_it_asked_for_confirms_it() {
        let (views, follower) = answered(1 << 20);
        let org = org();
        views.keep(&org, LIST, turn(&views, &org), list(10, None));
        tokio::time::sleep(crate::freshness::FRESH_FOR * 2).await;
        assert!(views.get(&org, &LIST, AT).is_none(), "stale");
        let kept = views.kept();
        assert!(views.lookup(&org, &LIST, AT).await.is_held());
        assert_eq!(views.kept(), kept);
        follower.abort();
    }

    #[tokio::test]
    async fn with_no_reading_to_confirm_it_a_stale_view_is_dropped_and_the_store_asked() {
        let views = confirmed(1 << 20);
        let org = org();
        views.keep(&org, LIST, turn(&views, &org), list(10, None));
        tokio::time::sleep(crate::freshness::FRESH_FOR * 2).await;
        // No follower answers: the look waits AFTER_WRITE_WAIT, then drops everything held...
        let began = Instant::now();
        assert!(!views.lookup(&org, &LIST, AT).await.is_held());
        assert!(began.elapsed() >= crate::freshness::AFTER_WRITE_WAIT);
        assert_eq!(views.size(), (0, 0));
        // ...so the next ones go to the store without waiting.
        let began = Instant::now();
        assert!(!views.lookup(&org, &LIST, AT).await.is_held());
        assert!(began.elapsed() < crate::freshness::AFTER_WRITE_WAIT);
    }

    #[tokio::test]
    async fn without_a_budget_misses_do_not_wait_for_each_other() {
        let views = HeldViews::new(0, Arc::default());
        views.confirm(&ChangedOrganizations::Every, Instant::now());
        let org = org();
        let first = views.lookup(&org, &LIST, AT).await;
        assert!(matches!(
            views.lookup(&org, &LIST, AT).await,
            Lookup::Read(_)
        ));
        drop(first);
    }
}
