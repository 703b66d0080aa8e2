//! The upstream port over HTTP (reqwest), for remote repositories.

use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use crateyard_core::{UpstreamClient, UpstreamError, UpstreamResponse};
use std::time::Duration;

/// Upstream registries over HTTPS (or HTTP on a private network).
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    client: reqwest::Client,
}

impl HttpUpstream {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A slow upstream must not hold cargo for long: stale is better.
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("crateyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client's settings are valid");
        Self { client }
    }
}

impl Default for HttpUpstream {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl UpstreamClient for HttpUpstream {
    async fn get(
        &self,
        url: &str,
        token: Option<&str>,
        etag: Option<&str>,
        max_bytes: u64,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let mut request = self.client.get(url);
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let failed = |e: reqwest::Error| UpstreamError(format!("GET {url}: {e}"));
        let mut response = request.send().await.map_err(failed)?;
        match response.status() {
            StatusCode::NOT_MODIFIED => return Ok(UpstreamResponse::NotModified),
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(UpstreamResponse::NotFound),
            status if !status.is_success() => {
                return Err(UpstreamError(format!("GET {url}: HTTP {status}")));
            }
            _ => {}
        }
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(UpstreamError(format!(
                    "GET {url}: the answer is over {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(UpstreamResponse::Fresh {
            body: Bytes::from(body),
            etag,
        })
    }
}
