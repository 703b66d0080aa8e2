use crate::request::{ServerTiming, read_body, write_authorization};
use crate::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use crateyard_core::{Upload, parse_publish_frame};
use serde_json::{Value, json};

/// Room for the JSON metadata beside the `.crate` in a publish body.
const METADATA_ALLOWANCE: u64 = 1024 * 1024;

/// `PUT /{repo}/api/v1/crates/new`: `cargo publish`.
pub(crate) async fn publish(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(ServerTiming, Json<Value>), ApiError> {
    let timing = ServerTiming::start();
    let registry = &state.registry;
    let token = write_authorization(&headers)?;
    let limit = registry.config().limits.max_compressed + METADATA_ALLOWANCE;
    let body = read_body(&headers, body, limit).await?;
    let (metadata, tarball) = parse_publish_frame(body)?;
    // Authenticated beside the publish's own reads (see `publish_authenticated_by`).
    let who = registry.require_principal(Some(token));
    let outcome = registry
        .publish_authenticated_by(&repo, who, Upload::Cargo { metadata, tarball })
        .await?;
    let body = json!({
        "warnings": { "invalid_categories": [], "invalid_badges": [], "other": outcome.warnings }
    });
    Ok((timing, Json(body)))
}
