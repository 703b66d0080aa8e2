//! What the API function checks before its router, because it runs behind
//! CloudFront on a public function URL (see `template.yaml`):
//!
//! - the secret header the distribution adds to every request it sends to
//!   the API origin: without it (a request straight to the function URL)
//!   the answer is 403;
//! - the size of the body: Lambda refuses events over 6 MB, and a function
//!   URL base64-encodes binary bodies into the event, so a `.crate` over
//!   [`MAX_INVOKE_BODY`] is refused with a cargo-shaped 413 that names the
//!   large-upload path instead (bodies much larger never reach us: Lambda
//!   answers its own 413).

use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use crateyard_http::error_response;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The header CloudFront adds on the API origin (`OriginCustomHeaders`).
pub const ORIGIN_SECRET_HEADER: &str = "x-crateyard-origin-secret";

/// The environment variable holding the header's value; unset (emulators,
/// tests) means no check.
pub const ORIGIN_SECRET_ENV: &str = "CRATEYARD_ORIGIN_SECRET";

/// The largest request body the API accepts on Lambda: 4.5 MB. Base64 makes
/// it 6 000 000 bytes, which leaves room under the 6 MB (6 291 456-byte)
/// invoke limit for the event's headers and fields.
pub const MAX_INVOKE_BODY: u64 = 4_500_000;

#[derive(Debug, Clone)]
struct Guard {
    secret: Option<Arc<[u8]>>,
}

/// The router, behind the origin-secret and body-size checks. With no
/// secret (the environment variable unset or empty), every origin is accepted.
pub fn behind_cloudfront(router: Router, secret: Option<&str>) -> Router {
    let guard = Guard {
        secret: secret
            .filter(|s| !s.is_empty())
            .map(|s| Arc::from(s.as_bytes())),
    };
    router.layer(middleware::from_fn_with_state(guard, check))
}

/// [`behind_cloudfront`] with the secret from [`ORIGIN_SECRET_ENV`].
pub fn behind_cloudfront_from_env(router: Router) -> Router {
    let secret = std::env::var(ORIGIN_SECRET_ENV).ok();
    behind_cloudfront(router, secret.as_deref())
}

async fn check(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    if let Some(secret) = &guard.secret {
        let given = request
            .headers()
            .get(ORIGIN_SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        // Constant time in the content (a length mismatch is not a secret).
        if !bool::from(given.ct_eq(secret)) {
            tracing::warn!("request without the origin secret refused (not through CloudFront)");
            return error_response(
                StatusCode::FORBIDDEN,
                "this registry's API answers only through its public URL (CloudFront), \
                 not at the function URL: use the `api` URL of the repository's config.json",
            );
        }
    }
    // The handlers never see the secret (nor could they log it).
    request.headers_mut().remove(ORIGIN_SECRET_HEADER);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let size = declared.max(request.body().size_hint().lower());
    if size > MAX_INVOKE_BODY {
        let repo = request
            .uri()
            .path()
            .split('/')
            .nth(1)
            .filter(|r| crateyard_core::check_repository_name(r).is_ok())
            .unwrap_or("{repo}");
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the request body is {size} bytes, and a request to the registry's API carries \
                 at most {MAX_INVOKE_BODY} bytes (4.5 MB: AWS Lambda's 6 MB limit, with the body \
                 base64-encoded). Upload a larger .crate directly to S3: \
                 `POST /{repo}/api/v1/uploads` answers with a presigned URL to PUT it to \
                 (see \"Large uploads\" in the README)"
            ),
        );
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::put;
    use tower::ServiceExt;

    fn app(secret: Option<&str>) -> Router {
        behind_cloudfront(
            Router::new().route(
                "/{repo}/api/v1/crates/new",
                put(|headers: axum::http::HeaderMap| async move {
                    // The secret is removed before the handlers.
                    assert!(headers.get(ORIGIN_SECRET_HEADER).is_none());
                    "ok"
                }),
            ),
            secret,
        )
    }

    async fn send(app: Router, secret: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
        let mut request = Request::put("/main/api/v1/crates/new");
        if let Some(secret) = secret {
            request = request.header(ORIGIN_SECRET_HEADER, secret);
        }
        let response = app
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn detail(body: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        value["errors"][0]["detail"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn the_origin_secret_is_required_when_configured() {
        let (status, body) = send(app(Some("s3cret")), None, vec![]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(detail(&body).contains("public URL"), "{body}");
        let (status, _) = send(app(Some("s3cret")), Some("s3cre"), vec![]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = send(app(Some("s3cret")), Some("s3cret!"), vec![]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = send(app(Some("s3cret")), Some("s3cret"), vec![]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
        // Unset or empty: no check (emulators).
        let (status, _) = send(app(None), None, vec![]).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = send(app(Some("")), None, vec![]).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn bodies_over_the_invoke_ceiling_name_the_large_upload_path() {
        let limit = usize::try_from(MAX_INVOKE_BODY).unwrap();
        let (status, _) = send(app(None), None, vec![0; limit]).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = send(app(None), None, vec![0; limit + 1]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let detail = detail(&body);
        assert!(detail.contains("POST /main/api/v1/uploads"), "{detail}");
        assert!(detail.contains("4.5 MB"), "{detail}");
    }
}
