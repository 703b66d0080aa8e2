use crate::api;
use crate::static_files::{self, StaticFiles};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, put};
use crateyard_core::Registry;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Local mode serves index and crate files from this directory; on AWS
    /// they are S3 objects and this is `None`.
    pub static_root: Option<Arc<StaticFiles>>,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, static_root: Option<PathBuf>) -> Self {
        Self {
            registry,
            static_root: static_root.map(|root| Arc::new(StaticFiles::new(root))),
        }
    }
}

/// Every route, under `/{repo}/`: the cargo API, direct uploads, and in
/// local mode the static index and crate files.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/{repo}/api/v1/crates/new", put(api::publish::publish))
        .route("/{repo}/api/v1/crates", get(api::search::search))
        .route(
            "/{repo}/api/v1/crates/{name}/{version}/yank",
            axum::routing::delete(api::yank::yank),
        )
        .route(
            "/{repo}/api/v1/crates/{name}/{version}/unyank",
            put(api::yank::unyank),
        )
        .route(
            "/{repo}/api/v1/crates/{name}/owners",
            get(api::owners::list)
                .put(api::owners::add)
                .delete(api::owners::remove),
        )
        .route(
            "/{repo}/crates/{name}/{file}",
            put(api::upload::upload).get(static_files::crate_file),
        )
        .route("/{repo}/index/{*path}", get(static_files::index_file))
        .merge(api::uploads::routes())
        // Bodies are read with explicit limits that answer in cargo's error shape.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
