//! Every storage behaviour the API relies on, written once against `Arc<dyn Store>` and run on
//! each real backend: a SQLite file in a temporary directory and a fresh PostgreSQL schema. One
//! module per aggregate; what they build on is in `fixtures`. A test is named
//! `<aggregate>::<backend>_store::<behaviour>`.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod fixtures;
#[path = "../support/store.rs"]
mod support;

mod api_keys;
mod control;
mod events;
mod invitations;
mod migrations;
mod org_users;
mod organizations;
mod outbox;
mod project_users;
mod projects;
mod rate_limits;
mod server_secrets;
mod service_accounts;
mod teams;
