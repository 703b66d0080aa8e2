//! S3 as the stack's writers see it: a pass-through to moto_server that
//! notices every object created, as S3 does before it sends events. moto
//! does not deliver S3's events to EventBridge or Lambda; this stands in for
//! that part only, and the template decides where each event goes
//! (`s3_routes`).

use super::stack::Stack;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// An object S3 reports as created.
#[derive(Debug, Clone)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub size: u64,
}

#[derive(Clone)]
struct Proxy {
    moto: String,
    http: reqwest::Client,
    created: mpsc::UnboundedSender<ObjectCreated>,
    unrouted: Arc<AtomicU64>,
}

/// Serves the S3 API on a new port, forwarding to `moto`; returns its URL.
/// Each object created counts in `unrouted` before the writer hears back, so
/// a test that waits for events to settle cannot miss one still in flight;
/// whoever routes the event takes it off.
pub async fn start_proxy(
    moto: &str,
    created: mpsc::UnboundedSender<ObjectCreated>,
    unrouted: Arc<AtomicU64>,
) -> String {
    let proxy = Proxy {
        moto: moto.trim_end_matches('/').to_string(),
        http: reqwest::Client::new(),
        created,
        unrouted,
    };
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::new(proxy));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Headers that belong to one connection, never forwarded.
pub const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "host",
    "content-length",
    "expect",
];

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body, answer) = pass_through(&proxy.http, &proxy.moto, request).await;
    if answer.status().is_success()
        && let Some((bucket, key)) =
            created_object(parts.method.as_str(), parts.uri.path(), parts.uri.query())
    {
        proxy.unrouted.fetch_add(1, Ordering::SeqCst);
        let _ = proxy.created.send(ObjectCreated {
            bucket,
            key,
            size: body.len() as u64,
        });
    }
    answer
}

/// Sends `request` on to `moto` as it came (connection headers aside) and
/// returns it, its body and moto's whole answer (a 502 if moto is not there).
pub async fn pass_through(
    http: &reqwest::Client,
    moto: &str,
    request: Request,
) -> (axum::http::request::Parts, axum::body::Bytes, Response) {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut upstream = http.request(parts.method.clone(), format!("{moto}{path_and_query}"));
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.body(body.clone()).send().await {
        Ok(answer) => answer,
        Err(e) => {
            let failed = Response::builder()
                .status(502)
                .body(Body::from(format!("moto_server: {e}")))
                .unwrap();
            return (parts, body, failed);
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    let answer_body = answer.bytes().await.unwrap_or_default();
    (parts, body, response.body(Body::from(answer_body)).unwrap())
}

/// The object a successful request created: `PutObject` (also through a
/// presigned URL), `CopyObject`, or `CompleteMultipartUpload`.
fn created_object(method: &str, path: &str, query: Option<&str>) -> Option<(String, String)> {
    let (bucket, key) = path.trim_start_matches('/').split_once('/')?;
    if key.is_empty() {
        return None;
    }
    let params: Vec<&str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split('=').next().unwrap_or_default())
        .collect();
    // Presigned and SDK requests carry X-Amz-* and x-id; any other parameter
    // is a subresource (tagging, acl, a part of a multipart upload…).
    let subresources: Vec<&str> = params
        .iter()
        .copied()
        .filter(|p| !p.to_ascii_lowercase().starts_with("x-amz-") && *p != "x-id")
        .collect();
    let creates = match method {
        "PUT" => subresources.is_empty(),
        "POST" => subresources == ["uploadId"],
        _ => false,
    };
    creates.then(|| {
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned();
        (bucket.to_string(), key)
    })
}

/// Where the template sends S3's events, each to a function.
pub struct S3Routes {
    /// EventBridge rules (pattern) whose target is an SQS queue that a
    /// function consumes: (pattern, function, batching window in seconds).
    pub rules: Vec<(Value, String, u64)>,
    /// Functions invoked by S3 notifications: (prefix, suffix, function).
    pub notifications: Vec<(String, String, String)>,
}

/// Reads the event wiring from the template: `AWS::Events::Rule` targets,
/// SAM `SQS` and `S3` event sources.
pub fn s3_routes(stack: &Stack) -> S3Routes {
    let resources = stack.template["Resources"].as_object().unwrap();
    let mut routes = S3Routes {
        rules: Vec::new(),
        notifications: Vec::new(),
    };
    let queue_consumer = |queue: &str| -> Option<(String, u64)> {
        resources.iter().find_map(|(id, resource)| {
            let events = resource["Properties"]["Events"].as_object()?;
            events.values().find_map(|event| {
                let properties = &event["Properties"];
                (event["Type"] == "SQS" && properties["Queue"]["Fn::GetAtt"][0] == queue).then(
                    || {
                        let window = properties["MaximumBatchingWindowInSeconds"]
                            .as_u64()
                            .unwrap_or(0);
                        (id.clone(), window)
                    },
                )
            })
        })
    };
    for (id, resource) in resources {
        if resource["Type"] == "AWS::Events::Rule" {
            let pattern = stack
                .eval(&resource["Properties"]["EventPattern"])
                .expect("an event pattern");
            for target in resource["Properties"]["Targets"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let queue = target["Arn"]["Fn::GetAtt"][0].as_str().unwrap_or_default();
                let (function, window) = queue_consumer(queue)
                    .unwrap_or_else(|| panic!("{id}: no function consumes {queue}"));
                routes.rules.push((pattern.clone(), function, window));
            }
        }
        for event in resource["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let (_, event) = event;
            if event["Type"] != "S3" {
                continue;
            }
            let rules = event["Properties"]["Filter"]["S3Key"]["Rules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let rule = |name: &str| {
                rules
                    .iter()
                    .find(|r| r["Name"] == name)
                    .and_then(|r| r["Value"].as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            routes
                .notifications
                .push((rule("prefix"), rule("suffix"), id.clone()));
        }
    }
    routes
}

/// The event S3 sends EventBridge for a created object.
pub fn eventbridge_event(object: &ObjectCreated) -> Value {
    json!({
        "version": "0", "id": "edge", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{}", object.bucket)],
        "detail": {
            "version": "0",
            "bucket": { "name": object.bucket },
            "object": { "key": object.key, "size": object.size },
            "reason": "PutObject"
        }
    })
}

/// An S3 notification event (for a function S3 invokes), the key
/// URL-encoded as S3 sends it.
pub fn s3_notification(object: &ObjectCreated) -> Value {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    let key = percent_encoding::utf8_percent_encode(&object.key, KEEP).to_string();
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": { "principalId": "edge" },
        "requestParameters": { "sourceIPAddress": "127.0.0.1" },
        "responseElements": { "x-amz-request-id": "edge", "x-amz-id-2": "edge" },
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "edge",
            "bucket": { "name": object.bucket, "ownerIdentity": { "principalId": "edge" },
                        "arn": format!("arn:aws:s3:::{}", object.bucket) },
            "object": { "key": key, "size": object.size, "eTag": "edge", "sequencer": "0" }
        }
    }]})
}

/// EventBridge's content filtering, for the parts of it event patterns use
/// here: exact values, `prefix`, `wildcard` (`*` any run of characters) and
/// `$or` (any of its patterns).
pub fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(name, expected)| {
        if name == "$or" {
            let patterns = expected.as_array().into_iter().flatten();
            return patterns.into_iter().any(|p| pattern_matches(p, event));
        }
        let actual = &event[name];
        match expected {
            Value::Object(_) => pattern_matches(expected, actual),
            Value::Array(options) => options.iter().any(|option| match option {
                Value::Object(rule) => {
                    let text = actual.as_str().unwrap_or_default();
                    if let Some(prefix) = rule.get("prefix").and_then(Value::as_str) {
                        text.starts_with(prefix)
                    } else if let Some(wildcard) = rule.get("wildcard").and_then(Value::as_str) {
                        super::wildcard(wildcard, text)
                    } else {
                        panic!("event pattern rule {rule:?} is not modelled")
                    }
                }
                other => other == actual,
            }),
            other => panic!("event pattern field {name}: {other} is not a list"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_object_creations_are_events() {
        let created = |m, p, q| created_object(m, p, q).map(|(_, k)| k);
        assert_eq!(
            created("PUT", "/b/main/index/3/f/foo", Some("x-id=PutObject")),
            Some("main/index/3/f/foo".into())
        );
        assert_eq!(
            created(
                "PUT",
                "/b/.uploads/a%2Bb.crate",
                Some("X-Amz-Signature=x&x-id=PutObject")
            ),
            Some(".uploads/a+b.crate".into())
        );
        assert_eq!(created("PUT", "/b/k", Some("tagging")), None);
        assert_eq!(created("PUT", "/b", None), None);
        assert_eq!(created("GET", "/b/k", None), None);
        assert_eq!(created("DELETE", "/b/k", None), None);
    }

    #[test]
    fn patterns_match_as_eventbridge_documents() {
        let pattern = json!({ "source": ["aws.s3"], "detail": { "object": { "key": [{ "wildcard": "*/index/*" }] } } });
        let event = |key: &str| {
            eventbridge_event(&ObjectCreated {
                bucket: "b".into(),
                key: key.into(),
                size: 1,
            })
        };
        assert!(pattern_matches(&pattern, &event("main/index/3/f/foo")));
        assert!(!pattern_matches(
            &pattern,
            &event("main/crates/foo/foo-1.0.0.crate")
        ));
        assert!(!pattern_matches(
            &json!({ "source": ["aws.ec2"] }),
            &event("main/index/x")
        ));
    }
}
