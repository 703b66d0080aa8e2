use crate::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponseParts, ResponseParts};
use crateyard_core::RegistryError;
use futures_util::StreamExt;
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// How long a client may take to send a whole body: a 10 MiB crate at
/// 100 KB/s, with room. A half-sent body must not hold a connection forever.
const BODY_DEADLINE: Duration = Duration::from_secs(120);

/// The raw `Authorization` header, if any.
pub(crate) fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The `Authorization` header of a write, which must have one: an
/// anonymous write is refused before its body is read.
pub(crate) fn write_authorization(headers: &HeaderMap) -> Result<&str, RegistryError> {
    authorization(headers).ok_or(RegistryError::MissingToken)
}

/// Reads a request body of at most `limit` bytes, refusing a larger one by
/// its `Content-Length` before reading anything.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > limit) {
        // Read some of it anyway: a client still sending when the connection
        // closes sees a broken pipe instead of this answer.
        let _ = tokio::time::timeout(BODY_DEADLINE, drain(body, limit.saturating_mul(2))).await;
        return Err(RegistryError::TooLarge { size, limit }.into());
    }
    let slow = || RegistryError::SlowRequest {
        seconds: BODY_DEADLINE.as_secs(),
    };
    tokio::time::timeout(BODY_DEADLINE, axum::body::to_bytes(body, limit as usize))
        .await
        .map_err(|_| slow())?
        .map_err(|_| {
            RegistryError::BadRequest(format!(
                "the request body could not be read: it is over {limit} bytes or was cut off"
            ))
            .into()
        })
}

/// Reads and discards up to `max` bytes of a body.
async fn drain(body: Body, max: u64) {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len() as u64;
        if seen > max {
            break;
        }
    }
}

/// A `Server-Timing: handler;dur=<ms>` header: how long the server worked on
/// a request, measured from the handler's start (benchmarks read it).
pub(crate) struct ServerTiming(Instant);

impl ServerTiming {
    pub(crate) fn start() -> Self {
        Self(Instant::now())
    }
}

impl IntoResponseParts for ServerTiming {
    type Error = Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let millis = self.0.elapsed().as_secs_f64() * 1000.0;
        if let Ok(value) = HeaderValue::from_str(&format!("handler;dur={millis:.3}")) {
            res.headers_mut().insert("server-timing", value);
        }
        Ok(res)
    }
}
