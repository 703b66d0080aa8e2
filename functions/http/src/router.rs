use crate::download_counter::DownloadCounter;
use crate::error::error_response;
use crate::read_access::RepositoryCache;
use crate::static_files::{self, StaticFiles};
use crate::{api, ui};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use crateyard_core::Registry;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;

#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    /// Local mode serves index and crate files from this directory; on AWS
    /// they are S3 objects and this is `None`.
    pub static_root: Option<Arc<StaticFiles>>,
    /// Repository settings for the read path, briefly cached.
    pub repositories: Arc<RepositoryCache>,
    /// The largest request body that reaches this router when something in
    /// front of it is stricter than the registry's own `.crate` limit (the
    /// API function on Lambda: `crateyard_lambda::edge::MAX_INVOKE_BODY`).
    /// Told to the web UI (`/api/v1/me`), which then picks the upload path.
    pub max_request_body: Option<u64>,
    /// Local mode counts downloads as it serves them (on AWS CloudFront's
    /// access logs are counted instead).
    pub downloads: Option<Arc<DownloadCounter>>,
}

impl AppState {
    pub fn new(registry: Arc<Registry>, static_root: Option<PathBuf>) -> Self {
        Self {
            registry,
            static_root: static_root.map(|root| Arc::new(StaticFiles::new(root))),
            repositories: Arc::default(),
            max_request_body: None,
            downloads: None,
        }
    }

    /// Counts the `.crate` files this state serves.
    pub fn with_download_counter(mut self, counter: Arc<DownloadCounter>) -> Self {
        self.downloads = Some(counter);
        self
    }

    /// Declares the ceiling enforced in front of the router (see
    /// [`AppState::max_request_body`]).
    pub fn with_max_request_body(mut self, bytes: u64) -> Self {
        self.max_request_body = Some(bytes);
        self
    }

    /// The largest `.crate` a direct upload (`PUT …/crates/…`) or
    /// `cargo publish` can carry here.
    pub fn direct_upload_max(&self) -> u64 {
        let crate_limit = self.registry.config().limits.max_compressed;
        self.max_request_body
            .map_or(crate_limit, |ceiling| ceiling.min(crate_limit))
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
            "/{repo}/api/v1/crates/{name}/{version}",
            delete(api::delete::version),
        )
        .route(
            "/{repo}/api/v1/crates/{name}",
            get(api::crate_info::crate_info).delete(api::delete::whole_crate),
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
        .route("/{repo}/git/{*path}", get(static_files::git_file))
        .route("/ui", get(ui::page))
        .route("/ui/", get(ui::page))
        .route("/ui/{*path}", get(ui::page))
        .route("/api/v1/me", get(api::me::me))
        // Private, remote and virtual repositories' reads (see
        // `Registry::read_base`): the same files, under the API.
        .route(
            "/{repo}/api/private/index/{*path}",
            get(static_files::index_file),
        )
        .route(
            "/{repo}/api/private/crates/{name}/{file}",
            get(static_files::crate_file),
        )
        .route(
            "/{repo}/api/private/git/{*path}",
            get(static_files::git_file),
        )
        .route(
            "/{repo}/api/proxy/index/{*path}",
            get(static_files::index_file),
        )
        .route(
            "/{repo}/api/proxy/crates/{name}/{file}",
            get(static_files::crate_file),
        )
        .route(
            "/{repo}/api/v1/reindex",
            post(api::admin::reindex).get(api::admin::reindex_status),
        )
        .route(
            "/{repo}/api/v1/reindex/{id}",
            get(api::admin::reindex_status),
        )
        .route(
            "/api/v1/tokens",
            get(api::tokens::list).post(api::tokens::create),
        )
        .route("/api/v1/tokens/{id}", delete(api::tokens::revoke))
        .route("/api/v1/users", get(api::admin::users))
        .route("/api/v1/audit", get(api::admin::audit))
        .route("/api/v1/users/{login}", put(api::admin::put_user))
        .route("/api/v1/repos", get(api::admin::repositories))
        .route("/api/v1/repos/{name}", put(api::admin::put_repository))
        .merge(api::uploads::routes())
        .merge(ui_data_routes())
        // Every 401 of every route, large uploads and UI data included.
        .layer(middleware::map_response_with_state(
            state.clone(),
            login_challenge,
        ))
        .fallback(no_such_route)
        // Extractors' rejections (a path that is not UTF-8, a query that
        // does not parse, a wrong method) answer in cargo's shape too.
        .layer(middleware::map_response(in_cargo_error_shape))
        // Bodies are read with explicit limits that answer in cargo's error shape.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn no_such_route() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "there is nothing at this URL; the README's URL table lists the registry's endpoints",
    )
}

/// Largest error body that is rewritten; axum's rejections are one line.
const MAX_ERROR_TEXT: usize = 8 * 1024;

/// Any error answer not already in cargo's `{"errors":[{"detail":…}]}`
/// shape is put in it, its text as the detail, its headers (`Allow`,
/// `WWW-Authenticate`) kept.
async fn in_cargo_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    // axum's 405 has no text, and its `Allow` header is added after this
    // layer: say what is wrong and where the right method is found.
    let detail = if status == StatusCode::METHOD_NOT_ALLOWED {
        "this URL does not take that method; the `Allow` header and the README's URL table say which it takes".to_string()
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_lowercase()
    } else {
        text
    };
    let mut shaped = error_response(status, &detail);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().append(name.clone(), value.clone());
        }
    }
    shaped
}

/// The web UI's data. A crate page's JSON grows by about 1 KB a version and
/// compresses tenfold: gzip keeps a long-lived crate's page light where no
/// CDN compresses for us (local mode, private repositories on AWS).
fn ui_data_routes() -> Router<AppState> {
    Router::new()
        .route("/{repo}/ui/{*path}", get(static_files::ui_data))
        .route("/{repo}/api/private/ui/{*path}", get(static_files::ui_data))
        .layer(CompressionLayer::new())
}

async fn login_challenge(State(state): State<AppState>, response: Response) -> Response {
    with_login_challenge(&state, response)
}

/// Every 401 tells cargo where a token can be had, as the registry
/// protocol asks for private registries: on the router's answers and on
/// the front door's static fast path alike.
pub(crate) fn with_login_challenge(state: &AppState, mut response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        let login_url = state.registry.config().login_url();
        if let Ok(value) = HeaderValue::from_str(&format!("Cargo login_url=\"{login_url}\"")) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    response
}
