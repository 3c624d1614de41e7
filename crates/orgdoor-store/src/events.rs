//! Reading the activity feeds. Events are recorded by the use cases that make the changes, in
//! their transactions (`tables::events`); nothing changes or deletes one.

use async_trait::async_trait;
use orgdoor_domain::{Event, EventId, EventType, GroupId, OrgId, Page, PageRequest};
use time::OffsetDateTime;
use tracing::instrument;

use crate::StoreError;
use crate::rows::{count, limit_offset, seconds};
use crate::sql::{Backend, Connection, Parameters};
use crate::tables::events::{EVENT_COLUMNS, EventRow};

/// Whose feed.
#[derive(Debug, Clone, Copy)]
pub enum EventScope<'a> {
    /// The organization's feed: its events without a project, and those of its projects that
    /// both feeds show.
    Organization(&'a OrgId),
    /// A project's feed.
    Project(&'a GroupId),
}

/// Which events of a feed a list shows; empty `types` means all.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub types: Vec<EventType>,
    /// Only events at or after this instant.
    pub min_date: Option<OffsetDateTime>,
    /// Only events at or before this instant.
    pub max_date: Option<OffsetDateTime>,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// A feed's events, newest first.
    async fn list_events(
        &self,
        scope: EventScope<'_>,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError>;

    /// One event of a feed.
    async fn get_event(
        &self,
        scope: EventScope<'_>,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError>;
}

/// The `WHERE` clause of a feed with `filter`, and its values.
fn conditions(scope: EventScope<'_>, filter: &EventFilter) -> (String, Parameters) {
    let mut clauses = Vec::new();
    let mut values = Parameters::default();
    match scope {
        EventScope::Organization(org) => {
            let org = values.text(org.as_str());
            // `= TRUE`, not the bare column: SQLite then orders by the index.
            clauses.push(format!("org_id = {org} AND in_org_feed = TRUE"));
        }
        EventScope::Project(group) => {
            let group = values.text(group.as_str());
            clauses.push(format!("group_id = {group}"));
        }
    }
    if !filter.types.is_empty() {
        let types = values.texts(filter.types.iter().map(|event_type| event_type.as_str()));
        clauses.push(format!("event_type IN ({types})"));
    }
    if let Some(min) = filter.min_date {
        let min = values.number(seconds(min));
        clauses.push(format!("created_at >= {min}"));
    }
    if let Some(max) = filter.max_date {
        let max = values.number(seconds(max));
        clauses.push(format!("created_at <= {max}"));
    }
    (clauses.join(" AND "), values)
}

#[async_trait]
impl<B: Backend> EventStore for B {
    #[instrument(level = "debug", skip(self))]
    async fn list_events(
        &self,
        scope: EventScope<'_>,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<Event>, StoreError> {
        let (conditions, mut values) = conditions(scope, filter);
        let mut conn = self.read().await?;
        let count_sql = format!("SELECT COUNT(*) FROM events WHERE {conditions}");
        let total: i64 = values.bind(conn.query(&count_sql)).fetch_scalar().await?;
        let (limit, offset) = limit_offset(page);
        let (limit, offset) = (values.number(limit), values.number(offset));
        let page_sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {conditions} \
             ORDER BY seq DESC LIMIT {limit} OFFSET {offset}"
        );
        let rows: Vec<EventRow> = values.bind(conn.query(&page_sql)).fetch_all().await?;
        Ok(Page {
            items: rows
                .into_iter()
                .map(Event::try_from)
                .collect::<Result<_, _>>()?,
            total_count: count(total),
        })
    }

    #[instrument(level = "debug", skip(self))]
    async fn get_event(
        &self,
        scope: EventScope<'_>,
        id: &EventId,
    ) -> Result<Option<Event>, StoreError> {
        let (conditions, mut values) = conditions(scope, &EventFilter::default());
        let id = values.text(id.to_string());
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE {conditions} AND id = {id}");
        let mut conn = self.read().await?;
        let row: Option<EventRow> = values.bind(conn.query(&sql)).fetch_optional().await?;
        row.map(Event::try_from).transpose()
    }
}
