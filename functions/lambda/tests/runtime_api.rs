//! The API binary tested as a Lambda: the real executable runs against a
//! small Lambda Runtime API emulator on 127.0.0.1 and receives API Gateway
//! (HTTP API, payload 2.0) events; S3 and DynamoDB are moto_server's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine;
use crateyard_aws::{AwsClients, aws_registry, create_bucket, create_table};
use crateyard_core::RegistryConfig;
use crateyard_tarball::TarballBuilder;
use serde_json::{Value, json};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

#[derive(Clone)]
struct Emulator {
    events: Arc<Mutex<mpsc::Receiver<Value>>>,
    results: mpsc::Sender<Value>,
    first_poll: Arc<Mutex<Option<Instant>>>,
}

async fn next(State(emulator): State<Emulator>) -> (HeaderMap, Json<Value>) {
    emulator
        .first_poll
        .lock()
        .await
        .get_or_insert_with(Instant::now);
    let event = emulator
        .events
        .lock()
        .await
        .recv()
        .await
        .expect("the test sends events");
    let id = event["requestContext"]["requestId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:api"
            .parse()
            .unwrap(),
    );
    (headers, Json(event))
}

async fn response(
    State(emulator): State<Emulator>,
    Path(_id): Path<String>,
    body: String,
) -> &'static str {
    // The runtime does not always label its JSON: parse it by hand.
    emulator
        .results
        .send(serde_json::from_str(&body).unwrap())
        .await
        .unwrap();
    "{}"
}

async fn error(State(emulator): State<Emulator>, body: String) -> &'static str {
    emulator
        .results
        .send(json!({ "runtime_error": body }))
        .await
        .unwrap();
    "{}"
}

fn http_event(
    id: &str,
    method: &str,
    path: &str,
    query: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Value {
    let mut headers = json!({ "host": "api.example.com", "user-agent": "cargo/1.95.0" });
    if let Some(token) = token {
        headers["authorization"] = token.into();
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "cargo/1.95.0" },
            "requestId": id, "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:20:00:00 +0000", "timeEpoch": 1_795_000_000_000u64
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": body.is_some(),
    })
}

fn publish_frame(name: &str, version: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"from a lambda\"\n"
    );
    let tarball = TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .build();
    let json =
        serde_json::to_vec(&json!({ "name": name, "vers": version, "deps": [], "features": {} }))
            .unwrap();
    let mut body = (json.len() as u32).to_le_bytes().to_vec();
    body.extend(&json);
    body.extend((tarball.len() as u32).to_le_bytes());
    body.extend(&tarball);
    body
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_binary_serves_api_gateway_events() {
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)");
    let name = format!("cy-lambda-{}", std::process::id());
    let clients = AwsClients::for_emulator(&moto);
    create_bucket(&clients.s3, &name).await.unwrap();
    create_table(&clients.dynamodb, &name).await.unwrap();
    let public_url = format!("{moto}/{name}");
    let registry = aws_registry(
        clients,
        &name,
        &name,
        RegistryConfig::new(&public_url, Some("https://api.example.com")),
    );
    registry.ensure_repository("main").await.unwrap();
    let token = registry
        .create_token("alice", "lambda-test")
        .await
        .unwrap()
        .token;

    let (event_tx, event_rx) = mpsc::channel(8);
    let (result_tx, mut result_rx) = mpsc::channel(8);
    let emulator = Emulator {
        events: Arc::new(Mutex::new(event_rx)),
        results: result_tx,
        first_poll: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runtime_api = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let started = Instant::now();
    let _lambda = Killed(
        Command::new(env!("CARGO_BIN_EXE_api"))
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "api")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .env("AWS_ENDPOINT_URL", &moto)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("CRATEYARD_BUCKET", &name)
            .env("CRATEYARD_TABLE", &name)
            .env("CRATEYARD_PUBLIC_URL", &public_url)
            .env("CRATEYARD_API_URL", "https://api.example.com")
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("the api binary starts"),
    );
    let mut invoke = async |event: Value| -> Value {
        event_tx.send(event).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), result_rx.recv())
            .await
            .expect("the function answers")
            .unwrap()
    };

    let published = invoke(http_event(
        "1",
        "PUT",
        "/main/api/v1/crates/new",
        "",
        Some(&token),
        Some(&publish_frame("lambdacrate", "1.0.0")),
    ))
    .await;
    assert_eq!(published["statusCode"], 200, "{published}");
    let init = emulator
        .first_poll
        .lock()
        .await
        .unwrap()
        .duration_since(started);
    println!(
        "api binary: exec to first Runtime API poll {:.1} ms",
        init.as_secs_f64() * 1000.0
    );

    let found = invoke(http_event(
        "2",
        "GET",
        "/main/api/v1/crates",
        "q=lambda",
        None,
        None,
    ))
    .await;
    assert_eq!(found["statusCode"], 200, "{found}");
    let body: Value = serde_json::from_str(found["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["crates"][0]["name"], "lambdacrate", "{body}");
    assert_eq!(body["crates"][0]["description"], "from a lambda");

    let refused = invoke(http_event(
        "3",
        "PUT",
        "/main/api/v1/crates/new",
        "",
        None,
        Some(&publish_frame("lambdacrate", "1.0.1")),
    ))
    .await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    let body: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("needs a token"),
        "{body}"
    );

    // The index file the function wrote is a plain S3 object.
    let index = read_object(&format!("{public_url}/main/index/la/mb/lambdacrate")).await;
    assert!(index.contains("\"vers\":\"1.0.0\""), "{index}");
}

/// Reads an object by its public URL, through the S3 API.
async fn read_object(url: &str) -> String {
    let (endpoint, rest) = url.split_at(url.find("/cy-lambda").unwrap());
    let (bucket, key) = rest[1..].split_once('/').unwrap();
    let clients = AwsClients::for_emulator(endpoint);
    let object = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    String::from_utf8(object.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
}
