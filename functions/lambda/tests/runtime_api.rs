//! The Lambda binaries tested as Lambdas: each real executable runs against
//! a small Lambda Runtime API emulator on 127.0.0.1 and receives real event
//! payloads (API Gateway HTTP API 2.0 for `api`, a JSON request for
//! `reindex`); S3 and DynamoDB are moto_server's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine;
use crateyard_aws::{AwsClients, aws_registry, create_bucket, create_table};
use crateyard_core::{RegistryConfig, Upload};
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
    next_id: Arc<std::sync::atomic::AtomicU64>,
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
    let id = emulator
        .next_id
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
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

/// One function process and the emulator it polls.
struct Lambda {
    child: Child,
    events: mpsc::Sender<Value>,
    results: mpsc::Receiver<Value>,
    first_poll: Arc<Mutex<Option<Instant>>>,
    started: Instant,
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lambda {
    async fn start(binary: &str, env: &[(&str, &str)]) -> Self {
        let (event_tx, event_rx) = mpsc::channel(8);
        let (result_tx, result_rx) = mpsc::channel(8);
        let emulator = Emulator {
            events: Arc::new(Mutex::new(event_rx)),
            results: result_tx,
            first_poll: Arc::default(),
            next_id: Arc::default(),
        };
        let first_poll = emulator.first_poll.clone();
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(error))
            .with_state(emulator);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime_api = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let started = Instant::now();
        let child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "crateyard")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .spawn()
            .expect("the function binary starts");
        Self {
            child,
            events: event_tx,
            results: result_rx,
            first_poll,
            started,
        }
    }

    async fn invoke(&mut self, event: Value) -> Value {
        self.events.send(event).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.results.recv())
            .await
            .expect("the function answers")
            .unwrap()
    }

    /// The process's peak resident memory so far (VmHWM), in KiB.
    fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the function process is alive");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("Linux reports VmHWM")
    }

    /// From exec to the first `next` call on the Runtime API.
    async fn init_time(&self) -> Duration {
        self.first_poll
            .lock()
            .await
            .expect("the function polled")
            .duration_since(self.started)
    }
}

/// A fresh bucket and table on moto with repository `main`, and the
/// environment a function needs to use them.
struct Fixture {
    moto: String,
    name: String,
    public_url: String,
    registry: crateyard_core::Registry,
}

impl Fixture {
    async fn new(label: &str) -> Self {
        let moto = std::env::var("CRATEYARD_TEST_MOTO").expect(
            "CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)",
        );
        let name = format!("cy-{label}-{}", std::process::id());
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
        Self {
            moto,
            name,
            public_url,
            registry,
        }
    }

    async fn start(&self, binary: &str) -> Lambda {
        let env = [
            ("AWS_ENDPOINT_URL", self.moto.as_str()),
            ("CRATEYARD_BUCKET", &self.name),
            ("CRATEYARD_TABLE", &self.name),
            ("CRATEYARD_PUBLIC_URL", &self.public_url),
            ("CRATEYARD_API_URL", "https://api.example.com"),
        ];
        Lambda::start(binary, &env).await
    }

    /// An object's content, through the S3 API (`None` when missing).
    async fn object(&self, key: &str) -> Option<String> {
        let clients = AwsClients::for_emulator(&self.moto);
        let object = clients
            .s3
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(String::from_utf8(object.body.collect().await.unwrap().into_bytes().to_vec()).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_binary_serves_api_gateway_events() {
    let fixture = Fixture::new("api").await;
    let token = fixture
        .registry
        .create_token("alice", "lambda-test")
        .await
        .unwrap()
        .token;
    let mut lambda = fixture.start(env!("CARGO_BIN_EXE_api")).await;

    let published = lambda
        .invoke(http_event(
            "1",
            "PUT",
            "/main/api/v1/crates/new",
            "",
            Some(&token),
            Some(&publish_frame("lambdacrate", "1.0.0")),
        ))
        .await;
    assert_eq!(published["statusCode"], 200, "{published}");
    println!(
        "api binary: exec to first Runtime API poll {:.1} ms",
        lambda.init_time().await.as_secs_f64() * 1000.0
    );

    let found = lambda
        .invoke(http_event(
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

    let refused = lambda
        .invoke(http_event(
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
    let index = fixture
        .object("main/index/la/mb/lambdacrate")
        .await
        .expect("index file");
    assert!(index.contains("\"vers\":\"1.0.0\""), "{index}");
    // Printed, not asserted: a figure for the README (this is a debug build).
    println!(
        "api binary: peak resident memory after 3 invocations {:.1} MiB",
        lambda.peak_memory_kib() as f64 / 1024.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_binary_rebuilds_lost_index_files() {
    let fixture = Fixture::new("reindex").await;
    let alice = crateyard_core::Principal {
        user: "alice".into(),
    };
    for version in ["1.0.0", "1.1.0"] {
        let tarball = TarballBuilder::new(&format!("lost-{version}"))
            .file(
                "Cargo.toml",
                format!("[package]\nname = \"lost\"\nversion = \"{version}\"\n").as_bytes(),
            )
            .build();
        let upload = Upload::Direct {
            name: "lost".into(),
            file_name: format!("lost-{version}.crate"),
            tarball: tarball.into(),
        };
        fixture
            .registry
            .publish("main", &alice, upload)
            .await
            .unwrap();
    }
    let key = crateyard_core::index_file_key("main", "lost");
    let original = fixture.object(&key).await.expect("published");
    AwsClients::for_emulator(&fixture.moto)
        .s3
        .delete_object()
        .bucket(&fixture.name)
        .key(&key)
        .send()
        .await
        .unwrap();

    let mut lambda = fixture.start(env!("CARGO_BIN_EXE_reindex")).await;
    let answer = lambda.invoke(json!({ "repo": "main" })).await;
    assert_eq!(answer, json!({ "reindexed": { "main": 1 } }));
    assert_eq!(
        fixture.object(&key).await.as_deref(),
        Some(original.as_str())
    );
    let unknown = lambda.invoke(json!({ "repo": "nope" })).await;
    assert!(
        unknown["runtime_error"]
            .as_str()
            .unwrap()
            .contains("repository `nope` does not exist"),
        "{unknown}"
    );
}
