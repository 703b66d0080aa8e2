use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use crateyard_core::RegistryError;
use serde::Deserialize;
use serde_json::{Value, json};

const DEFAULT_PER_PAGE: usize = 10;

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    q: String,
    /// Parsed by hand so a bad value gets cargo's error shape.
    per_page: Option<String>,
}

/// `GET /{repo}/api/v1/crates?q=…&per_page=…`: `cargo search`.
pub(crate) async fn search(
    State(state): State<AppState>,
    Path(repo): Path<String>,
    Query(params): Query<SearchParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.registry.authenticate(authorization(&headers)).await?;
    let per_page = match params.per_page.as_deref() {
        None => DEFAULT_PER_PAGE,
        Some(n) => n.parse().map_err(|_| {
            RegistryError::BadRequest(format!("`per_page` must be a whole number, not `{n}`"))
        })?,
    };
    let results = state
        .registry
        .search(caller.as_ref(), &repo, &params.q, per_page)
        .await?;
    Ok(Json(
        json!({ "crates": results.crates, "meta": { "total": results.total } }),
    ))
}
