//! `GET /api/v1/me`: who a token belongs to and which repositories it can
//! read, for the web UI's sign-in (private repositories are not in the
//! public `ui/repositories.json`).

use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

pub(crate) async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let repositories = registry.readable_repositories(Some(&who)).await?;
    Ok(Json(json!({
        "login": who.login(),
        "admin": who.user.admin,
        "token": crate::api::tokens::describe(&who.token),
        "repositories": repositories,
    })))
}
