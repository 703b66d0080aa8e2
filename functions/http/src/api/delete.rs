//! Deleting versions, for repository admins, at the paths crates.io uses:
//! `DELETE /{repo}/api/v1/crates/{name}/{version}` and
//! `DELETE /{repo}/api/v1/crates/{name}` (every version), with a JSON body
//! `{"message": "why"}`, which the audit log and the crate record keep.

use crate::request::{authorization, read_body};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use crateyard_core::RegistryError;
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_DELETE_BODY: u64 = 4 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    message: String,
}

/// `DELETE /{repo}/api/v1/crates/{name}/{version}`
pub(crate) async fn version(
    State(state): State<AppState>,
    Path((repo, name, version)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    delete(&state, &repo, &name, Some(&version), &headers, body).await
}

/// `DELETE /{repo}/api/v1/crates/{name}`
pub(crate) async fn whole_crate(
    State(state): State<AppState>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    delete(&state, &repo, &name, None, &headers, body).await
}

async fn delete(
    state: &AppState,
    repo: &str,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(headers)).await?;
    let body = read_body(headers, body, MAX_DELETE_BODY).await?;
    let DeleteBody { message } = serde_json::from_slice(&body).map_err(|e| {
        RegistryError::BadRequest(format!(
            "expected {{\"message\": \"why this is deleted\"}}: {e}"
        ))
    })?;
    let deleted = registry
        .delete_versions(repo, Some(&who), name, version, &message)
        .await?;
    Ok(Json(json!({ "ok": true, "deleted": deleted })))
}
