//! Reads of remote and virtual repositories: their index files and crates
//! come from upstreams or members, through the registry's cache.

use crate::read_access::{Reader, object_response};
use crate::{ApiError, AppState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use crateyard_core::{CachedFile, ObjectKey, RegistryError, RepoKind};

/// Answers a read of a remote or virtual repository's index and crate
/// files; `None` for a local repository and for anything else (such as
/// `config.json`), which are plain objects.
pub(crate) async fn serve(
    state: &AppState,
    reader: &Reader,
    key: &ObjectKey,
    headers: &HeaderMap,
) -> Option<Response> {
    let (repository, caller) = (&*reader.repository, reader.caller.as_ref());
    if repository.kind == RepoKind::Local {
        return None;
    }
    let registry = &state.registry;
    let found = match key {
        ObjectKey::IndexFile { name, .. } => match repository.kind {
            RepoKind::Remote => registry.remote_index_file(repository, name).await,
            _ => registry.virtual_index_file(caller, repository, name).await,
        },
        ObjectKey::CrateFile { name, version, .. } => {
            if repository.kind == RepoKind::Remote {
                // Cached crates are plain objects; only a miss needs the upstream.
                let cached = match &state.static_root {
                    Some(files) => files.contains(key),
                    None => matches!(registry.object_exists(key).await, Ok(true)),
                };
                if cached && state.static_root.is_some() {
                    return None;
                }
                if cached && repository.anonymous_read {
                    return Some(static_redirect(state, key));
                }
            }
            match repository.kind {
                RepoKind::Remote => registry.remote_crate_file(repository, name, version).await,
                _ => {
                    registry
                        .virtual_crate_file(caller, repository, name, version)
                        .await
                }
            }
        }
        _ => return None,
    };
    Some(match found {
        // On AWS a public crate is then read from the static host (S3 or
        // CloudFront), not through a Lambda response.
        Ok(Some(file))
            if state.static_root.is_none()
                && !file.private
                && repository.anonymous_read
                && matches!(file.key, ObjectKey::CrateFile { .. }) =>
        {
            static_redirect(state, &file.key)
        }
        // Private if the repository or the member it came from is.
        Ok(Some(file)) => {
            let private = file.private || !repository.anonymous_read;
            respond(key, file, headers, private)
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e @ RegistryError::Upstream(_)) => {
            tracing::warn!(repo = %repository.name, %key, error = %e, "upstream failed and nothing is cached");
            ApiError(e).into_response()
        }
        Err(e) => ApiError(e).into_response(),
    })
}

/// Sends the client to a crate's static copy; where a crate lives never
/// changes, so CloudFront may keep the redirect for good.
fn static_redirect(state: &AppState, key: &ObjectKey) -> Response {
    let url = format!("{}/{key}", state.registry.config().public_url);
    let mut response = Redirect::temporary(&url).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

fn respond(key: &ObjectKey, file: CachedFile, headers: &HeaderMap, private: bool) -> Response {
    let mut response = object_response(key, file.body, &file.meta, headers, private);
    if let Some(why) = file.stale {
        let out = response.headers_mut();
        // RFC 7234's stale warning, and the reason for people reading headers.
        out.insert(
            "warning",
            HeaderValue::from_static("110 crateyard \"Response is Stale\""),
        );
        if let Ok(v) = HeaderValue::from_str(&why) {
            out.insert("x-crateyard-stale", v);
        }
    }
    response
}
