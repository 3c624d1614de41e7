//! The bounds on connections: how many may be open, and what each may hold open while idle.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Limits on what clients can make the server hold; each is a `serve` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections at most. At the cap, a new connection closes the oldest idle one (no
    /// request in flight) or, failing that, the one that has waited longest for its client to
    /// send a request body, so a flood of idle, half-sent or slow-body connections cannot lock
    /// others out.
    pub max_connections: usize,
    /// From a request's first byte to the end of its head (slow-header clients).
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait, idle, for its next request.
    pub idle_timeout: Duration,
    /// From the handler's first read of a body to its end (slow or endless bodies).
    pub body_read_timeout: Duration,
    /// How long a response may wait for its client to take more of it: a client that stops
    /// reading would otherwise hold the connection and the unsent rest of the response for as
    /// long as it likes. Beyond, the connection is closed.
    pub response_write_timeout: Duration,
    /// A whole request, answered 503 beyond (a database that hangs rather than refusing).
    pub request_timeout: Duration,
    /// Bytes of request bodies the server holds at once, over every connection. Each body
    /// reserves its declared length (the largest allowed body when chunked) before it is read;
    /// one that finds no room is answered 503 at once, so slow uploads cannot add up to more.
    pub max_body_memory: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(20),
            response_write_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(30),
            max_body_memory: 256 * 1024 * 1024,
        }
    }
}

/// The largest request body any operation accepts (axum's default limit for buffered bodies),
/// and what a body of unknown length reserves.
pub(super) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Every open connection, oldest first, and the permits that bound how many there are.
pub(super) struct Registry {
    pub(super) limits: ConnectionLimits,
    permits: Arc<Semaphore>,
    /// Bytes of request bodies that may be held at once.
    pub(super) body_memory: Arc<Semaphore>,
    open: Mutex<BTreeMap<u64, Arc<ConnectionState>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

impl Registry {
    pub(super) fn new(limits: ConnectionLimits) -> Self {
        let limits = ConnectionLimits {
            max_connections: limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            ..limits
        };
        Self {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            body_memory: Arc::new(Semaphore::new(
                limits.max_body_memory.min(Semaphore::MAX_PERMITS),
            )),
            limits,
            open: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Room for one more connection: at once if below the cap, else after closing an idle or
    /// body-waiting connection, else when one closes by itself.
    pub(super) async fn reserve(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return permit;
        }
        self.evict_one();
        loop {
            if let Ok(permit) = self.permits.clone().acquire_owned().await {
                return permit;
            }
            // The semaphore is never closed; should it be, wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Registers an accepted connection under its permit.
    pub(super) fn track(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Tracked {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnectionState::new(self.epoch, self.now()));
        self.lock_open().insert(id, state.clone());
        Tracked {
            id,
            state,
            registry: self.clone(),
            _permit: permit,
        }
    }

    /// Closes the oldest connection that has no request in flight or, if every connection is
    /// busy, the one whose request has waited longest for its client to send the body: both
    /// wait on the client, not on the server. False if there is none.
    pub(super) fn evict_one(&self) -> bool {
        let open = self.lock_open();
        let unasked = |state: &&Arc<ConnectionState>| !state.evicted.load(Ordering::Acquire);
        let victim = open
            .values()
            .filter(unasked)
            .find(|state| !state.is_busy())
            .or_else(|| {
                open.values()
                    .filter(unasked)
                    .filter_map(|state| state.awaiting_body_since().map(|since| (since, state)))
                    .min_by_key(|(since, _)| *since)
                    .map(|(_, state)| state)
            });
        match victim {
            Some(state) if !state.evicted.swap(true, Ordering::AcqRel) => {
                state.evict.notify_one();
                true
            }
            _ => false,
        }
    }

    /// Waits until every connection has closed.
    pub(super) async fn wait_until_empty(&self) {
        let all = u32::try_from(self.limits.max_connections).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }

    fn now(&self) -> u64 {
        millis_since(self.epoch)
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnectionState>>> {
        // Inserts and removes are whole, so the map stays consistent after a panic elsewhere.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection's place in the registry; dropping it frees the place.
pub(super) struct Tracked {
    id: u64,
    pub(super) state: Arc<ConnectionState>,
    registry: Arc<Registry>,
    _permit: OwnedSemaphorePermit,
}

impl Tracked {
    pub(super) fn limits(&self) -> ConnectionLimits {
        self.registry.limits
    }

    pub(super) fn body_memory(&self) -> Arc<Semaphore> {
        self.registry.body_memory.clone()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.registry.lock_open().remove(&self.id);
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What the connection is doing, shared by its reader, its service and its watchdog. Times are
/// milliseconds since the server started; 0 means "not now".
pub(super) struct ConnectionState {
    epoch: Instant,
    /// Requests handed to the application whose response has not been sent in full.
    in_flight: AtomicUsize,
    /// Requests handed to the application since the connection opened.
    dispatched: AtomicU64,
    /// When the first byte of the next request's head arrived, if it has.
    head_started: AtomicU64,
    /// When the connection last finished a response (or opened).
    idle_since: AtomicU64,
    /// When the application started waiting for a request body that has not fully arrived.
    awaiting_body_since: AtomicU64,
    /// Since when a write has been waiting for the client to take more (its socket full).
    write_stalled_since: AtomicU64,
    evicted: AtomicBool,
    pub(super) evict: Notify,
    /// Wakes the watchdog when a head starts or a write stalls: its deadline changes.
    pub(super) deadline_changed: Notify,
}

impl ConnectionState {
    fn new(epoch: Instant, now: u64) -> Self {
        Self {
            epoch,
            in_flight: AtomicUsize::new(0),
            dispatched: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            idle_since: AtomicU64::new(now.max(1)),
            awaiting_body_since: AtomicU64::new(0),
            write_stalled_since: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
            deadline_changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        millis_since(self.epoch).max(1)
    }

    /// Bytes arrived: between requests they start the next request's head.
    pub(super) fn bytes_received(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
            self.deadline_changed.notify_one();
        }
    }

    /// hyper handed a whole request head to the application.
    pub(super) fn request_started(&self) {
        self.dispatched.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Relaxed);
    }

    /// The response to a request was sent in full (or abandoned).
    pub(super) fn request_finished(&self) {
        self.idle_since.store(self.now(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }

    /// A write found the client's socket full.
    pub(super) fn write_stalled(&self) {
        if self.write_stalled_since.load(Ordering::Relaxed) == 0 {
            self.write_stalled_since
                .store(self.now(), Ordering::Relaxed);
            self.deadline_changed.notify_one();
        }
    }

    /// A write went out: the client is taking the response.
    pub(super) fn write_progressed(&self) {
        if self.write_stalled_since.load(Ordering::Relaxed) != 0 {
            self.write_stalled_since.store(0, Ordering::Relaxed);
        }
    }

    /// The application was handed a request whose body has yet to arrive (whole or in part).
    pub(super) fn body_wait_started(&self) {
        self.awaiting_body_since
            .store(self.now(), Ordering::Release);
    }

    /// The body arrived in full, failed, or was dropped unread.
    pub(super) fn body_wait_ended(&self) {
        self.awaiting_body_since.store(0, Ordering::Release);
    }

    fn awaiting_body_since(&self) -> Option<u64> {
        match self.awaiting_body_since.load(Ordering::Acquire) {
            0 => None,
            since => Some(since),
        }
    }

    /// How many requests the application has been handed on this connection.
    pub(super) fn dispatched(&self) -> u64 {
        self.dispatched.load(Ordering::Acquire)
    }

    pub(super) fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// How long until this connection has overstayed, or `None` if it already has. A write
    /// waiting for its client has the response-write limit; otherwise a connection with a
    /// request in flight is bounded by the request's own deadlines, so it gets the idle limit
    /// again (and is looked at again then).
    pub(super) fn time_left(&self, limits: &ConnectionLimits) -> Option<Duration> {
        let now = self.now();
        let write_stalled = self.write_stalled_since.load(Ordering::Relaxed);
        if self.is_busy() && write_stalled == 0 {
            return Some(limits.idle_timeout);
        }
        let head_started = self.head_started.load(Ordering::Relaxed);
        let (since, limit) = if write_stalled != 0 {
            (write_stalled, limits.response_write_timeout)
        } else if head_started != 0 {
            (head_started, limits.header_read_timeout)
        } else {
            (self.idle_since.load(Ordering::Relaxed), limits.idle_timeout)
        };
        let deadline = since.saturating_add(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX));
        (deadline > now).then(|| Duration::from_millis(deadline - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 2,
            header_read_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(5),
            response_write_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(30),
            max_body_memory: MAX_BODY_BYTES,
        }
    }

    #[tokio::test]
    async fn a_response_its_client_stops_reading_has_the_write_deadline_until_it_moves() {
        let limits = limits();
        let state = ConnectionState::new(Instant::now(), 1);
        state.request_started();
        assert_eq!(state.time_left(&limits), Some(limits.idle_timeout));
        state.write_stalled();
        let stalled = state.time_left(&limits).expect("time left");
        assert!(stalled <= Duration::from_secs(3), "{stalled:?}");
        // Stalling again does not move the clock back.
        tokio::time::sleep(Duration::from_millis(20)).await;
        state.write_stalled();
        assert!(state.time_left(&limits).expect("time left") < stalled);
        state.write_progressed();
        assert_eq!(state.time_left(&limits), Some(limits.idle_timeout));
        let overstayed = ConnectionLimits {
            response_write_timeout: Duration::ZERO,
            ..limits
        };
        state.write_stalled();
        assert_eq!(state.time_left(&overstayed), None);
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let registry = Arc::new(Registry::new(limits()));
        let first = registry.track(registry.reserve().await);
        let second = registry.track(registry.reserve().await);
        first.state.request_started();
        // The first is busy, so the second (idle) is the one asked to close.
        let waiting = tokio::spawn({
            let registry = registry.clone();
            async move { registry.reserve().await }
        });
        tokio::time::timeout(Duration::from_secs(1), second.state.evict.notified())
            .await
            .expect("the idle connection is told to close");
        assert!(!waiting.is_finished(), "no room until it has closed");
        drop(second);
        let third = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .expect("room once it closed")
            .expect("task");
        drop((first, third));
    }

    #[tokio::test]
    async fn busy_connections_are_never_evicted() {
        let registry = Arc::new(Registry::new(limits()));
        let first = registry.track(registry.reserve().await);
        first.state.request_started();
        assert!(!registry.evict_one());
        first.state.request_finished();
        assert!(registry.evict_one());
        assert!(!registry.evict_one(), "asked once is enough");
    }

    #[tokio::test]
    async fn when_all_are_busy_the_longest_wait_for_a_body_makes_room() {
        let registry = Arc::new(Registry::new(limits()));
        let first = registry.track(registry.reserve().await);
        let second = registry.track(registry.reserve().await);
        first.state.request_started();
        second.state.request_started();
        assert!(!registry.evict_one(), "both are working on a request");
        second.state.body_wait_started();
        tokio::time::sleep(Duration::from_millis(5)).await;
        first.state.body_wait_started();
        assert!(registry.evict_one());
        tokio::time::timeout(Duration::from_secs(1), second.state.evict.notified())
            .await
            .expect("the longest wait is asked to close");
        first.state.body_wait_ended();
        assert!(!registry.evict_one(), "the other has its body now");
    }

    #[test]
    fn a_started_head_has_the_header_deadline_and_an_idle_connection_the_idle_one() {
        let limits = limits();
        let state = ConnectionState::new(Instant::now(), 1);
        let idle = state.time_left(&limits).expect("time left");
        assert!(idle > Duration::from_secs(55), "{idle:?}");
        state.bytes_received();
        let head = state.time_left(&limits).expect("time left");
        assert!(head <= Duration::from_secs(5), "{head:?}");
        state.request_started();
        state.bytes_received();
        assert_eq!(state.time_left(&limits), Some(limits.idle_timeout));
        state.request_finished();
        assert!(state.time_left(&limits).expect("time left") > Duration::from_secs(55));
    }
}
