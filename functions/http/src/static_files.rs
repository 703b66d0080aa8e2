//! Local mode's read path: index and crate files straight from the data
//! directory, with the caching headers CloudFront and S3 give on AWS.

use crate::file_cache::{CachedFile, FileCache, FileIdentity, MAX_CACHED_FILE};
use crate::{AppState, proxied_reads, read_access};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use crateyard_core::{EVERY_CRATE, ObjectKey, RepoKind, Section};
use std::io::Read;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A key as a path under the root, unless it could escape it.
fn safe_relative(key: &str) -> Option<&std::path::Path> {
    let relative = std::path::Path::new(key);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.')))
        .then_some(relative)
}

#[derive(Debug)]
pub struct StaticFiles {
    root: PathBuf,
    cache: FileCache,
}

impl StaticFiles {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            cache: FileCache::default(),
        }
    }

    /// Whether an object is on disk.
    pub(crate) fn contains(&self, key: &ObjectKey) -> bool {
        safe_relative(&key.to_string()).is_some_and(|relative| self.root.join(relative).is_file())
    }

    async fn serve(&self, object: &ObjectKey, headers: &HeaderMap) -> Response {
        let key = &object.to_string();
        // Keys are only cached after the checks below.
        if let Some(hit) = self.cache.get(key) {
            return respond(object, &hit, headers);
        }
        let Some(relative) = safe_relative(key) else {
            return not_found();
        };
        let path = self.root.join(relative);
        let Ok(stat) = std::fs::metadata(&path) else {
            return not_found();
        };
        if !stat.is_file() {
            return not_found();
        }
        let identity = FileIdentity::of(&stat);
        let file = if identity.len() <= MAX_CACHED_FILE {
            match read_small(path) {
                Some(file) => {
                    let file = Arc::new(file);
                    self.cache.insert(key, file.clone());
                    file
                }
                None => return not_found(),
            }
        } else {
            // A large file is read only when the client's copy is stale.
            let mut file = cached_file(path.clone(), identity, Bytes::new());
            let etag = file.etag.to_str().expect("built from ASCII");
            if !is_fresh(headers, etag, identity.modified()) {
                match tokio::fs::read(&path).await {
                    Ok(bytes) => file.body = bytes.into(),
                    Err(_) => return not_found(),
                }
            }
            Arc::new(file)
        };
        respond(object, &file, headers)
    }
}

/// Reads a file and the identity of what was read, from one open handle,
/// so content and validators always belong together.
fn read_small(path: PathBuf) -> Option<CachedFile> {
    let mut handle = std::fs::File::open(&path).ok()?;
    let identity = FileIdentity::of(&handle.metadata().ok()?);
    let mut bytes = Vec::with_capacity(identity.len() as usize);
    handle.read_to_end(&mut bytes).ok()?;
    Some(cached_file(path, identity, bytes.into()))
}

fn cached_file(path: PathBuf, identity: FileIdentity, body: Bytes) -> CachedFile {
    let since_epoch = identity
        .modified()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Like nginx: modification time and size. Nanoseconds, so two writes in
    // the same second still differ.
    let etag = format!(
        "\"{:x}.{:x}-{:x}\"",
        since_epoch.as_secs(),
        since_epoch.subsec_nanos(),
        identity.len()
    );
    CachedFile {
        path,
        identity,
        body,
        etag: HeaderValue::from_str(&etag).expect("hex digits and quotes are valid"),
        last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(identity.modified()))
            .expect("HTTP dates are valid header values"),
    }
}

fn respond(key: &ObjectKey, file: &CachedFile, headers: &HeaderMap) -> Response {
    let etag = file.etag.to_str().expect("built from ASCII");
    let mut response = if is_fresh(headers, etag, file.identity.modified()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(file.body.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(key.content_type()),
        );
        response
    };
    let out = response.headers_mut();
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(key.cache_control()),
    );
    out.insert(header::ETAG, file.etag.clone());
    out.insert(header::LAST_MODIFIED, file.last_modified.clone());
    response
}

/// The one entry point of static reads, for the router's handlers and the
/// front door's fast path alike: a GET of a repository's index and crate
/// files and UI data, or of the public repository list, with ETag,
/// Last-Modified and 304s. Any check a read needs belongs here, so that
/// both paths make it.
/// `method` decides whether a `.crate` served counts as a download (a GET
/// does, a HEAD does not).
pub(crate) async fn serve(
    state: &AppState,
    key: &ObjectKey,
    headers: &HeaderMap,
    method: &Method,
) -> Response {
    if *key == ObjectKey::Repositories {
        // Lists public repositories only: anyone may read it.
        return match &state.static_root {
            Some(files) => files.serve(key, headers).await,
            None => read_access::serve_from_store(state, key, headers).await,
        };
    }
    let Some((repo, krate)) = repository_and_crate(key) else {
        return not_found();
    };
    let reader = match read_access::check(state, repo, krate, headers).await {
        Ok(reader) => reader,
        Err(denied) => return denied,
    };
    if matches!(key, ObjectKey::Git { .. })
        && reader.repository.kind == RepoKind::Virtual
        && let Err(denied) = read_access::check_virtual_git(state, &reader).await
    {
        return denied;
    }
    if let Some(response) = proxied_reads::serve(state, &reader, key, headers).await {
        return response;
    }
    let repository = reader.repository;
    let Some(files) = &state.static_root else {
        return read_access::serve_from_store(state, key, headers).await;
    };
    let mut response = files.serve(key, headers).await;
    if let Some(counter) = &state.downloads
        && method == Method::GET
        && response.status() == StatusCode::OK
    {
        counter.record(key);
    }
    if !repository.anonymous_read && response.headers().contains_key(header::CACHE_CONTROL) {
        // A private repository's files must not sit in shared caches.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    response
}

/// The repository of a servable object, and the crate it belongs to
/// (`config.json` belongs to none); `None` for what no read may name.
fn repository_and_crate(key: &ObjectKey) -> Option<(&str, Option<&str>)> {
    let krate = match key {
        ObjectKey::IndexConfig { .. } => None,
        // The git index holds every crate's index file: read like them all.
        ObjectKey::RecentPublishes { .. } | ObjectKey::Git { .. } => Some(EVERY_CRATE),
        ObjectKey::IndexFile { name, .. }
        | ObjectKey::CrateFile { name, .. }
        | ObjectKey::CratePage { name, .. }
        | ObjectKey::VersionPage { name, .. }
        | ObjectKey::Readme { name, .. } => Some(name.as_str()),
        ObjectKey::Repositories
        | ObjectKey::Ui(_)
        | ObjectKey::Upload { .. }
        | ObjectKey::Task { .. }
        | ObjectKey::GitTreeCopy { .. }
        | ObjectKey::SearchShard { .. } => return None,
    };
    Some((key.repository()?.as_str(), krate))
}

/// A read the router took apart: its object, or a 404.
async fn serve_parsed(
    state: &AppState,
    key: Option<ObjectKey>,
    headers: &HeaderMap,
    method: &Method,
) -> Response {
    match key {
        Some(key) => serve(state, &key, headers, method).await,
        None => not_found(),
    }
}

/// `GET /{repo}/index/{path}`
pub(crate) async fn index_file(
    State(state): State<AppState>,
    Path((repo, path)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let key = ObjectKey::parse_in(&repo, Section::Index, &path);
    serve_parsed(&state, key, &headers, &method).await
}

/// `GET /{repo}/crates/{name}/{file}`; `+` and `%2B` (decoded by the
/// extractor) both name a version with build metadata.
pub(crate) async fn crate_file(
    State(state): State<AppState>,
    Path((repo, name, file)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let key = ObjectKey::parse_in(&repo, Section::Crates, &[name, file].join("/"));
    serve_parsed(&state, key, &headers, &method).await
}

/// `GET /{repo}/git/{path}`: the git index, for git's dumb HTTP protocol
/// (`info/refs?service=…` included: the query is not part of the path, and
/// a plain-text answer tells git to read the files one by one).
pub(crate) async fn git_file(
    State(state): State<AppState>,
    Path((repo, path)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let key = ObjectKey::parse_in(&repo, Section::Git, &path);
    serve_parsed(&state, key, &headers, &method).await
}

/// `GET /{repo}/ui/{path}`: the web UI's data (see `crateyard_core::pages`).
pub(crate) async fn ui_data(
    State(state): State<AppState>,
    Path((repo, path)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let key = ObjectKey::parse_in(&repo, Section::Ui, &path);
    serve_parsed(&state, key, &headers, &method).await
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
