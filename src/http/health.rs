//! `GET /health`, for load balancers: outside `/api/atlas`, unauthenticated, and 200 only while
//! the store answers reads and can start a write, so a balancer stops sending traffic to an
//! instance that cannot serve it. A store that takes longer than `HEALTH_TIMEOUT` counts as
//! down: balancers give up on slow checks anyway.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use crate::state::AppState;

#[derive(Serialize)]
pub struct Health {
    database: &'static str,
    status: &'static str,
}

const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let outcome = tokio::time::timeout(HEALTH_TIMEOUT, state.store.ping()).await;
    match outcome {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(Health {
                database: "ok",
                status: "ok",
            }),
        ),
        failed => {
            match failed {
                Ok(Err(error)) => tracing::warn!(%error, "health check: the store fails"),
                _ => tracing::warn!("health check: the store did not answer in time"),
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    database: "unreachable",
                    status: "unavailable",
                }),
            )
        }
    }
}
