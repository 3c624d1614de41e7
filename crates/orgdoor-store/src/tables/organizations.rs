//! `organizations`.

use orgdoor_domain::{ApiKey, DigestHa1, EventTarget, EventType, NewEvent, Organization};

use crate::StoreError;
use crate::rows::{ORGANIZATION_COLUMNS, seconds};
use crate::sealing::Sealer;
use crate::sql::Connection;
use crate::tables::api_keys::insert_api_key;
use crate::tables::events::{credential_event, record_event};

/// Stores an organization with its first API keys, and the events that say so.
pub(crate) async fn insert_organization<C: Connection>(
    conn: &mut C,
    sealer: &Sealer,
    organization: &Organization,
    api_keys: &[(ApiKey, DigestHa1)],
) -> Result<(), StoreError> {
    conn.query(&format!(
        "INSERT INTO organizations ({ORGANIZATION_COLUMNS}) VALUES ($1, $2, $3, $4)"
    ))
    .bind(organization.id.as_str())
    .bind(organization.name.as_str())
    .bind(organization.skip_default_alerts_settings)
    .bind(seconds(organization.created_at))
    .execute()
    .await?;
    let created = NewEvent::new(EventType::OrgCreated, EventTarget::default());
    record_event(conn, &organization.id, created).await?;
    for (key, ha1) in api_keys {
        insert_api_key(conn, sealer, key, ha1).await?;
        let event = credential_event(EventType::ApiKeyCreated, key.public_key.as_str(), None);
        record_event(conn, &organization.id, event).await?;
    }
    Ok(())
}
