//! The web UI: one HTML shell for every page under `/ui/`, a script and a
//! stylesheet, all committed in `functions/http/ui/` (no build step). The
//! pages read the documents of `crateyard_core::pages` and the API.
//!
//! Locally the router serves them; on AWS `crateyard setup` writes them to
//! the bucket ([`ui_files`]) and CloudFront serves the shell for every page
//! path, so browsing runs no Lambda.

use crate::{AppState, static_files};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crateyard_core::{RegistryConfig, UI_REPOSITORIES_KEY};

const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");
const SHELL: &str = include_str!("../ui/index.html");

/// The shell's key on AWS, which CloudFront serves for every page path.
pub const SHELL_KEY: &str = "ui/index.html";

/// A file of the UI, as `crateyard setup` writes it to the bucket.
pub struct UiFile {
    pub key: &'static str,
    pub content_type: &'static str,
    pub cache_control: &'static str,
    pub body: String,
}

/// The shell, told where the registry and its API are.
fn shell(config: &RegistryConfig) -> String {
    SHELL
        .replace("{{public_url}}", &escape_attribute(&config.public_url))
        .replace("{{api_url}}", &escape_attribute(&config.api_url))
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// Everything `crateyard setup` puts in the bucket for the UI.
pub fn ui_files(config: &RegistryConfig) -> Vec<UiFile> {
    // The shell is small and names the assets by path: revalidate it often.
    let assets = "public, max-age=300";
    vec![
        UiFile {
            key: SHELL_KEY,
            content_type: "text/html; charset=utf-8",
            cache_control: "public, max-age=60",
            body: shell(config),
        },
        UiFile {
            key: "ui/assets/app.js",
            content_type: "text/javascript; charset=utf-8",
            cache_control: assets,
            body: APP_JS.into(),
        },
        UiFile {
            key: "ui/assets/app.css",
            content_type: "text/css; charset=utf-8",
            cache_control: assets,
            body: APP_CSS.into(),
        },
    ]
}

/// `GET /ui` and `GET /ui/{path}`: an asset, the repository list, or the
/// shell, which renders the page the path names.
pub(crate) async fn page(
    State(state): State<AppState>,
    path: Option<Path<String>>,
    headers: HeaderMap,
) -> Response {
    let path = path.map(|Path(p)| p).unwrap_or_default();
    if path == "repositories.json" {
        return static_files::serve(&state, UI_REPOSITORIES_KEY, &headers).await;
    }
    let (content_type, body) = match path.as_str() {
        "assets/app.js" => ("text/javascript; charset=utf-8", APP_JS.to_string()),
        "assets/app.css" => ("text/css; charset=utf-8", APP_CSS.to_string()),
        p if p.starts_with("assets/") => return StatusCode::NOT_FOUND.into_response(),
        _ => ("text/html; charset=utf-8", shell(state.registry.config())),
    };
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
