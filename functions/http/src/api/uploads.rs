//! Large uploads (AWS backend): `POST /{repo}/api/v1/uploads` hands out a
//! presigned S3 URL for a `.crate` too big for a Lambda request, and
//! `GET /{repo}/api/v1/uploads/{id}` tells its uploader what became of it.

use crate::request::{authorization, read_body};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use crateyard_core::{RegistryError, UploadRecord, UploadRequest, UploadSlot};

/// The request body is a small JSON object at most.
const MAX_REQUEST: u64 = 4 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{repo}/api/v1/uploads", post(create))
        .route("/{repo}/api/v1/uploads/{id}", get(status))
}

async fn create(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadSlot>), ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let body = read_body(&headers, body, MAX_REQUEST).await?;
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        UploadRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            RegistryError::BadRequest(format!(
                "the body must be empty or a JSON object like {{\"name\": \"foo\", \"version\": \"1.0.0\"}}: {e}"
            ))
        })?
    };
    let slot = registry.create_upload(&repo, &who, request).await?;
    Ok((StatusCode::CREATED, Json(slot)))
}

async fn status(
    State(state): State<AppState>,
    Path((repo, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<UploadRecord>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    Ok(Json(registry.upload_status(&repo, &who, &id).await?))
}
