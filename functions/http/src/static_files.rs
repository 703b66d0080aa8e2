//! Local mode's read path: index and crate files straight from the data
//! directory, with the caching headers CloudFront and S3 give on AWS.

use crate::{AppState, proxied_reads, read_access};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crateyard_core::object_kind;
use std::path::{Component, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Files this small are read inline: cheaper than a hop to the blocking pool.
const INLINE_READ_LIMIT: u64 = 256 * 1024;

#[derive(Debug)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Whether an object (by key) is on disk.
    pub(crate) fn contains(&self, key: &str) -> bool {
        safe_relative(key).is_some_and(|relative| self.root.join(relative).is_file())
    }
}

/// A key as a path under the root, unless it could escape it.
fn safe_relative(key: &str) -> Option<&std::path::Path> {
    let relative = std::path::Path::new(key);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.')))
        .then_some(relative)
}

/// `GET /{repo}/index/{path}`
pub(crate) async fn index_file(
    State(state): State<AppState>,
    Path((repo, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // `config.json` belongs to no crate; any other file is named after one.
    let krate = (path != "config.json").then(|| path.rsplit('/').next().unwrap_or_default());
    serve(
        &state,
        &repo,
        krate,
        &format!("{repo}/index/{path}"),
        &headers,
    )
    .await
}

/// `GET /{repo}/crates/{name}/{file}`; `+` and `%2B` (decoded by the
/// extractor) both name a version with build metadata.
pub(crate) async fn crate_file(
    State(state): State<AppState>,
    Path((repo, name, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let key = format!("{repo}/crates/{name}/{file}");
    serve(&state, &repo, Some(&name), &key, &headers).await
}

async fn serve(
    state: &AppState,
    repo: &str,
    krate: Option<&str>,
    key: &str,
    headers: &HeaderMap,
) -> Response {
    let repository = match read_access::check(state, repo, krate, headers).await {
        Ok(repository) => repository,
        Err(denied) => return denied,
    };
    if let Some(response) = proxied_reads::serve(state, &repository, key, headers).await {
        return response;
    }
    let Some(files) = &state.static_root else {
        return read_access::serve_from_store(state, key, headers).await;
    };
    let Some(kind) = object_kind(key) else {
        return not_found();
    };
    let Some(relative) = safe_relative(key) else {
        return not_found();
    };
    let path = files.root.join(relative);
    let Ok(stat) = std::fs::metadata(&path) else {
        return not_found();
    };
    if !stat.is_file() {
        return not_found();
    }
    let modified = stat.modified().unwrap_or(UNIX_EPOCH);
    let since_epoch = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    // Like nginx: modification time and size. Nanoseconds, so two writes in
    // the same second still differ.
    let etag = format!(
        "\"{:x}.{:x}-{:x}\"",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos(),
        stat.len()
    );
    let content_type = if key.ends_with("/config.json") {
        "application/json"
    } else {
        kind.content_type()
    };

    let mut response = if is_fresh(headers, &etag, modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = if stat.len() <= INLINE_READ_LIMIT {
            std::fs::read(&path)
        } else {
            tokio::fs::read(&path).await
        };
        match body {
            Ok(bytes) => {
                ([(header::CONTENT_TYPE, content_type)], Body::from(bytes)).into_response()
            }
            Err(_) => return not_found(),
        }
    };
    let out = response.headers_mut();
    let cache_control = if repository.anonymous_read {
        kind.cache_control()
    } else {
        // A private repository's files must not sit in shared caches.
        "private, no-cache"
    };
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        out.insert(header::LAST_MODIFIED, v);
    }
    response
}

/// `If-None-Match` decides when present; otherwise `If-Modified-Since`.
fn is_fresh(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == etag);
    }
    let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    else {
        return false;
    };
    // HTTP dates have whole seconds.
    let modified_secs = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let since_secs = since
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    modified_secs <= since_secs
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "not found\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn is_fresh_prefers_if_none_match() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(is_fresh(&h, "\"b\"", t));
        assert!(!is_fresh(&h, "\"c\"", t));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(t)).unwrap(),
        );
        assert!(
            !is_fresh(&h, "\"c\"", t),
            "a non-matching ETag wins over a date"
        );
        h.remove(header::IF_NONE_MATCH);
        assert!(is_fresh(&h, "\"c\"", t));
        assert!(!is_fresh(&h, "\"c\"", t + Duration::from_secs(1)));
    }
}
