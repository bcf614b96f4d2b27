//! `/health`: the process answers, and so does the database.

use crate::AppState;
use crate::routes::{Api, Route, route};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub(crate) fn routes() -> Vec<Route> {
    vec![route(Api::Public, "/health", "GET", get(health))]
}

async fn health(State(s): State<AppState>) -> Response {
    match s.roster.health().await {
        Ok(backend) => {
            Json(json!({ "status": "ok", "database": "ok", "backend": backend })).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error", "database": "unreachable", "backend": s.roster.store().backend() })),
            )
                .into_response()
        }
    }
}
