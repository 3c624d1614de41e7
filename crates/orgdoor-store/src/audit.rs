//! Who is making the store's changes, for the events they record.
//!
//! The server runs each authenticated request inside [`acting_as`] with the request's
//! credential, address and instant; every event a store call records in that request names
//! them. The
//! actor travels with the request's task rather than through every store method, because every
//! change of access records an event and every caller would otherwise pass the same value.
//! Outside any request (the command line, first start, tests) the actor is
//! [`ActorCredential::System`](orgdoor_domain::ActorCredential::System).

use std::future::Future;

use orgdoor_domain::{Actor, truncate_to_seconds};
use time::OffsetDateTime;

/// Who acts, and the instant their request is served at (by the server's clock, so that a
/// test's clock dates the events too).
#[derive(Debug, Clone)]
pub struct AuditContext {
    pub actor: Actor,
    pub at: OffsetDateTime,
}

tokio::task_local! {
    static CONTEXT: AuditContext;
}

/// Runs `work` with `context`'s actor as the author, at its instant, of the events it records.
pub async fn acting_as<F: Future>(context: AuditContext, work: F) -> F::Output {
    CONTEXT.scope(context, work).await
}

/// Runs `work`, which does not await, with `context`'s actor as the author of the events it
/// records: a write use case on the SQLite writer's thread, away from its request's task.
pub(crate) fn sync_scope<R>(context: AuditContext, work: impl FnOnce() -> R) -> R {
    CONTEXT.sync_scope(context, work)
}

/// Who acts in the store call running now, and when: the system, now, outside [`acting_as`].
pub(crate) fn current() -> AuditContext {
    CONTEXT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| AuditContext {
            actor: Actor::default(),
            at: truncate_to_seconds(OffsetDateTime::now_utc()),
        })
}
