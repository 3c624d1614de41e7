//! orgdoor: a self-hostable server for the MongoDB Atlas Administration API's organization
//! access surface. See `docs/architecture.md` for the map of modules and of one request's path.

pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod freshness;
pub mod held_views;
pub mod http;
pub mod invitee;
pub mod mail;
pub mod metrics;
pub mod provision;
pub mod security;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod transport;
pub mod views;

pub use app::Application;
