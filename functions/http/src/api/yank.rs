use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

type YankPath = Path<(String, String, String)>;

/// `DELETE /{repo}/api/v1/crates/{name}/{version}/yank`
pub(crate) async fn yank(
    state: State<AppState>,
    path: YankPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    set_yanked(state, path, headers, true).await
}

/// `PUT /{repo}/api/v1/crates/{name}/{version}/unyank`
pub(crate) async fn unyank(
    state: State<AppState>,
    path: YankPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    set_yanked(state, path, headers, false).await
}

async fn set_yanked(
    State(state): State<AppState>,
    Path((repo, name, version)): YankPath,
    headers: HeaderMap,
    yanked: bool,
) -> Result<Json<Value>, ApiError> {
    // Authenticated beside the change's own reads (see `authenticated_target`).
    let who = state.registry.require_principal(authorization(&headers));
    state
        .registry
        .set_yanked(&repo, who, &name, &version, yanked)
        .await?;
    Ok(Json(json!({ "ok": true })))
}
