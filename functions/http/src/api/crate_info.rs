//! `GET /{repo}/api/v1/crates/{name}`: a crate, its versions and their
//! download counts, with crates.io's field names (`crate.downloads`,
//! `crate.recent_downloads`, `versions[].downloads`, `num`, `yanked`…), so
//! that tools written for crates.io read it. No `dl_path`: downloads are
//! where the index's `config.json` says.

use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

pub(crate) async fn crate_info(
    State(state): State<AppState>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let caller = registry.authenticate(authorization(&headers)).await?;
    let info = registry.crate_info(caller.as_ref(), &repo, &name).await?;
    let krate = &info.krate;
    let newest = info.versions.last().map(|v| v.line.vers.as_str());
    // Newest first, as crates.io lists them.
    let versions: Vec<Value> = info
        .versions
        .iter()
        .rev()
        .map(|v| {
            json!({
                "crate": krate.name,
                "num": v.line.vers,
                "yanked": v.line.yanked,
                "checksum": v.line.cksum,
                "downloads": info.downloads.versions.get(&v.line.vers).copied().unwrap_or(0),
                "crate_size": v.size,
                "created_at": v.line.pubtime,
                "published_by": { "login": v.published_by },
            })
        })
        .collect();
    Ok(Json(json!({
        "crate": {
            "id": krate.name,
            "name": krate.name,
            "description": krate.description,
            "keywords": krate.keywords,
            "max_version": krate.max_version,
            "newest_version": newest,
            "downloads": info.downloads.downloads,
            "recent_downloads": info.downloads.recent_downloads,
            "created_at": krate.created_at,
            "updated_at": krate.updated_at,
        },
        "versions": versions,
    })))
}
