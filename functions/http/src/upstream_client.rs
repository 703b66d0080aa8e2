//! The upstream port over HTTP (reqwest), for remote repositories.

use crate::https_client;
use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use crateyard_core::{UpstreamClient, UpstreamError, UpstreamResponse};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Upstream registries over HTTPS (or HTTP on a private network).
#[derive(Debug, Clone, Default)]
pub struct HttpUpstream {
    // Made on the first request: building it reads and parses the system's
    // root certificates, which a Lambda function's start (and every
    // registry without a remote repository) need not wait for.
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl HttpUpstream {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self) -> Result<&reqwest::Client, UpstreamError> {
        let built = self.client.get_or_init(|| {
            https_client()
                .map_err(|e| e.to_string())?
                .connect_timeout(Duration::from_secs(5))
                // A slow upstream must not hold cargo for long: stale is better.
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("crateyard/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        });
        built
            .as_ref()
            .map_err(|e| UpstreamError(format!("no HTTPS client: {e}")))
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
        let mut request = self.client()?.get(url);
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
