use crate::request::{authorization, read_body, write_authorization};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use crateyard_core::{OwnerChange, RegistryError};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_OWNERS_BODY: u64 = 64 * 1024;

#[derive(Deserialize)]
struct OwnersBody {
    users: Vec<String>,
}

/// `GET /{repo}/api/v1/crates/{name}/owners`
pub(crate) async fn list(
    State(state): State<AppState>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.registry.authenticate(authorization(&headers)).await?;
    let owners = state.registry.owners(caller.as_ref(), &repo, &name).await?;
    let users: Vec<Value> = owners
        .iter()
        .enumerate()
        .map(|(i, login)| json!({ "id": i + 1, "login": login, "name": null }))
        .collect();
    Ok(Json(json!({ "users": users })))
}

/// `PUT /{repo}/api/v1/crates/{name}/owners`
pub(crate) async fn add(
    state: State<AppState>,
    path: Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    change(state, path, headers, body, OwnerChange::Add).await
}

/// `DELETE /{repo}/api/v1/crates/{name}/owners`
pub(crate) async fn remove(
    state: State<AppState>,
    path: Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    change(state, path, headers, body, OwnerChange::Remove).await
}

async fn change(
    State(state): State<AppState>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
    change: OwnerChange,
) -> Result<Json<Value>, ApiError> {
    let token = write_authorization(&headers)?;
    let body = read_body(&headers, body, MAX_OWNERS_BODY).await?;
    let OwnersBody { users } = serde_json::from_slice(&body).map_err(|e| {
        RegistryError::BadRequest(format!("expected {{\"users\": [\"login\", …]}}: {e}"))
    })?;
    // Authenticated beside the change's own reads (see `authenticated_target`).
    let who = state.registry.require_principal(Some(token));
    let msg = state
        .registry
        .change_owners(&repo, who, &name, change, &users)
        .await?;
    Ok(Json(json!({ "ok": true, "msg": msg })))
}
