//! The whole HTTP router of local mode, as `crateyard serve` runs it, fed
//! arbitrary requests: method, path and query, headers (a valid token or
//! not) and body. Every request must get an answer, never a panic (the
//! Lambda profile aborts on panic, taking every request in flight with it).
//!
//! Input: one byte choosing the method, one choosing the credentials, then
//! lines `path`, `name: value`…, an empty line, and the body.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use crateyard_core::{Registry, RegistryConfig, TokenRequest};
use crateyard_http::{AppState, router};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

const METHODS: [&str; 9] = [
    "GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "BREW",
];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
}

/// A registry on a fresh data directory, with repository `main`, a private
/// repository `vault`, a user with a token and one published crate.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let root = std::env::temp_dir().join(format!("crateyard-fuzz-router-{}", std::process::id()));
        let dirs = DataDir::new(&root);
        std::fs::create_dir_all(dirs.root()).unwrap();
        let blobs = FsBlobStore::new(dirs.clone()).unwrap();
        let store = SqliteStore::open(&dirs.database()).unwrap();
        let registry = Registry::new(
            Arc::new(blobs),
            Arc::new(store),
            RegistryConfig::new("http://127.0.0.1:7878", None),
        );
        let token = runtime.block_on(async {
            registry.ensure_repository("main").await.unwrap();
            registry.ensure_repository("vault").await.unwrap();
            registry
                .create_token(TokenRequest {
                    user: "fuzz".into(),
                    name: "fuzz".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .token
        });
        let app = router(AppState::new(Arc::new(registry), Some(dirs.objects())));
        Fixture { runtime, app, token }
    })
}

fuzz_target!(|data: &[u8]| {
    let [method, credentials, rest @ ..] = data else {
        return;
    };
    let fixture = fixture();
    let method = METHODS[usize::from(*method) % METHODS.len()];
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let path = lines.next().unwrap_or("/");
    let mut request = Request::builder().method(method).uri(path);
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            request = request.header(name.trim(), value.trim());
        }
    }
    request = match credentials % 3 {
        0 => request,
        1 => request.header("authorization", fixture.token.as_str()),
        _ => request.header("authorization", format!("Bearer {}", fixture.token)),
    };
    // Requests the HTTP layer itself would refuse never reach the router.
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    fixture.runtime.block_on(async {
        let response = fixture.app.clone().oneshot(request).await.expect("infallible");
        let _ = axum::body::to_bytes(response.into_body(), 16 << 20).await;
    });
});
