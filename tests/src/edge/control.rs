//! The two AWS endpoints the stack's functions call back into, served by
//! the harness: CloudFront's `CreateInvalidation` (the invalidator's), which
//! empties the test edge's cache for the paths, and CloudFormation's
//! presigned `ResponseURL` (the setup custom resource's answer).

use super::xml_elements as elements;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{post, put};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Clone)]
struct Control {
    invalidations: mpsc::UnboundedSender<Vec<String>>,
    answers: Arc<Mutex<Vec<Value>>>,
}

/// Where CloudFront's API and CloudFormation's ResponseURLs are, and the
/// answers the custom resource has given so far.
pub struct ControlEndpoints {
    pub url: String,
    pub answers: Arc<Mutex<Vec<Value>>>,
}

pub async fn start(invalidations: mpsc::UnboundedSender<Vec<String>>) -> ControlEndpoints {
    let answers = Arc::new(Mutex::new(Vec::new()));
    let control = Control {
        invalidations,
        answers: answers.clone(),
    };
    let app = axum::Router::new()
        .route(
            "/2020-05-31/distribution/{id}/invalidation",
            post(create_invalidation),
        )
        .route("/cloudformation/{request}", put(custom_resource_answer))
        .with_state(control);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    ControlEndpoints { url, answers }
}

async fn create_invalidation(
    State(control): State<Control>,
    Path(distribution): Path<String>,
    body: String,
) -> impl IntoResponse {
    let paths: Vec<String> = elements(&body, "Path")
        .into_iter()
        .map(|p| p.replace("&amp;", "&"))
        .collect();
    let reference = elements(&body, "CallerReference")
        .first()
        .copied()
        .unwrap_or_default()
        .to_string();
    let items: String = paths.iter().map(|p| format!("<Path>{p}</Path>")).collect();
    let count = paths.len();
    let _ = control.invalidations.send(paths);
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I{count}</Id><Status>Completed</Status><CreateTime>2026-12-01T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>{count}</Quantity><Items>{items}</Items></Paths><CallerReference>{reference}</CallerReference></InvalidationBatch></Invalidation>"#
    );
    (
        StatusCode::CREATED,
        [
            ("content-type", "text/xml".to_string()),
            (
                "location",
                format!(
                    "https://cloudfront.amazonaws.com/2020-05-31/distribution/{distribution}/invalidation/I{count}"
                ),
            ),
        ],
        xml,
    )
}

async fn custom_resource_answer(
    State(control): State<Control>,
    Path(_request): Path<String>,
    body: Bytes,
) -> StatusCode {
    match serde_json::from_slice(&body) {
        Ok(answer) => {
            control.answers.lock().unwrap().push(answer);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
