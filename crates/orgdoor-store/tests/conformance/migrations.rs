//! The schema's history: both dialects carry the same migrations, and what an older version
//! left in the database (read through raw SQL written here) opens as today's records.

use orgdoor_domain::{GroupRole, GroupRoles, OrgId, OrgRole, OrgRoles};
use orgdoor_store::{Rejection, WhenPending};
use sqlx::migrate::{Migrate, Migrator};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::fixtures::{
    Backend, TestDatabase, invitation, invite, member, organization, pending_invitations,
    rejection, stored_project,
};

on_every_backend!(
    pending_invitations_survive_the_members_migration,
    old_project_invitations_are_folded_into_invitations,
);

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "a test listing the migration folders"
)]
fn both_dialects_have_the_same_migrations() {
    let names = |dialect: &str| {
        let mut names: Vec<String> = std::fs::read_dir(migrations_dir(dialect))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    assert!(!names("sqlite").is_empty());
    assert_eq!(names("sqlite"), names("postgres"));
}

fn migrations_dir(dialect: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect)
}

/// Runs `statements` on `database` straight through sqlx, after `migrator` when there is one:
/// how an older version left the database.
async fn write_directly(
    database: &TestDatabase,
    migrator: Option<&Migrator>,
    statements: &[String],
) {
    match database.backend {
        Backend::Sqlite => {
            let options = database
                .url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            write_through(pool, migrator, statements).await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
            write_through(pool, migrator, statements).await;
        }
    }
}

async fn write_through<Db: sqlx::Database>(
    pool: sqlx::Pool<Db>,
    migrator: Option<&Migrator>,
    statements: &[String],
) where
    Db::Connection: Migrate,
    for<'c> &'c mut Db::Connection: sqlx::Executor<'c, Database = Db>,
    for<'q> Db::Arguments<'q>: sqlx::IntoArguments<'q, Db>,
{
    if let Some(migrator) = migrator {
        migrator.run(&pool).await.unwrap();
    }
    for statement in statements {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

/// Rows written by the schema before org members (migration 6 rebuilds the SQLite invitation
/// tables); the same SQL in both dialects.
const SEED_BEFORE_MEMBERS: &[&str] = &[
    "INSERT INTO organizations (id, name, skip_default_alerts_settings, created_at) \
     VALUES ('5f0000000000000000000001', 'Acme', FALSE, 1786330000)",
    "INSERT INTO teams (id, org_id, name, name_key, created_at) \
     VALUES ('5f0000000000000000000002', '5f0000000000000000000001', 'Platform', 'platform', 1786330000)",
    "INSERT INTO projects (id, org_id, name, name_key, with_default_alerts_settings, created_at) \
     VALUES ('5f0000000000000000000003', '5f0000000000000000000001', 'Payments', 'payments', TRUE, 1786330000)",
    "INSERT INTO invitations (id, user_id, org_id, username, username_key, roles, inviter_username, \
     created_at, expires_at) VALUES ('5f0000000000000000000004', '5f0000000000000000000005', \
     '5f0000000000000000000001', 'Ada@example.com', 'ada@example.com', 'ORG_MEMBER', 'abcdefgh', \
     1786330000, 1788922000)",
    "INSERT INTO invitation_teams (invitation_id, org_id, team_id, position) \
     VALUES ('5f0000000000000000000004', '5f0000000000000000000001', '5f0000000000000000000002', 0)",
    "INSERT INTO invitation_project_roles (invitation_id, org_id, project_id, role, position) \
     VALUES ('5f0000000000000000000004', '5f0000000000000000000001', '5f0000000000000000000003', \
     'GROUP_OWNER', 0)",
];

/// The migrations before org members, read from `dialect`'s folder.
async fn migrations_before_members(dialect: &str) -> Migrator {
    let all = Migrator::new(migrations_dir(dialect)).await.unwrap();
    Migrator {
        migrations: all
            .migrations
            .iter()
            .filter(|migration| migration.version < 20261122000006)
            .cloned()
            .collect::<Vec<_>>()
            .into(),
        ..Migrator::DEFAULT
    }
}

async fn pending_invitations_survive_the_members_migration(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let dialect = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let seed: Vec<String> = SEED_BEFORE_MEMBERS.iter().map(|s| s.to_string()).collect();
    write_directly(
        &database,
        Some(&migrations_before_members(dialect).await),
        &seed,
    )
    .await;
    let store = orgdoor_store::connect(&database.url, &orgdoor_store::SecretsKey::generate())
        .await
        .unwrap();
    let org: OrgId = "5f0000000000000000000001".parse().unwrap();
    let now = datetime!(2026-08-10 03:03:37 UTC);
    let pending = pending_invitations(&store, &org, now).await;
    assert_eq!(pending.len(), 1);
    let migrated = &pending[0];
    assert_eq!(migrated.team_ids.len(), 1, "{migrated:?}");
    assert_eq!(migrated.group_role_assignments.len(), 1);
    assert_eq!(migrated.declined_at, None);
    // The rebuilt tables keep their constraints: cascades, and one invitation per address.
    store
        .delete_team(&org, &migrated.team_ids[0])
        .await
        .unwrap();
    let again = invitation(&org, "ada@example.com").into_invitation(now);
    assert_eq!(
        rejection(store.invite(&again, WhenPending::Refuse, None, now).await),
        Rejection::UsernameTaken(again.username.clone())
    );
    let after = pending_invitations(&store, &org, now).await;
    assert!(after[0].team_ids.is_empty());
    assert_eq!(after[0].group_role_assignments.len(), 1);
}

/// Project invitations an older version stored on their own become the organization
/// invitations they are now when a store opens; what could never be accepted is dropped.
async fn old_project_invitations_are_folded_into_invitations(backend: Backend) {
    let database = TestDatabase::new(backend).await;
    let key = orgdoor_store::SecretsKey::generate();
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    let org = organization(&store, "Old").await;
    let group = stored_project(&store, &org.id, "P").await;
    let other = stored_project(&store, &org.id, "Q").await;
    member(&store, &org.id, "cy@example.com").await;
    // The fold runs by the real clock, so this invitation must be pending by it.
    let now = OffsetDateTime::now_utc();
    let org_invite = invite(
        &store,
        invitation(&org.id, "bob@example.com"),
        WhenPending::Refuse,
        now,
    )
    .await;
    drop(store);
    // (id, project, address, roles, created_at, expires_at): pending for a stranger (twice,
    // in two projects), pending for an invitee of the organization, for a member, and expired
    // (in 2001: the fold judges by the real clock).
    let (created, far) = ("1786331017", "4102444800"); // NOW, 2100-01-01
    let rows = [
        (
            "5f00000000000000000000a1",
            &group.id,
            "ada@example.com",
            "GROUP_OWNER,GROUP_READ_ONLY",
            created,
            far,
        ),
        (
            "5f00000000000000000000a2",
            &other.id,
            "Ada@example.com",
            "GROUP_READ_ONLY",
            created,
            far,
        ),
        (
            "5f00000000000000000000a3",
            &group.id,
            "bob@example.com",
            "GROUP_OWNER",
            created,
            far,
        ),
        (
            "5f00000000000000000000a4",
            &group.id,
            "cy@example.com",
            "GROUP_OWNER",
            created,
            far,
        ),
        (
            "5f00000000000000000000a5",
            &group.id,
            "old@example.com",
            "GROUP_OWNER",
            "999000000",
            "1000000000",
        ),
    ];
    let statements: Vec<String> = rows
        .iter()
        .map(|(id, project, username, roles, created, expires)| {
            format!(
                "INSERT INTO project_invitations (id, project_id, username, username_key, roles, \
                 inviter_username, created_at, expires_at) VALUES ('{id}', '{project}', '{username}', \
                 '{}', '{roles}', 'abcdefgh', {created}, {expires})",
                username.to_lowercase()
            )
        })
        .collect();
    write_directly(&database, None, &statements).await;
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    let pending = pending_invitations(&store, &org.id, now).await;
    let summary: Vec<(String, usize)> = pending
        .iter()
        .map(|invitation| {
            (
                invitation.username.to_string(),
                invitation.group_role_assignments.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            // The second one renewed the first, in its spelling.
            ("Ada@example.com".to_owned(), 3),
            ("bob@example.com".to_owned(), 1)
        ]
    );
    assert_eq!(pending[0].id.as_str(), "5f00000000000000000000a1");
    assert_eq!(pending[0].roles, OrgRoles::single(OrgRole::Member));
    assert_eq!(pending[1].id, org_invite.id);
    let in_group = store
        .list_pending_project_invitations(&group.id, None, now)
        .await
        .unwrap();
    assert_eq!(in_group.len(), 2);
    assert_eq!(
        in_group[0].roles,
        GroupRoles::new([GroupRole::Owner, GroupRole::ReadOnly]).unwrap()
    );
    // Nothing is folded twice.
    drop(store);
    let store = orgdoor_store::connect(&database.url, &key).await.unwrap();
    assert_eq!(pending_invitations(&store, &org.id, now).await, pending);
}
