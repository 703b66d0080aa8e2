use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default = "default_per_page")]
    per_page: usize,
}

fn default_per_page() -> usize {
    10
}

/// `GET /{repo}/api/v1/crates?q=…&per_page=…`: `cargo search`.
pub(crate) async fn search(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let results = state
        .registry
        .search(&repo, &params.q, params.per_page)
        .await?;
    Ok(Json(
        json!({ "crates": results.crates, "meta": { "total": results.total } }),
    ))
}
