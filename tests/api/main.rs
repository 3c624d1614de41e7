//! The API test suite: one binary, the real server over real HTTP.
#![allow(clippy::unwrap_used)]
// Test helpers are shared between modules of this one binary, not exported.
#![allow(unreachable_pub)]

/// Runs each named test on both stores, as `sqlite::name` and `postgres::name`; each test is an
/// `async fn name(backend: Backend)`.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(orgdoor_test_db::Backend::Sqlite).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(orgdoor_test_db::Backend::Postgres).await;
                }
            )+
        }
    };
}

mod fixture;
mod harness;
mod held_views;
mod spec;

mod api_keys;
mod auth_digest;
mod authorization;
mod backup;
mod browser;
mod cli;
mod clients;
mod control;
mod control_characters;
mod credential_cache;
mod errors;
mod events;
mod hostile_clients;
mod input_limits;
mod invitation_page;
mod legacy_twins;
mod logs;
mod mail_delivery;
mod metrics;
mod openapi;
mod operations;
mod operators;
mod org_invitations;
mod org_users;
mod orgs_teams_groups;
mod outage;
mod outbox;
mod project_api_keys;
mod project_invitations;
mod project_members;
mod rate_limits;
mod read_only_attributes;
mod routing;
mod seed;
mod service_accounts;
mod tls;
