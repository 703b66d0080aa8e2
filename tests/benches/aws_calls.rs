//! The AWS calls behind each write on the AWS backend, counted at moto:
//! how many calls a publish, a yank, an unyank and an owner change make,
//! and the longest chain of them that must wait for one another
//! (sequential round trips), for a new crate and for a new version of a
//! crate that already has many versions. moto's latency is not AWS's:
//! on AWS each sequential round trip is a few to ~20 ms.
//!
//! As the stack runs: the API (`crateyard serve` on the AWS backend) with
//! `CRATEYARD_DERIVED_FILES=change-stream`, answering at its commit; the
//! real `indexer` Lambda binary, under a Runtime API stand-in, fed the
//! table's stream, writing the derived files. Each write's two parts are
//! counted apart: the request's calls (what the client waits for) and the
//! stream consumer's.
//!
//! `cargo build -p crateyard_server -p crateyard_lambda && CRATEYARD_TEST_MOTO=http://127.0.0.1:PORT \
//!  cargo bench -p crateyard_e2e --bench aws_calls --profile dev [-- VERSIONS]`
//! (default 1000; `--profile dev` uses the debug builds: the counts do
//! not depend on the build; `AWS_CALLS_TIMELINE=1` prints every call)

use crateyard_e2e::aws_calls::{Call, CallLog, sequential_round_trips};
use crateyard_e2e::edge::change_stream::{Progress, enable_stream, pump, stream_consumer};
use crateyard_e2e::edge::lambda::Function;
use crateyard_e2e::edge::stack::Stack;
use crateyard_e2e::{Server, built_binary, crate_bytes, machine_load, publish_body};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Registry {
    server: Server,
    log: CallLog,
    token: String,
    http: reqwest::blocking::Client,
    stream: Arc<Progress>,
}

/// A write's AWS calls: the request's, then the stream consumer's.
struct Measured {
    request: Vec<Call>,
    consumer: Vec<Call>,
}

impl Registry {
    /// One request to the API, then the AWS calls it made and those the
    /// stream's consumer made after it.
    fn measure(&self, method: &str, path: &str, body: Vec<u8>) -> Measured {
        self.settle();
        self.log.take();
        let answer = self
            .http
            .request(
                method.parse().unwrap(),
                format!("{}/main/{path}", self.server.url),
            )
            .header("Authorization", format!("Bearer {}", self.token))
            .body(body)
            .send()
            .unwrap();
        let status = answer.status();
        assert!(
            status.is_success(),
            "{method} {path}: {}",
            answer.text().unwrap()
        );
        let request = self.log.take();
        self.settle();
        Measured {
            request,
            consumer: self.log.take(),
        }
    }

    /// Until the stream's consumer has handled every change so far.
    fn settle(&self) {
        let mark = self.stream.mark();
        while !self.stream.drained_since(mark) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn publish(&self, name: &str, version: &str) -> Measured {
        let metadata =
            serde_json::json!({ "name": name, "vers": version, "deps": [], "features": {} });
        let body = publish_body(&metadata, &crate_bytes(name, version, ""));
        self.measure("PUT", "api/v1/crates/new", body)
    }
}

fn row(case: &str, measured: &Measured) {
    calls_row(case, "request", &measured.request);
    calls_row(case, "stream consumer", &measured.consumer);
}

fn calls_row(case: &str, part: &str, calls: &[Call]) {
    let mut operations: BTreeMap<&str, usize> = BTreeMap::new();
    for call in calls {
        *operations.entry(call.operation.as_str()).or_default() += 1;
    }
    let operations: Vec<String> = operations
        .iter()
        .map(|(operation, n)| format!("{operation} ×{n}"))
        .collect();
    println!(
        "| {case} | {part} | {} | {} | {} |",
        calls.len(),
        sequential_round_trips(calls),
        operations.join(", ")
    );
    // AWS_CALLS_TIMELINE=1: each call's sending and answer, in ms from the first.
    if std::env::var_os("AWS_CALLS_TIMELINE").is_some() {
        let Some(start) = calls.iter().map(|c| c.sent).min() else {
            return;
        };
        for call in calls {
            let ms = |at: std::time::Instant| (at - start).as_secs_f64() * 1e3;
            println!(
                "    {:7.2} → {:7.2} ms  {}",
                ms(call.sent),
                ms(call.answered),
                call.operation
            );
        }
    }
}

fn main() {
    let versions: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server");
    let load_before = machine_load();
    let log = CallLog::start(&moto);
    let server = Server::start_aws_with(log.url(), &[("CRATEYARD_DERIVED_FILES", "change-stream")]);
    let (bucket, table) = server.aws_storage().expect("an AWS-backed server");
    // The stack's indexer, on the same calls log, fed the table's stream.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(enable_stream(&moto, table));
    let env = [
        ("AWS_ENDPOINT_URL", log.url()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("CRATEYARD_BUCKET", bucket),
        ("CRATEYARD_TABLE", table),
        ("CRATEYARD_PUBLIC_URL", &server.public_url),
        ("RUST_LOG", "warn"),
    ];
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let indexer = Arc::new(Function::new(
        "indexer",
        built_binary("indexer"),
        env.collect(),
    ));
    let stream = Arc::new(Progress::default());
    let deliver = move |event| {
        let indexer = indexer.clone();
        async move { indexer.invoke(event).await }
    };
    // As the template's event source: its batch size and filter.
    let consumer = stream_consumer(&Stack::new(&[])).expect("the template's stream consumer");
    runtime.spawn(pump(
        moto.clone(),
        table.to_string(),
        consumer,
        stream.clone(),
        deliver,
    ));
    let registry = Registry {
        token: server.token("bench"),
        http: server.http(),
        server,
        log,
        stream,
    };

    println!("AWS calls per write, counted at moto ({versions} versions for the long history)\n");
    println!(
        "| case | part | calls | sequential round trips | operations |\n|---|---|---|---|---|"
    );
    // The API remembers which user a token belongs to (a hint for what to
    // read): its first request with a token reads the user after the token.
    row(
        "publish, new crate (first request with this token)",
        &registry.publish("first", "1.0.0"),
    );
    row("publish, new crate", &registry.publish("fresh", "1.0.0"));
    row(
        "publish, new version (crate with 1 version)",
        &registry.publish("fresh", "1.1.0"),
    );
    for minor in 0..versions - 1 {
        registry.publish("history", &format!("0.{minor}.0"));
    }
    row(
        &format!(
            "publish, new version (crate with {} versions)",
            versions - 1
        ),
        &registry.publish("history", &format!("0.{}.0", versions - 1)),
    );
    row(
        &format!("yank (crate with {versions} versions)"),
        &registry.measure("DELETE", "api/v1/crates/history/0.0.0/yank", vec![]),
    );
    row(
        &format!("unyank (crate with {versions} versions)"),
        &registry.measure("PUT", "api/v1/crates/history/0.0.0/unyank", vec![]),
    );
    registry.server.admin_ok(&["user", "set", "other"]);
    row(
        "owner add",
        &registry.measure(
            "PUT",
            "api/v1/crates/fresh/owners",
            br#"{"users":["other"]}"#.to_vec(),
        ),
    );
    println!("\nbefore: {load_before}; after: {}", machine_load());
}
