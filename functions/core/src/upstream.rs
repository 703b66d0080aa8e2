//! The port to an upstream registry, for remote repositories: plain HTTP
//! GETs with the token and ETag revalidation a sparse registry expects.

use async_trait::async_trait;
use bytes::Bytes;

/// What an upstream answered to a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamResponse {
    Fresh {
        body: Bytes,
        etag: Option<String>,
    },
    /// The `If-None-Match` ETag still holds.
    NotModified,
    /// 404 or 410: no such file upstream.
    NotFound,
}

/// The upstream could not be asked: unreachable, timed out, or a 5xx/other
/// status. The message is for logs and for the caller's error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(pub String);

#[async_trait]
pub trait UpstreamClient: Send + Sync + 'static {
    /// GETs `url`, sending `token` raw in `Authorization` and `etag` in
    /// `If-None-Match` when given; a body over `max_bytes` is an error.
    async fn get(
        &self,
        url: &str,
        token: Option<&str>,
        etag: Option<&str>,
        max_bytes: u64,
    ) -> Result<UpstreamResponse, UpstreamError>;
}
