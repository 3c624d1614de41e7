//! `GET /health`, for load balancers: outside `/api/atlas`, unauthenticated, and 200 only while
//! the database answers, so a balancer stops sending traffic to an instance that cannot serve it.

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

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                database: "ok",
                status: "ok",
            }),
        ),
        Err(error) => {
            tracing::warn!(error = %error, "health check: database unreachable");
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
