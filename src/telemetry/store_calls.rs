//! How long each store call takes, as `orgdoor_store_call_seconds{operation}`: every store
//! method is a `#[tracing::instrument]` span named after it, so a layer that times those spans
//! measures every call, without wrapping the store. The spans are debug-level; this layer asks
//! for them on its own, whatever the log filter says.

use std::time::Instant;

use tracing::span::{Attributes, Id};
use tracing::{Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Seconds a store call took, from its start to its end, by `operation` (the method's name).
pub const STORE_CALL_SECONDS: &str = "orgdoor_store_call_seconds";

/// Times the store crate's spans.
pub struct StoreCallTimer;

impl StoreCallTimer {
    /// The spans it is for: the store crate's, at debug level.
    pub fn spans() -> Targets {
        Targets::new().with_target("orgdoor_store", Level::DEBUG)
    }
}

/// When a span began, kept in its extensions.
struct Started(Instant);

impl<S> tracing_subscriber::Layer<S> for StoreCallTimer
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, _attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(Started(Instant::now()));
        }
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else {
            return;
        };
        if let Some(Started(at)) = span.extensions().get::<Started>() {
            // The span's name is its method's: static, so the label allocates nothing.
            metrics::histogram!(STORE_CALL_SECONDS, "operation" => span.metadata().name())
                .record(at.elapsed());
        }
    }
}
