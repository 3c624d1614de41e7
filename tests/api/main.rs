//! The API test suite: one binary, the real server over real HTTP.
#![allow(clippy::unwrap_used)]
// Test helpers are shared between modules of this one binary, not exported.
#![allow(unreachable_pub)]

mod harness;
mod spec;

mod auth_digest;
mod cli;
mod clients;
mod errors;
mod org_invitations;
mod orgs_teams_groups;
