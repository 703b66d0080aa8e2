//! `GET /api/v1/me`: who a token belongs to and which repositories it can
//! read, for the web UI's sign-in (private repositories are not in the
//! public `ui/repositories.json`), and how this deployment takes uploads,
//! so that the upload page picks the path a file needs.

use crate::request::authorization;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

pub(crate) async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let registry = &state.registry;
    let who = registry.require_principal(authorization(&headers)).await?;
    let repositories = registry.readable_repositories(Some(&who)).await?;
    Ok(Json(json!({
        "login": who.login(),
        "admin": who.user.admin,
        "token": crate::api::tokens::describe(&who.token),
        "repositories": repositories,
        "uploads": uploads(&state),
    })))
}

/// What the upload page needs to choose between a direct `PUT` and a
/// presigned large upload, from the deployment rather than a number in the
/// script: on Lambda a direct upload carries 4.5 MB at most; locally it
/// carries any `.crate` the registry accepts, and there are no presigned
/// uploads.
fn uploads(state: &AppState) -> Value {
    json!({
        "direct_max_bytes": state.direct_upload_max(),
        "presigned": state.registry.has_large_uploads(),
        "max_bytes": state.registry.config().limits.max_compressed,
    })
}

#[cfg(test)]
mod tests {
    use crate::{AppState, router};
    use async_trait::async_trait;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use crateyard_core::{
        Registry, RegistryConfig, StoreError, TokenRequest, UploadRecord, UploadStore,
    };
    use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
    use serde_json::Value;
    use std::sync::Arc;
    use tower_service::Service;

    /// Never called: its presence is what makes large uploads available.
    struct NoUploads;

    #[async_trait]
    impl UploadStore for NoUploads {
        async fn create_upload(&self, _: &UploadRecord) -> Result<(), StoreError> {
            unreachable!()
        }
        async fn get_upload(&self, _: &str) -> Result<Option<UploadRecord>, StoreError> {
            unreachable!()
        }
        async fn finish_upload(&self, _: &UploadRecord) -> Result<(), StoreError> {
            unreachable!()
        }
    }

    fn local_registry(dir: &std::path::Path) -> Registry {
        let dirs = DataDir::new(dir);
        Registry::new(
            Arc::new(FsBlobStore::new(dirs.clone()).unwrap()),
            Arc::new(SqliteStore::open(&dirs.database()).unwrap()),
            RegistryConfig::new("http://registry.test", None),
        )
    }

    async fn uploads_of(registry: Registry, edge_ceiling: Option<u64>) -> Value {
        let token = registry
            .create_token(TokenRequest {
                user: "ann".into(),
                name: "ui".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .token;
        let mut state = AppState::new(Arc::new(registry), None);
        if let Some(ceiling) = edge_ceiling {
            state = state.with_max_request_body(ceiling);
        }
        let response = router(state)
            .call(
                Request::get("/api/v1/me")
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()["uploads"].clone()
    }

    #[tokio::test]
    async fn local_mode_takes_every_crate_directly_and_has_no_presigned_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = uploads_of(local_registry(dir.path()), None).await;
        let limit = 10 * 1024 * 1024;
        assert_eq!(uploads["direct_max_bytes"], limit, "{uploads}");
        assert_eq!(uploads["presigned"], false, "{uploads}");
        assert_eq!(uploads["max_bytes"], limit, "{uploads}");
    }

    #[tokio::test]
    async fn behind_a_smaller_ceiling_large_files_take_the_presigned_path() {
        let dir = tempfile::tempdir().unwrap();
        let registry = local_registry(dir.path()).with_uploads(Arc::new(NoUploads));
        let uploads = uploads_of(registry, Some(4_500_000)).await;
        assert_eq!(uploads["direct_max_bytes"], 4_500_000, "{uploads}");
        assert_eq!(uploads["presigned"], true, "{uploads}");
        assert_eq!(uploads["max_bytes"], 10 * 1024 * 1024, "{uploads}");
    }

    #[tokio::test]
    async fn a_ceiling_above_the_crate_limit_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = uploads_of(local_registry(dir.path()), Some(u64::MAX)).await;
        assert_eq!(uploads["direct_max_bytes"], 10 * 1024 * 1024, "{uploads}");
    }
}
