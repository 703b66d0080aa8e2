//! Reads of a private repository: the token check in front of the index and
//! crate files, and (on AWS, where public reads never reach us) serving them
//! from the blob store.

use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use crateyard_core::{
    ObjectKey, ObjectMeta, Permission, Principal, Registry, RegistryError, RepoKind, Repository,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a repository's settings are reused on the read path: a setting
/// changed by another process applies within this time, and a burst of
/// index reads costs one metadata lookup per repository.
const SETTINGS_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct RepositoryCache {
    entries: RwLock<HashMap<String, (Instant, Arc<Repository>)>>,
}

impl RepositoryCache {
    pub(crate) async fn get(
        &self,
        registry: &Registry,
        name: &str,
    ) -> Result<Arc<Repository>, RegistryError> {
        if let Some((at, repo)) = self.entries.read().expect("not poisoned").get(name)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(repo.clone());
        }
        let repo = Arc::new(registry.repository(name).await?);
        self.entries
            .write()
            .expect("not poisoned")
            .insert(name.into(), (Instant::now(), repo.clone()));
        Ok(repo)
    }
}

/// A read that may go ahead: the repository, and who asks (known only
/// where it matters: private repositories, and virtual ones, whose members
/// each decide for themselves).
pub(crate) struct Reader {
    pub repository: Arc<Repository>,
    pub caller: Option<Principal>,
}

/// Lets the read through, or answers it: 404 for an unknown repository,
/// 401 without a valid token, 404 for what the token may not see.
pub(crate) async fn check(
    state: &AppState,
    repo: &str,
    krate: Option<&str>,
    headers: &HeaderMap,
) -> Result<Reader, Response> {
    let registry = &state.registry;
    let repository = state
        .repositories
        .get(registry, repo)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    if repository.anonymous_read && repository.kind != RepoKind::Virtual {
        return Ok(Reader {
            repository,
            caller: None,
        });
    }
    let caller = registry
        .authenticate(authorization(headers))
        .await
        .map_err(|e| ApiError(e).into_response())?;
    let target = krate.map(|name| crateyard_core::CrateTarget { name, owners: None });
    registry
        .authorize(caller.as_ref(), &repository, Permission::Read, target)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(Reader { repository, caller })
}

/// A virtual repository's git index is one document over its members: a
/// private one's readers must be able to read them all (members' settings
/// from the same short-lived cache as the repository's: a clone is
/// hundreds of reads).
pub(crate) async fn check_virtual_git(state: &AppState, reader: &Reader) -> Result<(), Response> {
    let repository = &reader.repository;
    let mut members = Vec::new();
    if !repository.anonymous_read {
        for name in &repository.members {
            let member = state.repositories.get(&state.registry, name).await;
            let member = member.map_err(|e| ApiError(e).into_response())?;
            members.push(Repository::clone(&member));
        }
    }
    state
        .registry
        .authorize_virtual_git_read(reader.caller.as_ref(), repository, &members)
        .map_err(|e| ApiError(e).into_response())
}

/// Serves an object from the blob store, with the headers S3 would give.
pub(crate) async fn serve_from_store(
    state: &AppState,
    key: &ObjectKey,
    headers: &HeaderMap,
) -> Response {
    if matches!(key, ObjectKey::CrateFile { .. }) {
        // Crates can outgrow a Lambda response: the client fetches them
        // from S3 itself, with a URL that expires in minutes.
        match state.registry.presigned_download(key).await {
            Ok(Some(url)) if matches!(state.registry.object_exists(key).await, Ok(true)) => {
                let mut response = Redirect::temporary(&url).into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                );
                return response;
            }
            Ok(_) => {}
            Err(e) => return ApiError(e).into_response(),
        }
    }
    match state.registry.object(key).await {
        Ok(Some((bytes, meta))) => object_response(key, bytes, &meta, headers, true),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// An object read from the store, with the headers S3 would give; a
/// private one with headers that keep it out of shared caches.
pub(crate) fn object_response(
    key: &ObjectKey,
    bytes: Bytes,
    meta: &ObjectMeta,
    headers: &HeaderMap,
    private: bool,
) -> Response {
    let etag = format!("\"{}\"", meta.etag.trim_matches('"'));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| {
            inm.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, key.content_type())],
            Body::from(bytes),
        )
            .into_response()
    };
    let out = response.headers_mut();
    let cache_control = match (key, private) {
        (ObjectKey::CrateFile { .. }, true) => "private, max-age=31536000, immutable",
        (_, true) => "private, no-cache",
        (key, false) => key.cache_control(),
    };
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(meta.last_modified)) {
        out.insert(header::LAST_MODIFIED, v);
    }
    response
}
