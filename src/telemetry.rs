//! Logging to stderr with `tracing`, filtered by `RUST_LOG` (default `info`): one line per
//! request (`orgdoor::request`), and what the server does. Libraries that chatter at debug (sqlx
//! logs every statement, hyper every frame) stay at `warn` unless `RUST_LOG` names them.
//! Colours only on a terminal, and never with `NO_COLOR`. Standard output is kept for
//! machine-readable lines: addresses and credentials.

use std::io::IsTerminal;

pub mod store_calls;

use tracing_appender::non_blocking::NonBlockingBuilder;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use self::store_calls::StoreCallTimer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Crates kept at `warn` unless the filter names them.
const CHATTY: [&str; 7] = [
    "sqlx",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "lettre",
    "tower_http",
];

/// The filter for `RUST_LOG`'s value: what it says, `info` when it says nothing, and the
/// chatty crates at `warn` unless it names them.
pub fn filter_directives(rust_log: Option<&str>) -> String {
    let requested = rust_log.map(str::trim).filter(|text| !text.is_empty());
    let mut directives = requested.unwrap_or("info").to_owned();
    for target in CHATTY {
        let named = requested.is_some_and(|text| {
            text.split(',')
                .any(|directive| directive.trim().split(['=', '[']).next() == Some(target))
        });
        if !named {
            directives.push(',');
            directives.push_str(target);
            directives.push_str("=warn");
        }
    }
    directives
}

/// Keeps the log writer's thread going; logs written before it is dropped are flushed then.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// Lines the log thread may fall behind by. Its queue is allocated whole at start, about 40
/// bytes a line: tracing-appender's default of 128,000 lines held 5 MiB of an idle server.
const LOG_BUFFER_LINES: usize = 16_384;

/// Sets up logging. Lines are written to stderr by a thread of their own, so a request never
/// waits on the terminal or pipe behind stderr; should that thread fall behind by more than
/// `LOG_BUFFER_LINES` lines, lines are dropped rather than requests held.
pub fn init(format: LogFormat) -> LogGuard {
    let rust_log = std::env::var("RUST_LOG").ok();
    let directives = filter_directives(rust_log.as_deref());
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|error| {
        eprintln!("orgdoor: RUST_LOG is not a filter ({error}); logging at info");
        EnvFilter::new(filter_directives(None))
    });
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = NonBlockingBuilder::default()
        .buffered_lines_limit(LOG_BUFFER_LINES)
        .lossy(true)
        .finish(std::io::stderr());
    // JSON lines in tracing-subscriber's shape, written by json-subscriber: tracing-subscriber
    // keeps a span's fields as JSON text and parses it again for every line, which was about a
    // third of the time of a request served from memory (bench/ANALYSIS.md). Its `tracing-log`
    // feature gives lines from the `log` crate (rustls) their own target, as before.
    let lines = match format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(colour)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => json_subscriber::fmt::layer().with_writer(writer).boxed(),
    };
    // Another subscriber may already be set (tests); logging then goes there.
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(StoreCallTimer.with_filter(StoreCallTimer::spans()))
        .try_init();
    guard
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatty_crates_stay_at_warn_unless_named() {
        assert_eq!(
            filter_directives(None),
            "info,sqlx=warn,hyper=warn,hyper_util=warn,h2=warn,rustls=warn,lettre=warn,tower_http=warn"
        );
        let debug = filter_directives(Some("debug"));
        assert!(debug.starts_with("debug,sqlx=warn,"), "{debug}");
        let asked = filter_directives(Some("info,sqlx=debug"));
        assert!(asked.starts_with("info,sqlx=debug,hyper=warn"), "{asked}");
        assert!(!asked.contains("sqlx=warn"), "{asked}");
        assert!(filter_directives(Some("  ")).starts_with("info,"));
    }
}
