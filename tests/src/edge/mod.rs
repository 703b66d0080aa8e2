//! A CloudFront edge for tests, in front of the stack `template.yaml`
//! declares, "deployed" on 127.0.0.1: S3 and DynamoDB are moto_server's; the
//! functions are the real Lambda binaries under a Runtime API emulator,
//! with the environment the template gives them; the distribution routes,
//! forwards and caches as CloudFront documents (see `distribution`); the
//! bucket policy decides what CloudFront may read (see `bucket_policy`);
//! S3's object-created events reach the functions the template wires them
//! to (see `s3_events`), and so do the table's stream records (see
//! `change_stream`); the stack's custom resource initialises it, as on
//! `sam deploy`.
//!
//! It follows AWS's documented rules, not AWS's implementation. It listens
//! on plain HTTP and stands for the HTTPS viewer (the stack's `https://`
//! public URL becomes `http://`); it does not compress, and it runs one
//! execution environment per function.

mod bucket_policy;
pub mod change_stream;
mod control;
pub mod distribution;
pub mod lambda;
pub mod s3_events;
pub mod stack;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bucket_policy::BucketPolicy;
use distribution::{Distribution, OriginRequest, Outcome};
use lambda::{Function, MAX_EVENT_BYTES, function_url_event};
use s3_events::{ObjectCreated, S3Routes};
use serde_json::{Value, json};
use stack::Stack;
use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `*` any run of characters (`/` too), `?` one: CloudFront path patterns,
/// IAM resources and EventBridge wildcards alike.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// The text of every `<tag>` element of a small XML document (S3's and
/// CloudFront's answers and requests here have no attributes on them).
pub(crate) fn xml_elements<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(text, _)| text))
        .collect()
}

/// A SigV4 `Authorization` header: moto refuses unsigned requests to a
/// private bucket, and checks that a request is signed, not the signature.
pub(crate) const SIGNED: &str = "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

/// Headers of the viewer's connection, not of its request.
const CONNECTION_HEADERS: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "expect",
    "upgrade",
];

/// A cached answer.
#[derive(Clone)]
struct Cached {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    expires: Instant,
}

/// Requests that reached each origin, and the edge's cache hits.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub bucket: u64,
    pub api: u64,
    pub cache_hits: u64,
}

struct Shared {
    distribution: Distribution,
    policy: BucketPolicy,
    moto: String,
    bucket: String,
    function_url_domain: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    origin_requests: Mutex<BTreeMap<String, u64>>,
    cache_hits: AtomicU64,
    functions: BTreeMap<String, Function>,
    /// Events emitted and not yet handled by their function (objects
    /// created and not yet routed included).
    pending: Arc<AtomicU64>,
    /// How far the table's stream has been delivered.
    stream: Arc<change_stream::Progress>,
}

/// A deployed stack behind its test edge.
pub struct Edge {
    /// The registry's public URL (the distribution's), `http://127.0.0.1:PORT`.
    pub url: String,
    pub bucket: String,
    pub table: String,
    /// The S3 endpoint every writer uses (moto, through the event stand-in).
    s3: String,
    moto: String,
    shared: Arc<Shared>,
    custom_resource_answers: Arc<Mutex<Vec<Value>>>,
    control: String,
    runtime: tokio::runtime::Runtime,
}

impl Drop for Edge {
    /// The functions end before the runtime serving their Runtime APIs, so
    /// none sees its connection cut mid-poll.
    fn drop(&mut self) {
        for function in self.shared.functions.values() {
            function.stop();
        }
    }
}

static NEXT_STACK: AtomicU64 = AtomicU64::new(0);

impl Edge {
    /// Deploys the template with its default parameters.
    pub fn deploy() -> Self {
        Self::deploy_with(&[])
    }

    /// Deploys the template with these parameters: creates the bucket and
    /// table as the template declares them, starts the functions, serves the
    /// distribution, and runs the custom resource's Create event.
    pub fn deploy_with(parameters: &[(&str, &str)]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let moto = std::env::var("CRATEYARD_TEST_MOTO").expect(
            "CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)",
        );
        let n = NEXT_STACK.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let stack_id = format!(
            "arn:aws:cloudformation:us-east-1:123456789012:stack/cy-edge-{pid}-{n}/{pid:08x}-{n:04x}-4000-8000-{:012x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                & 0xffff_ffff_ffff
        );
        let mut stack = Stack::new(parameters);
        stack.name_resources(&stack_id);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let url = format!("http://{host}");
        // The origin the registry's pages have on AWS, which the edge stands for.
        let public_origin = stack.eval_str(&json!({ "Fn::If": ["HasDomain",
            { "Fn::Sub": "https://${DomainName}" },
            { "Fn::Sub": "https://${Distribution.DomainName}" }] }));
        stack.set_physical("Distribution.DomainName", &host);
        // Secrets Manager's generated value: any string the API must match.
        stack.set_secret("origin-secret", &format!("edge-origin-secret-{pid}-{n}"));
        let bucket = stack.eval_str(&json!({ "Ref": "RegistryBucket" }));
        let table = stack.eval_str(&json!({ "Ref": "RegistryTable" }));
        runtime.block_on(create_bucket_and_table(&stack, &moto, &bucket, &table));
        runtime.block_on(apply_cors(&stack, &moto, &bucket, &public_origin, &url));

        let (created_tx, created_rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicU64::new(0));
        let s3 = runtime.block_on(s3_events::start_proxy(&moto, created_tx, pending.clone()));
        let (invalidations_tx, invalidations_rx) = mpsc::unbounded_channel();
        let control = runtime.block_on(control::start(invalidations_tx));

        let function_url =
            stack.eval_str(&json!({ "Fn::GetAtt": ["ApiFunctionUrl", "FunctionUrl"] }));
        let function_url_domain = function_url
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string();
        let mut functions = BTreeMap::new();
        for (id, resource) in stack.template["Resources"].as_object().unwrap() {
            if resource["Type"] != "AWS::Serverless::Function" {
                continue;
            }
            let mut env = stack.function_environment(id);
            env.insert("AWS_ENDPOINT_URL".into(), moto.clone());
            env.insert("AWS_ENDPOINT_URL_S3".into(), s3.clone());
            env.insert("AWS_ENDPOINT_URL_CLOUDFRONT".into(), control.url.clone());
            let binary = crate::built_binary(&stack.function_binary(id));
            functions.insert(id.clone(), Function::new(id, binary, env));
        }
        let routes = s3_events::s3_routes(&stack);
        let stream_consumer = change_stream::stream_consumer(&stack)
            .expect("the template feeds a function from the table's stream");
        let policy = BucketPolicy::from_stack(&stack);
        let stack = Arc::new(stack);
        let shared = Arc::new(Shared {
            distribution: Distribution::new(stack.clone()),
            policy,
            moto: moto.clone(),
            bucket: bucket.clone(),
            function_url_domain,
            http: reqwest::Client::new(),
            cache: Mutex::new(HashMap::new()),
            origin_requests: Mutex::new(BTreeMap::new()),
            cache_hits: AtomicU64::new(0),
            functions,
            pending,
            stream: Arc::default(),
        });
        runtime.spawn(deliver_events(shared.clone(), routes, created_rx));
        let functions = shared.clone();
        let function = stream_consumer.function.clone();
        let deliver = move |event: Value| {
            let functions = functions.clone();
            let function = function.clone();
            async move { functions.functions[&function].invoke(event).await }
        };
        let pump = change_stream::pump(
            moto.clone(),
            table.clone(),
            stream_consumer,
            shared.stream.clone(),
            deliver,
        );
        runtime.spawn(pump);
        runtime.spawn(apply_invalidations(shared.clone(), invalidations_rx));
        let app = axum::Router::new()
            .fallback(viewer_request)
            .with_state(shared.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });

        let edge = Self {
            url,
            bucket,
            table,
            s3,
            moto,
            shared,
            custom_resource_answers: control.answers,
            control: control.url,
            runtime,
        };
        let answer = edge.custom_resource("Create");
        assert_eq!(answer["Status"], "SUCCESS", "the stack's setup: {answer}");
        edge.settle();
        edge
    }

    /// Sends the stack's custom resource a CloudFormation event, as
    /// CloudFormation does (asynchronously, the answer PUT to a presigned
    /// `ResponseURL`), and returns the answer.
    pub fn custom_resource(&self, request_type: &str) -> Value {
        let stack = self.shared.distribution.stack();
        let (id, resource) = stack.template["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, r)| {
                r["Type"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Custom::"))
            })
            .expect("the template has a custom resource");
        let token = resource["Properties"]["ServiceToken"]["Ref"]
            .as_str()
            .expect("ServiceToken: !Ref FUNCTION.Alias");
        let function = token.split('.').next().unwrap();
        let mut properties = serde_json::Map::new();
        for (name, value) in resource["Properties"].as_object().unwrap() {
            let value = if name == "ServiceToken" {
                json!(format!(
                    "arn:aws:lambda:us-east-1:123456789012:function:{function}:live"
                ))
            } else {
                stack.eval(value).unwrap_or(Value::Null)
            };
            properties.insert(name.clone(), value);
        }
        // The harness's edge is plain HTTP (see the module's comment).
        if let Some(Value::String(url)) = properties.get_mut("PublicUrl") {
            *url = url.replacen("https://", "http://", 1);
        }
        let answers_before = self.custom_resource_answers.lock().unwrap().len();
        let request_id = format!("request-{answers_before}");
        let event = json!({
            "RequestType": request_type,
            "ServiceToken": properties["ServiceToken"],
            "ResponseURL": format!("{}/cloudformation/{request_id}", self.control),
            "StackId": stack.eval_str(&json!({ "Ref": "AWS::StackId" })),
            "RequestId": request_id,
            "LogicalResourceId": id,
            "PhysicalResourceId": if request_type == "Create" { Value::Null } else { json!("crateyard-setup") },
            "ResourceType": resource["Type"],
            "ResourceProperties": properties,
        });
        let shared = self.shared.clone();
        let function = function.to_string();
        self.runtime.block_on(async move {
            // Invoked asynchronously: the result is not what CloudFormation reads.
            let _ = shared.functions[&function].invoke(event).await;
        });
        let answers = self.custom_resource_answers.lock().unwrap();
        answers
            .get(answers_before)
            .cloned()
            .expect("the custom resource answered its ResponseURL")
    }

    /// Waits until every S3 event emitted so far has been handled by its
    /// function (invalidations applied, large uploads ingested), and every
    /// change committed so far has been through the table's stream (derived
    /// files written), with the S3 events that writing emitted. On AWS this
    /// takes seconds: the stream's polling, the queue's batching window,
    /// CloudFront's propagation.
    pub fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let wait = |done: &dyn Fn() -> bool| {
            while !done() {
                assert!(
                    Instant::now() < deadline,
                    "events still pending after 120 s"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let s3_settled = || self.shared.pending.load(Ordering::SeqCst) == 0;
        loop {
            wait(&s3_settled);
            let mark = self.shared.stream.mark();
            let stream = &self.shared.stream;
            wait(&|| stream.drained_since(mark));
            // The stream's deliveries write objects, whose events count
            // before those writes answer.
            if s3_settled() {
                return;
            }
        }
    }

    /// Origin requests and cache hits so far.
    pub fn counts(&self) -> Counts {
        let origins = self.shared.origin_requests.lock().unwrap();
        Counts {
            bucket: origins.get("bucket").copied().unwrap_or(0),
            api: origins.get("api").copied().unwrap_or(0),
            cache_hits: self.shared.cache_hits.load(Ordering::Relaxed),
        }
    }

    /// How many times a function (by logical id) was invoked.
    pub fn invocations(&self, function: &str) -> u64 {
        self.shared.functions[function].invocations()
    }

    /// The function URL's own address: a request sent there, not through
    /// the distribution (it lacks the origin secret).
    pub fn call_function_url(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let headers: BTreeMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let event = function_url_event(
            &self.shared.function_url_domain,
            method,
            path,
            "",
            &headers,
            b"",
        );
        let shared = self.shared.clone();
        let answer = self
            .runtime
            .block_on(async move { shared.functions["ApiFunction"].invoke(event).await })
            .expect("the API answers");
        let status = answer["statusCode"].as_u64().unwrap_or(200) as u16;
        (
            status,
            String::from_utf8_lossy(&function_url_body(&answer)).into_owned(),
        )
    }

    /// `crateyard ARGS` on the stack's bucket and table (as an operator
    /// runs it with `--stack`, which finds the same two names).
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(crate::crateyard_bin())
            .args(args)
            .args(["--bucket", &self.bucket, "--table", &self.table])
            .env("AWS_ENDPOINT_URL", &self.moto)
            .env("AWS_ENDPOINT_URL_S3", &self.s3)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .output()
            .expect("crateyard runs")
    }

    /// `crateyard ARGS`, which must succeed; its stdout.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "crateyard {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.settle();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new token for `user` (`crateyard token create`).
    pub fn token(&self, user: &str) -> String {
        self.admin_ok(&["token", "create", "--user", user])
    }

    /// Every object key in the bucket under `prefix` (the S3 API on moto).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let listing = reqwest::blocking::Client::new()
            .get(format!(
                "{}/{}?list-type=2&prefix={prefix}",
                self.moto, self.bucket
            ))
            .header("authorization", SIGNED)
            .send()
            .and_then(|r| r.text())
            .expect("moto lists the bucket");
        xml_elements(&listing, "Key")
            .into_iter()
            .map(|key| key.replace("&amp;", "&"))
            .collect()
    }

    /// `sparse+` index URL of a repository, at the edge.
    pub fn index_url(&self, repo: &str) -> String {
        format!("sparse+{}/{repo}/index/", self.url)
    }
}

async fn create_bucket_and_table(stack: &Stack, moto: &str, bucket: &str, table: &str) {
    let http = reqwest::Client::new();
    let created = http.put(format!("{moto}/{bucket}")).send().await.unwrap();
    assert!(
        created.status().is_success(),
        "bucket: {:?}",
        created.text().await
    );
    let spec = stack.resource("RegistryTable")["Properties"].clone();
    let mut body = json!({
        "TableName": table,
        "BillingMode": spec["BillingMode"],
        "AttributeDefinitions": spec["AttributeDefinitions"],
        "KeySchema": spec["KeySchema"],
    });
    if let Some(view) = spec["StreamSpecification"]["StreamViewType"].as_str() {
        body["StreamSpecification"] = json!({ "StreamEnabled": true, "StreamViewType": view });
    }
    let created = http
        .post(moto)
        .header("x-amz-target", "DynamoDB_20120810.CreateTable")
        .header("content-type", "application/x-amz-json-1.0")
        .header("authorization", SIGNED.replace("/s3/", "/dynamodb/"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "table: {:?}",
        created.text().await
    );
}

/// The bucket's CORS rules from the template, on moto (which enforces
/// them). Each allowed origin must admit the registry's public origin on
/// AWS; the edge's own origin stands in for it.
async fn apply_cors(stack: &Stack, moto: &str, bucket: &str, public_origin: &str, edge: &str) {
    let Some(cors) = stack
        .eval(&stack.resource("RegistryBucket")["Properties"]["CorsConfiguration"])
        .filter(|c| !c.is_null())
    else {
        return;
    };
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect()
    };
    let mut xml = String::from("<CORSConfiguration>");
    for rule in cors["CorsRules"].as_array().into_iter().flatten() {
        let origins = list(&rule["AllowedOrigins"]);
        assert!(
            origins.iter().any(|o| wildcard(o, public_origin)),
            "the CORS rule {rule} does not admit the registry's pages ({public_origin})"
        );
        xml.push_str("<CORSRule>");
        for method in list(&rule["AllowedMethods"]) {
            xml.push_str(&format!("<AllowedMethod>{method}</AllowedMethod>"));
        }
        xml.push_str(&format!("<AllowedOrigin>{edge}</AllowedOrigin>"));
        for header in list(&rule["AllowedHeaders"]) {
            xml.push_str(&format!("<AllowedHeader>{header}</AllowedHeader>"));
        }
        if let Some(age) = rule["MaxAge"].as_str() {
            xml.push_str(&format!("<MaxAgeSeconds>{age}</MaxAgeSeconds>"));
        }
        xml.push_str("</CORSRule>");
    }
    xml.push_str("</CORSConfiguration>");
    let put = reqwest::Client::new()
        .put(format!("{moto}/{bucket}?cors"))
        .header("authorization", SIGNED)
        .body(xml)
        .send()
        .await
        .unwrap();
    assert!(
        put.status().is_success(),
        "PutBucketCors: {:?}",
        put.text().await
    );
}

/// Hands S3's events to the functions the template wires them to: rules'
/// queues in batches (after the queue's batching window), notifications one
/// by one (asynchronous invocations).
async fn deliver_events(
    shared: Arc<Shared>,
    routes: S3Routes,
    mut created: mpsc::UnboundedReceiver<ObjectCreated>,
) {
    let (batch_tx, mut batch_rx) = mpsc::unbounded_channel::<(String, Value)>();
    // One batcher: messages gathered for the window, then one invocation.
    let batcher = shared.clone();
    let windows: BTreeMap<String, u64> = routes
        .rules
        .iter()
        .map(|(_, function, window)| (function.clone(), *window))
        .collect();
    tokio::spawn(async move {
        while let Some((function, first)) = batch_rx.recv().await {
            let window = Duration::from_secs(windows[&function]);
            tokio::time::sleep(window).await;
            let mut messages = vec![first];
            while let Ok((_, more)) = batch_rx.try_recv() {
                messages.push(more);
            }
            let count = messages.len() as u64;
            let records: Vec<Value> = messages
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    json!({
                        "messageId": format!("m{i}"), "receiptHandle": format!("r{i}"),
                        "body": body.to_string(), "attributes": {}, "messageAttributes": {},
                        "md5OfBody": "", "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:IndexChangesQueue",
                        "awsRegion": "us-east-1"
                    })
                })
                .collect();
            let result = batcher.functions[&function]
                .invoke(json!({ "Records": records }))
                .await;
            if let Err(e) = result {
                eprintln!("edge: {function} failed a batch: {e}");
            }
            batcher.pending.fetch_sub(count, Ordering::SeqCst);
        }
    });
    while let Some(object) = created.recv().await {
        let event = s3_events::eventbridge_event(&object);
        for (pattern, function, _) in &routes.rules {
            if s3_events::pattern_matches(pattern, &event) {
                shared.pending.fetch_add(1, Ordering::SeqCst);
                let _ = batch_tx.send((function.clone(), event.clone()));
            }
        }
        for (prefix, suffix, function) in &routes.notifications {
            if object.key.starts_with(prefix.as_str()) && object.key.ends_with(suffix.as_str()) {
                shared.pending.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                let function = function.clone();
                let event = s3_events::s3_notification(&object);
                tokio::spawn(async move {
                    if let Err(e) = shared.functions[&function].invoke(event).await {
                        eprintln!("edge: {function} failed: {e}");
                    }
                    shared.pending.fetch_sub(1, Ordering::SeqCst);
                });
            }
        }
        // Routed: its own count gives way to its deliveries'.
        shared.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Empties the cache for each invalidation's paths (`/a/b` exactly, `/a/*`
/// by prefix), whatever the query strings and headers in the keys.
async fn apply_invalidations(shared: Arc<Shared>, mut paths: mpsc::UnboundedReceiver<Vec<String>>) {
    while let Some(paths) = paths.recv().await {
        let mut cache = shared.cache.lock().unwrap();
        cache.retain(|key, _| {
            let path = key.split(['\n', '?']).next().unwrap_or_default();
            !paths.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == p,
            })
        });
    }
}

fn plain(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn viewer_request(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return plain(413, "request body too large for the test edge");
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter(|(name, _)| !CONNECTION_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let router = shared.clone();
    let (m, p, q, h) = (method.clone(), path.clone(), query.clone(), headers.clone());
    let outcome =
        tokio::task::spawn_blocking(move || router.distribution.route(&m, &p, q.as_deref(), &h))
            .await
            .expect("routing does not panic");
    let origin = match outcome {
        Outcome::MethodNotAllowed => {
            return plain(
                403,
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
            );
        }
        Outcome::Response {
            status,
            headers,
            body,
        } => {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value);
            }
            return response.body(Body::from(body)).unwrap();
        }
        Outcome::Origin(origin) => origin,
    };
    let if_none_match = parts
        .headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if origin.cached_method {
        let hit = shared
            .cache
            .lock()
            .unwrap()
            .get(&origin.cache_key)
            .filter(|c| c.expires > Instant::now())
            .cloned();
        if let Some(cached) = hit {
            shared.cache_hits.fetch_add(1, Ordering::Relaxed);
            return to_viewer(&method, cached, if_none_match.as_deref(), "Hit");
        }
    }
    *shared
        .origin_requests
        .lock()
        .unwrap()
        .entry(origin.origin.clone())
        .or_default() += 1;
    let fetched = match origin.origin.as_str() {
        "bucket" => s3_origin(&shared, &method, &origin).await,
        "api" => api_origin(&shared, &method, &origin, &body).await,
        other => plain(502, &format!("origin {other} is not modelled")),
    };
    let (parts, body) = fetched.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let fetched = Cached {
        status: parts.status,
        headers: parts.headers,
        body,
        expires: Instant::now(),
    };
    if origin.cached_method
        && let Some(ttl) = ttl(&origin, &fetched)
    {
        let cached = Cached {
            expires: Instant::now() + ttl,
            ..fetched.clone()
        };
        shared
            .cache
            .lock()
            .unwrap()
            .insert(origin.cache_key.clone(), cached);
    }
    to_viewer(&method, fetched, if_none_match.as_deref(), "Miss")
}

/// CloudFront's TTL for an answer: the origin's `s-maxage` or `max-age`
/// within the policy's bounds, else its default TTL; `no-store`,
/// `no-cache` and `private` are not cached when MinTTL is 0; errors are
/// cached 10 s (the default error caching minimum TTL) unless the origin
/// says otherwise.
fn ttl(origin: &OriginRequest, answer: &Cached) -> Option<Duration> {
    let policy = &origin.cache;
    if policy.max_ttl == 0 {
        return None;
    }
    let control = answer
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let directive = |name: &str| -> Option<u64> {
        control
            .split(',')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    let seconds = directive("s-maxage").or_else(|| directive("max-age"));
    let status = answer.status.as_u16();
    if [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504].contains(&status) {
        return Some(Duration::from_secs(seconds.unwrap_or(10)));
    }
    if ![200, 203, 206, 300, 301, 302, 307, 410].contains(&status) {
        return None;
    }
    let uncacheable = ["no-store", "no-cache", "private"]
        .iter()
        .any(|d| control.split(',').any(|c| c.trim() == *d));
    if uncacheable && policy.min_ttl == 0 {
        return None;
    }
    let seconds = match seconds {
        Some(s) => s.clamp(policy.min_ttl, policy.max_ttl),
        // Redirects are cached only when the origin says for how long.
        None if [302, 307].contains(&status) => return None,
        None => policy.default_ttl,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

fn to_viewer(method: &str, answer: Cached, if_none_match: Option<&str>, cache: &str) -> Response {
    let etag = answer.headers.get("etag").and_then(|v| v.to_str().ok());
    let not_modified = answer.status == StatusCode::OK
        && etag.is_some()
        && if_none_match.is_some_and(|given| given.split(',').any(|g| Some(g.trim()) == etag));
    let mut response = Response::builder().status(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        answer.status
    });
    for (name, value) in &answer.headers {
        if !s3_events::HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    response = response
        .header("x-cache", format!("{cache} from cloudfront"))
        .header("via", "1.1 edge.cloudfront.net (CloudFront)");
    let body = if not_modified || method == "HEAD" {
        Body::empty()
    } else {
        Body::from(answer.body)
    };
    response.body(body).unwrap()
}

/// The S3 origin: the bucket policy decides (CloudFront signs as its service
/// principal, `AWS:SourceArn` its distribution); then moto answers.
async fn s3_origin(shared: &Shared, method: &str, origin: &OriginRequest) -> Response {
    let key = percent_encoding::percent_decode_str(origin.path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    let object_url = format!("{}/{}{}", shared.moto, shared.bucket, origin.path);
    let mut context = BTreeMap::new();
    context.insert(
        "AWS:SourceArn".to_string(),
        shared.distribution.source_arn(),
    );
    // Origin Access Control signs every request as CloudFront (moto checks
    // that a request is signed, not the signature).
    let oac = |request: reqwest::RequestBuilder| request.header("authorization", SIGNED);
    // One request, as the viewer's method; its answer is passed on only if
    // the policy allows it.
    let request = match method {
        "HEAD" => shared.http.head(&object_url),
        _ => shared.http.get(&object_url),
    };
    let answer = oac(request).send().await.unwrap();
    let (status, headers) = (answer.status(), answer.headers().clone());
    // Read whole before the next request: moto serves one at a time.
    let body = answer.bytes().await.unwrap_or_default();
    let exists = status.is_success();
    if exists && shared.policy.reads_tags() {
        let tags = oac(shared.http.get(format!("{object_url}?tagging")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap_or_default();
        for tag in xml_elements(&tags, "Tag") {
            let text = |name| {
                xml_elements(tag, name)
                    .first()
                    .copied()
                    .unwrap_or_default()
                    .to_string()
            };
            context.insert(
                format!("s3:ExistingObjectTag/{}", text("Key")),
                text("Value"),
            );
        }
    }
    let access_denied = || {
        Response::builder()
            .status(403)
            .header("content-type", "application/xml")
            .body(Body::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
            ))
            .unwrap()
    };
    if !shared.policy.allows("s3:GetObject", Some(&key), &context) {
        return access_denied();
    }
    if !exists {
        // Without s3:ListBucket S3 does not say whether a key exists.
        if !shared.policy.allows("s3:ListBucket", None, &context) {
            return access_denied();
        }
        return Response::builder()
            .status(404)
            .header("content-type", "application/xml")
            .body(Body::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
            ))
            .unwrap();
    }
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        let name = name.as_str();
        // CloudFront passes S3's headers on, not its request ids.
        if !s3_events::HOP_BY_HOP.contains(&name) && !name.starts_with("x-amz-") {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(body)).unwrap()
}

/// The function URL origin: the request as a payload 2.0 event (the body
/// base64-encoded), refused as Lambda refuses it when the event is over the
/// invoke limit.
async fn api_origin(
    shared: &Shared,
    method: &str,
    origin: &OriginRequest,
    body: &[u8],
) -> Response {
    let event = function_url_event(
        &shared.function_url_domain,
        method,
        &origin.path,
        origin.query.as_deref().unwrap_or_default(),
        &origin.headers,
        body,
    );
    if event.to_string().len() > MAX_EVENT_BYTES {
        return Response::builder()
            .status(413)
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"Message":"Request must be smaller than 6291456 bytes for the InvokeFunction operation"}"#,
            ))
            .unwrap();
    }
    match shared.functions["ApiFunction"].invoke(event).await {
        Ok(answer) => function_url_response(&answer),
        Err(e) => {
            eprintln!("edge: the API function failed: {e}");
            plain(502, "Internal Server Error")
        }
    }
}

/// A function URL's HTTP answer from the function's result (payload 2.0).
fn function_url_response(answer: &Value) -> Response {
    let status = answer["statusCode"].as_u64().unwrap_or(200) as u16;
    let mut response = Response::builder().status(status);
    for (name, value) in answer["headers"].as_object().into_iter().flatten() {
        response = response.header(name, value.as_str().unwrap_or_default());
    }
    for (name, values) in answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
    {
        for value in values.as_array().into_iter().flatten() {
            response = response.header(name, value.as_str().unwrap_or_default());
        }
    }
    for cookie in answer["cookies"].as_array().into_iter().flatten() {
        response = response.header("set-cookie", cookie.as_str().unwrap_or_default());
    }
    response
        .body(Body::from(function_url_body(answer)))
        .unwrap()
}

fn function_url_body(answer: &Value) -> Vec<u8> {
    use base64::Engine;
    let body = answer["body"].as_str().unwrap_or_default();
    if answer["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    }
}
