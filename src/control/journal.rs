//! The request journal (`GET /api/orgdoor/v1/control/requests`): the most recent requests
//! this instance answered, newest first, as WireMock's request log keeps them. Bodies and
//! credentials are never kept; an invitation link's token and the token endpoint's query are
//! left out, as logs leave them out.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;

use super::pattern::PathPattern;

/// How many requests the journal keeps by default.
pub const DEFAULT_CAPACITY: usize = 1000;
/// The longest path or query kept; a longer one is cut, so the journal's memory is bounded.
pub const MAX_TEXT: usize = 2048;

/// One request as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    #[serde(serialize_with = "rfc3339")]
    pub received_at: OffsetDateTime,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The route template that took it (`/api/atlas/v2/orgs/{orgId}/invites`).
    pub route: Option<String>,
    /// `None` when a fault dropped the connection.
    pub status: Option<u16>,
    pub error_code: Option<String>,
    /// The API key's public key or the service account's client id that signed it.
    pub credential: Option<String>,
    pub org_id: Option<String>,
    pub latency_ms: f64,
    /// The fault rule applied to it.
    pub fault_id: Option<String>,
}

/// An instant as RFC 3339, to the millisecond (`2026-12-04T19:21:53.123Z`).
fn rfc3339<S: serde::Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    let millis = at.replace_nanosecond(at.millisecond() as u32 * 1_000_000);
    let text = millis
        .unwrap_or(*at)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}

/// Which entries a listing wants.
#[derive(Debug, Default, Clone)]
pub struct JournalFilter {
    pub method: Option<String>,
    pub path: Option<PathPattern>,
    pub status: Option<u16>,
}

impl JournalFilter {
    fn admits(&self, entry: &JournalEntry) -> bool {
        self.method
            .as_deref()
            .is_none_or(|method| method.eq_ignore_ascii_case(&entry.method))
            && self
                .path
                .as_ref()
                .is_none_or(|pattern| pattern.matches(&entry.path))
            && self
                .status
                .is_none_or(|status| entry.status == Some(status))
    }
}

pub struct RequestJournal {
    capacity: usize,
    entries: Mutex<VecDeque<JournalEntry>>,
}

impl RequestJournal {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(DEFAULT_CAPACITY))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<JournalEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `entry`, forgetting the oldest one when full.
    pub fn record(&self, entry: JournalEntry) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.pop_back();
        }
        entries.push_front(entry);
    }

    /// The entries `filter` admits, newest first, at most `limit`.
    pub fn list(&self, filter: &JournalFilter, limit: usize) -> Vec<JournalEntry> {
        self.lock()
            .iter()
            .filter(|entry| filter.admits(entry))
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// `text` cut to at most [`MAX_TEXT`] bytes, on a character boundary.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(method: &str, path: &str, status: u16) -> JournalEntry {
        JournalEntry {
            received_at: OffsetDateTime::UNIX_EPOCH,
            request_id: String::new(),
            method: method.into(),
            path: path.into(),
            query: None,
            route: None,
            status: Some(status),
            error_code: None,
            credential: None,
            org_id: None,
            latency_ms: 0.0,
            fault_id: None,
        }
    }

    #[test]
    fn the_journal_keeps_the_newest_entries_up_to_its_capacity() {
        let journal = RequestJournal::new(3);
        for i in 0..5 {
            journal.record(entry("GET", &format!("/{i}"), 200));
        }
        let paths: Vec<String> = journal
            .list(&JournalFilter::default(), 10)
            .into_iter()
            .map(|entry| entry.path)
            .collect();
        assert_eq!(paths, ["/4", "/3", "/2"]);
    }

    #[test]
    fn a_filter_selects_by_method_path_and_status() {
        let journal = RequestJournal::new(10);
        journal.record(entry("GET", "/a/1", 200));
        journal.record(entry("POST", "/a/2", 201));
        journal.record(entry("GET", "/b/3", 404));
        let listed = |filter: JournalFilter| -> Vec<String> {
            journal
                .list(&filter, 10)
                .into_iter()
                .map(|entry| entry.path)
                .collect()
        };
        let get = JournalFilter {
            method: Some("get".into()),
            ..JournalFilter::default()
        };
        assert_eq!(listed(get), ["/b/3", "/a/1"]);
        let under_a = JournalFilter {
            path: Some(PathPattern::parse("/a/*").expect("a pattern")),
            ..JournalFilter::default()
        };
        assert_eq!(listed(under_a), ["/a/2", "/a/1"]);
        let missing = JournalFilter {
            status: Some(404),
            ..JournalFilter::default()
        };
        assert_eq!(listed(missing), ["/b/3"]);
        assert_eq!(journal.list(&JournalFilter::default(), 1).len(), 1);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_TEXT);
        assert!(long.starts_with(&cut));
    }
}
