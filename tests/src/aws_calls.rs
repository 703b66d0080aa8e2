//! The AWS calls a process makes, counted where AWS would answer them: a
//! pass-through to moto_server that records each request's operation and
//! when it started and ended. moto's latency is not AWS's, so what this
//! tells is how many calls there are and how many must wait for one
//! another ([`sequential_round_trips`]), not how long they take.

use crate::edge::s3_events::pass_through;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One call: its operation (`DynamoDB GetItem`, `S3 PutObject`, …) and
/// when it was sent and answered.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub sent: Instant,
    pub answered: Instant,
}

#[derive(Clone)]
struct Recorder {
    moto: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A recording pass-through to moto, on its own port and runtime.
pub struct CallLog {
    url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    _runtime: tokio::runtime::Runtime,
}

impl CallLog {
    pub fn start(moto: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            moto: moto.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            calls: calls.clone(),
        };
        let url = runtime.block_on(async {
            let app = axum::Router::new()
                .fallback(record)
                .with_state(Arc::new(recorder));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            url
        });
        Self {
            url,
            calls,
            _runtime: runtime,
        }
    }

    /// The endpoint to give the process (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The calls since the last `take`, in the order they were sent.
    pub fn take(&self) -> Vec<Call> {
        let mut calls = std::mem::take(&mut *self.calls.lock().unwrap());
        calls.sort_by_key(|c| c.sent);
        calls
    }
}

async fn record(State(recorder): State<Arc<Recorder>>, request: Request) -> Response {
    let sent = Instant::now();
    let (parts, body, answer) = pass_through(&recorder.http, &recorder.moto, request).await;
    recorder.calls.lock().unwrap().push(Call {
        operation: operation(&parts, &body),
        sent,
        answered: Instant::now(),
    });
    answer
}

/// The API operation a request is, as AWS names it; for DynamoDB, with the
/// kind of item (its partition key up to the first `#`: `TOKENS`, `CRATES`…).
fn operation(request: &Parts, body: &[u8]) -> String {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(target) = header("x-amz-target") {
        let (_, action) = target.rsplit_once('.').unwrap_or(("", target));
        let body: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let pk = [&body["Key"]["pk"]["S"], &body["Item"]["pk"]["S"]]
            .into_iter()
            .chain(
                body["ExpressionAttributeValues"]
                    .as_object()
                    .into_iter()
                    .flat_map(|v| v.values().map(|v| &v["S"])),
            )
            .find_map(|pk| pk.as_str());
        let kind = pk
            .map(|pk| format!(" {}", pk.split('#').next().unwrap_or(pk)))
            .unwrap_or_default();
        return format!("DynamoDB {action}{kind}");
    }
    let query = request.uri.query().unwrap_or_default();
    let has = |word: &str| query.split('&').any(|p| p.split('=').next() == Some(word));
    let action = match request.method.as_str() {
        "GET" if has("list-type") => "ListObjectsV2",
        "GET" if has("tagging") => "GetObjectTagging",
        "GET" => "GetObject",
        "HEAD" => "HeadObject",
        "PUT" if has("tagging") => "PutObjectTagging",
        "PUT" if header("x-amz-copy-source").is_some() => "CopyObject",
        "PUT" => "PutObject",
        "DELETE" => "DeleteObject",
        "POST" if has("delete") => "DeleteObjects",
        other => other,
    };
    let conditional = ["if-match", "if-none-match"]
        .into_iter()
        .find(|name| header(name).is_some())
        .map(|name| format!(" ({name})"))
        .unwrap_or_default();
    format!("S3 {action}{conditional}")
}

/// The longest chain of calls in which each was sent after the one before
/// it was answered: the round trips that had to wait for one another.
/// Calls that overlap in time ran concurrently and share a step.
pub fn sequential_round_trips(calls: &[Call]) -> usize {
    // Earliest-finishing first: the classic greedy for the largest set of
    // pairwise non-overlapping intervals, which is the longest such chain.
    let mut by_answer: Vec<&Call> = calls.iter().collect();
    by_answer.sort_by_key(|c| c.answered);
    let mut chain = 0;
    let mut free_from: Option<Instant> = None;
    for call in by_answer {
        if free_from.is_none_or(|at| call.sent >= at) {
            chain += 1;
            free_from = Some(call.answered);
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn overlapping_calls_share_a_round_trip() {
        let t0 = Instant::now();
        let call = |from: u64, to: u64| Call {
            operation: String::new(),
            sent: t0 + Duration::from_millis(from),
            answered: t0 + Duration::from_millis(to),
        };
        assert_eq!(sequential_round_trips(&[]), 0);
        // Two in parallel, then one after both.
        assert_eq!(
            sequential_round_trips(&[call(0, 10), call(1, 9), call(11, 20)]),
            2
        );
        // Three one after another.
        assert_eq!(
            sequential_round_trips(&[call(0, 5), call(6, 8), call(9, 12)]),
            3
        );
    }
}
