//! A Lambda function as the Lambda service runs it: the real binary, polling
//! a Runtime API emulator on 127.0.0.1 for its events, one invocation at a
//! time, as one execution environment does. A result reaches the invocation
//! with its request id only: one whose caller went away (a browser that
//! navigated on) is dropped, never handed to the next caller.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc, oneshot};

/// The invoke payload limit, for the event as sent (synchronous invocation).
pub const MAX_EVENT_BYTES: usize = 6_291_456;

type Outcome = Result<Value, String>;

/// An event and where its outcome goes.
type Invocation = (Value, oneshot::Sender<Outcome>);

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<mpsc::Receiver<Invocation>>>,
    /// Invocations handed out and not yet answered, by request id.
    in_flight: Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<Outcome>>>>,
    init_error: Arc<std::sync::Mutex<Option<String>>>,
    next_id: Arc<AtomicU64>,
    arn: String,
    first_poll: Arc<std::sync::Mutex<Option<Instant>>>,
}

async fn next(State(api): State<RuntimeApi>) -> (HeaderMap, Json<Value>) {
    api.first_poll
        .lock()
        .unwrap()
        .get_or_insert_with(Instant::now);
    let (event, outcome) = match api.events.lock().await.recv().await {
        Some(invocation) => invocation,
        None => std::future::pending().await,
    };
    let id = api.next_id.fetch_add(1, Ordering::Relaxed).to_string();
    api.in_flight.lock().unwrap().insert(id.clone(), outcome);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 300_000;
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        api.arn.parse().unwrap(),
    );
    (headers, Json(event))
}

impl RuntimeApi {
    fn answer(&self, id: &str, outcome: Outcome) {
        if let Some(caller) = self.in_flight.lock().unwrap().remove(id) {
            let _ = caller.send(outcome);
        }
    }
}

async fn response(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: String,
) -> &'static str {
    api.answer(
        &id,
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}")),
    );
    "{}"
}

async fn error(
    State(api): State<RuntimeApi>,
    Path(id): Path<String>,
    body: String,
) -> &'static str {
    api.answer(&id, Err(body));
    "{}"
}

async fn record_init_error(State(api): State<RuntimeApi>, body: String) -> &'static str {
    *api.init_error.lock().unwrap() = Some(body);
    "{}"
}

/// A function: started on its first invocation (a cold start), and again
/// after its process ended (a failed init, a crash), as Lambda does.
pub struct Function {
    name: String,
    binary: PathBuf,
    env: BTreeMap<String, String>,
    environment: Mutex<Option<Environment>>,
    invocations: AtomicU64,
    timeout: Duration,
}

/// One execution environment: the process and its Runtime API.
struct Environment {
    child: Child,
    events: mpsc::Sender<Invocation>,
    init_error: Arc<std::sync::Mutex<Option<String>>>,
    started: Instant,
    first_poll: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl Environment {
    async fn start(name: &str, binary: &std::path::Path, env: &BTreeMap<String, String>) -> Self {
        let (event_tx, event_rx) = mpsc::channel(1);
        let first_poll = Arc::new(std::sync::Mutex::new(None));
        let init_error = Arc::new(std::sync::Mutex::new(None));
        let api = RuntimeApi {
            events: Arc::new(Mutex::new(event_rx)),
            in_flight: Arc::default(),
            init_error: init_error.clone(),
            next_id: Arc::default(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            first_poll: first_poll.clone(),
        };
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(record_init_error))
            .with_state(api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime_api = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let started = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "edge")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .envs(env)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
        Self {
            child,
            events: event_tx,
            init_error,
            started,
            first_poll,
        }
    }

    fn ended(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    pub fn new(name: &str, binary: PathBuf, env: BTreeMap<String, String>) -> Self {
        Self {
            name: name.into(),
            binary,
            env,
            environment: Mutex::new(None),
            invocations: AtomicU64::new(0),
            timeout: Duration::from_secs(120),
        }
    }

    /// How long an invocation may run before it is failed (default 120 s;
    /// the template's `Timeout` where a caller needs the function's own).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One synchronous invocation: the function's result, or its error.
    pub async fn invoke(&self, event: Value) -> Result<Value, String> {
        let mut slot = self.environment.lock().await;
        if slot.as_mut().is_none_or(Environment::ended) {
            *slot = Some(Environment::start(&self.name, &self.binary, &self.env).await);
        }
        let environment = slot.as_mut().unwrap();
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let outcome = async {
            let (caller, mut result) = oneshot::channel();
            environment
                .events
                .send((event, caller))
                .await
                .map_err(|_| "the runtime stopped".to_string())?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                let tick = tokio::time::sleep(Duration::from_millis(50));
                tokio::select! {
                    outcome = &mut result => {
                        return outcome.unwrap_or_else(|_| Err("the runtime stopped".into()));
                    }
                    _ = tick => {
                        if environment.ended() {
                            let init_error = environment.init_error.lock().unwrap().take();
                            return Err(init_error.unwrap_or_else(|| {
                                "the process ended (Runtime.ExitError)".into()
                            }));
                        }
                        if tokio::time::Instant::now() > deadline {
                            return Err("timed out".into());
                        }
                    }
                }
            }
        }
        .await;
        if outcome.is_err() && environment.ended() {
            // The next invocation starts a new environment.
            *slot = None;
        }
        outcome.map_err(|e| format!("{}: {e}", self.name))
    }

    /// Ends the execution environment, as Lambda does when it reclaims one.
    pub fn stop(&self) {
        if let Ok(mut slot) = self.environment.try_lock() {
            *slot = None;
        }
    }

    /// How many times it was invoked.
    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::Relaxed)
    }

    /// The current environment's start: from exec to its first call for an
    /// event on the Runtime API.
    pub async fn init_time(&self) -> Option<Duration> {
        let environment = self.environment.lock().await;
        let environment = environment.as_ref()?;
        let first_poll = *environment.first_poll.lock().unwrap();
        first_poll.map(|at| at.duration_since(environment.started))
    }

    /// The current environment's peak resident memory so far (Linux's
    /// VmHWM), in KiB.
    pub async fn peak_memory_kib(&self) -> Option<u64> {
        let environment = self.environment.lock().await;
        let pid = environment.as_ref()?.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

/// A function URL's event for a request (payload format 2.0): headers
/// lowercase, the body base64-encoded.
pub fn function_url_event(
    domain: &str,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Value {
    use base64::Engine;
    let mut event_headers: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| name.as_str() != "cookie")
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    event_headers.insert("host".into(), Value::String(domain.into()));
    let cookies: Vec<&str> = headers
        .get("cookie")
        .map(|c| c.split("; ").collect())
        .unwrap_or_default();
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": event_headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "edge", "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or_default(),
            "http": { "method": method, "path": raw_path, "protocol": "HTTP/1.1",
                      "sourceIp": "127.0.0.1", "userAgent": user_agent },
            "requestId": "edge", "routeKey": "$default", "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000", "timeEpoch": 1_796_083_200_000u64
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !body.is_empty() {
        event["body"] = base64::engine::general_purpose::STANDARD
            .encode(body)
            .into();
        event["isBase64Encoded"] = true.into();
    }
    event
}
