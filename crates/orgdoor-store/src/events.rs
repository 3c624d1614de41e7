//! Reading the activity feeds. Events are recorded by the use cases that make the changes, in
//! their transactions (`tables::events`); nothing changes or deletes one.

use async_trait::async_trait;
use orgdoor_domain::{Event, EventId, EventType, GroupId, OrgId, Page, PageRequest};
use time::OffsetDateTime;
use tracing::instrument;

use crate::StoreError;
use crate::rows::{count, limit_offset, seconds};
use crate::sql::{Backend, Connection, Statement};
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

/// A value bound to a feed query.
enum Value {
    Text(String),
    Number(i64),
}

/// The `WHERE` clause of a feed with `filter`, and its values from `$1` on.
fn conditions(scope: EventScope<'_>, filter: &EventFilter) -> (String, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    let next = |value: Value, values: &mut Vec<Value>| {
        values.push(value);
        format!("${}", values.len())
    };
    match scope {
        EventScope::Organization(org) => {
            let org = next(Value::Text(org.to_string()), &mut values);
            // `= TRUE`, not the bare column: SQLite then orders by the index.
            clauses.push(format!("org_id = {org} AND in_org_feed = TRUE"));
        }
        EventScope::Project(group) => {
            let group = next(Value::Text(group.to_string()), &mut values);
            clauses.push(format!("group_id = {group}"));
        }
    }
    if !filter.types.is_empty() {
        let types: Vec<String> = filter
            .types
            .iter()
            .map(|event_type| next(Value::Text(event_type.as_str().to_owned()), &mut values))
            .collect();
        clauses.push(format!("event_type IN ({})", types.join(", ")));
    }
    if let Some(min) = filter.min_date {
        let min = next(Value::Number(seconds(min)), &mut values);
        clauses.push(format!("created_at >= {min}"));
    }
    if let Some(max) = filter.max_date {
        let max = next(Value::Number(seconds(max)), &mut values);
        clauses.push(format!("created_at <= {max}"));
    }
    (clauses.join(" AND "), values)
}

fn bind_all<'q, 'c, C: Connection>(
    mut statement: Statement<'q, 'c, C>,
    values: &[Value],
) -> Statement<'q, 'c, C> {
    for value in values {
        statement = match value {
            Value::Text(text) => statement.bind(text.clone()),
            Value::Number(number) => statement.bind(number.to_owned()),
        };
    }
    statement
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
        let (conditions, values) = conditions(scope, filter);
        let mut conn = self.read().await?;
        let count_sql = format!("SELECT COUNT(*) FROM events WHERE {conditions}");
        let total: i64 = bind_all(conn.query(&count_sql), &values)
            .fetch_scalar()
            .await?;
        let (limit, offset) = limit_offset(page);
        let page_sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {conditions} \
             ORDER BY seq DESC LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let rows: Vec<EventRow> = bind_all(conn.query(&page_sql), &values)
            .bind(limit)
            .bind(offset)
            .fetch_all()
            .await?;
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
        let (conditions, values) = conditions(scope, &EventFilter::default());
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {conditions} AND id = ${}",
            values.len() + 1
        );
        let mut conn = self.read().await?;
        let row: Option<EventRow> = bind_all(conn.query(&sql), &values)
            .bind(id.to_string())
            .fetch_optional()
            .await?;
        row.map(Event::try_from).transpose()
    }
}
