//! Local mode's entry point. GETs of index and crate files, nearly all of a
//! registry's traffic, are answered before the router: no route matching,
//! no extractors, no header map copy (about 10 000 instructions of a 23 000
//! instruction read). Everything else goes to [`router`], which serves the
//! same files too (for HEAD). Both call `static_files::serve`, the one entry
//! point of static reads, so any check a read needs lives there, once.

use crate::router::{self, router};
use crate::{AppState, static_files};
use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use crateyard_core::ObjectKey;
use percent_encoding::percent_decode_str;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower_service::Service;

/// The router with the static fast path in front (when `state` serves files).
pub fn app(state: AppState) -> App {
    App {
        state: state.clone(),
        router: router(state),
    }
}

#[derive(Clone)]
pub struct App {
    state: AppState,
    router: Router,
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.state.static_root.is_some()
            && request.method() == Method::GET
            && let Some(key) = static_key(request.uri().path())
        {
            let state = self.state.clone();
            return Box::pin(async move {
                let response =
                    static_files::serve(&state, &key, request.headers(), &Method::GET).await;
                Ok(router::with_login_challenge(&state, response))
            });
        }
        let mut router = self.router.clone();
        Box::pin(async move { router.call(request).await })
    }
}

/// The object a path names when the router would send it to a static
/// handler: `/{repo}/index/{path…}`, `/{repo}/crates/{name}/{file}` or
/// `/{repo}/git/{path…}`,
/// decoded as the router's extractors decode it. `None` leaves the request
/// to the router (which answers anything else, a 404 included).
fn static_key(path: &str) -> Option<ObjectKey> {
    let decoded = percent_decode_str(path.strip_prefix('/')?)
        .decode_utf8()
        .ok()?;
    ObjectKey::parse(&decoded).filter(|key| {
        matches!(
            key,
            ObjectKey::IndexConfig { .. }
                | ObjectKey::IndexFile { .. }
                | ObjectKey::CrateFile { .. }
                | ObjectKey::Git { .. }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_key_takes_exactly_the_static_routes() {
        let key = |path| static_key(path).map(|key| key.to_string());
        assert_eq!(
            key("/main/index/3/f/foo").as_deref(),
            Some("main/index/3/f/foo")
        );
        assert_eq!(
            key("/main/index/config.json").as_deref(),
            Some("main/index/config.json")
        );
        assert_eq!(
            key("/main/git/info/refs").as_deref(),
            Some("main/git/info/refs")
        );
        assert_eq!(
            key("/main/crates/foo/foo-1.0.0%2Bb.crate").as_deref(),
            Some("main/crates/foo/foo-1.0.0+b.crate")
        );
        for other in [
            "/",
            "/main",
            "/main/index",
            "/main/index/",
            "/main/crates/foo",
            "/main/crates/foo/",
            "/main/crates//x.crate",
            "/main/crates/foo/bar/x.crate",
            "/main/api/v1/crates",
            // The UI's data goes through the router, which compresses it.
            "/main/ui/crates/foo.json",
            "//index/x",
            "/main/index/%FF",
            "/main/index/3/f/Foo",
            "/main/index/se/rd/serde%3Fx",
            "/ui/repositories.json",
            "/.uploads/ab.crate",
        ] {
            assert_eq!(static_key(other), None, "{other}");
        }
    }
}
