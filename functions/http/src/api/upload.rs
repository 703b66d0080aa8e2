use crate::request::{ServerTiming, read_body, write_authorization};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use crateyard_core::Upload;
use serde_json::{Value, json};

/// `PUT /{repo}/crates/{name}/{name}-{version}.crate`: a direct upload, as
/// Artifactory offers; the index line is computed from the tarball alone.
pub(crate) async fn upload(
    State(state): State<AppState>,
    Path((repo, name, file_name)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, ServerTiming, Json<Value>), ApiError> {
    let timing = ServerTiming::start();
    let registry = &state.registry;
    let token = write_authorization(&headers)?;
    let tarball = read_body(&headers, body, registry.config().limits.max_compressed).await?;
    // Authenticated beside the publish's own reads (see `publish_authenticated_by`).
    let who = registry.require_principal(Some(token));
    let outcome = registry
        .publish_authenticated_by(
            &repo,
            who,
            Upload::Direct {
                name,
                file_name,
                tarball,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        timing,
        Json(json!({ "index_line": outcome.line, "warnings": outcome.warnings })),
    ))
}
