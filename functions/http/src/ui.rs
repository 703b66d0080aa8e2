//! The web UI: one HTML shell for every page under `/ui/`, a script and a
//! stylesheet, all committed in `functions/http/ui/` (no build step). The
//! pages read the documents of `crateyard_core::pages` and the API.
//!
//! Locally the router serves them; on AWS `crateyard setup` writes them to
//! the bucket ([`ui_files`]) and CloudFront serves the shell for every page
//! path, so browsing runs no Lambda.

use crate::{AppState, static_files};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crateyard_core::{KeyPrefix, ObjectKey, RegistryConfig, UiFile};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");
const SHELL: &str = include_str!("../ui/index.html");

/// Names this build's script and stylesheet in their URLs: a browser that
/// cached an earlier deploy's copies (for their `max-age`) fetches these
/// anew, so the script always matches the pages' current form.
static ASSETS_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(APP_JS)
        .chain_update(APP_CSS)
        .finalize();
    hex::encode(&digest[..6])
});

/// The shell, told where the registry and its API are.
fn shell(config: &RegistryConfig) -> String {
    SHELL
        .replace("{{public_url}}", &escape_attribute(&config.public_url))
        .replace("{{api_url}}", &escape_attribute(&config.api_url))
        .replace("{{assets_version}}", &ASSETS_VERSION)
}

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// Everything `crateyard setup` puts in the bucket for the UI (its keys
/// say how each is served; CloudFront serves the shell for every page path).
pub fn ui_files(config: &RegistryConfig) -> Vec<(UiFile, String)> {
    UiFile::ALL
        .into_iter()
        .map(|file| (file, body(file, config)))
        .collect()
}

fn body(file: UiFile, config: &RegistryConfig) -> String {
    match file {
        UiFile::Shell => shell(config),
        UiFile::Script => APP_JS.into(),
        UiFile::Stylesheet => APP_CSS.into(),
    }
}

/// `GET /ui` and `GET /ui/{path}`: an asset, the repository list, or the
/// shell, which renders the page the path names.
pub(crate) async fn page(
    State(state): State<AppState>,
    path: Option<Path<String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = path.map(|Path(p)| p).unwrap_or_default();
    let file = match ObjectKey::parse(&format!("{}{path}", KeyPrefix::WebUi)) {
        Some(ObjectKey::Repositories) => {
            return static_files::serve(&state, &ObjectKey::Repositories, &headers, &method).await;
        }
        Some(ObjectKey::Ui(file)) => file,
        _ if path.starts_with("assets/") => return StatusCode::NOT_FOUND.into_response(),
        // Every other path is a page the shell renders.
        _ => UiFile::Shell,
    };
    let content_type = ObjectKey::Ui(file).content_type();
    let body = body(file, state.registry.config());
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploy_writes_the_shell_after_the_assets_it_names() {
        let config = RegistryConfig::new("https://r.example", None);
        let order: Vec<UiFile> = ui_files(&config).into_iter().map(|(f, _)| f).collect();
        assert_eq!(order.last(), Some(&UiFile::Shell));
        assert_eq!(order.len(), 3);
    }

    #[test]
    fn the_shell_names_this_builds_assets() {
        let shell = shell(&RegistryConfig::new("https://r.example", None));
        let version = ASSETS_VERSION.as_str();
        assert_eq!(version.len(), 12);
        for asset in ["app.js", "app.css"] {
            let url = format!("https://r.example/ui/assets/{asset}?v={version}");
            assert!(shell.contains(&format!("\"{url}\"")), "{shell}");
        }
        assert!(!shell.contains("{{"), "every placeholder filled: {shell}");
    }
}
