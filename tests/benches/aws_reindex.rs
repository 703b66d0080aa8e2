//! A reindex job fanned out on moto, by the real `reindex` Lambda binary
//! under the Runtime API emulator the test edge uses: a registry of
//! generated crates (records written straight into DynamoDB, no derived
//! file), one job with every derived file lost, then one with every file
//! current. Task objects are handed to `WORKERS` function instances at
//! once, as S3's notifications would invoke them. Every AWS call is counted
//! at a pass-through to moto. From the counts, it prints a projection for
//! 100,000 crates on AWS at a stated concurrency and latency, and its cost
//! at published prices.
//!
//! moto's latency is not AWS's, and this machine's two cores run moto, the
//! workers and this bench at once: the wall times here say that the job
//! completes and how its work divides, not how fast AWS would be. The
//! counts are the code's own and hold on AWS.
//!
//! `cargo build -p crateyard_lambda --bin reindex && CRATEYARD_TEST_MOTO=http://127.0.0.1:PORT \
//!  cargo bench -p crateyard_e2e --bench aws_reindex --profile dev [-- CRATES]` (default 3000)

use crateyard_aws::{AwsClients, DynamoStore, create_bucket, create_table};
use crateyard_core::{BATCH_CRATES, RegistryConfig};
use crateyard_e2e::aws_calls::{Call, CallLog};
use crateyard_e2e::edge::lambda::Function;
use crateyard_e2e::edge::s3_events::{ObjectCreated, s3_notification};
use crateyard_e2e::{built_binary, generate, machine_load};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Function instances running tasks at once.
const WORKERS: usize = 4;

/// Runs a job to its end: the operator's invocation, then every task
/// object, `WORKERS` at a time, until none is left. Returns the
/// invocations made and the wall time.
async fn run_job(workers: &[Arc<Function>], s3: &aws_sdk_s3::Client, bucket: &str) -> (usize, f64) {
    let started = Instant::now();
    let answer = workers[0].invoke(json!({ "repo": "main" })).await.unwrap();
    assert!(answer["jobs"]["main"].is_string(), "{answer}");
    let mut invocations = 1;
    loop {
        let listed = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(".tasks/")
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        if keys.is_empty() {
            break;
        }
        let mut running = tokio::task::JoinSet::new();
        for (i, key) in keys.into_iter().enumerate() {
            let worker = workers[i % workers.len()].clone();
            let event = s3_notification(&ObjectCreated {
                bucket: bucket.to_string(),
                key,
                size: 100,
            });
            running.spawn(async move { worker.invoke(event).await });
            invocations += 1;
        }
        while let Some(done) = running.join_next().await {
            let answer = done.unwrap().unwrap();
            assert!(answer["tasks"].is_array(), "{answer}");
        }
    }
    (invocations, started.elapsed().as_secs_f64())
}

fn by_operation(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut operations = BTreeMap::new();
    for call in calls {
        *operations.entry(call.operation.clone()).or_default() += 1;
    }
    operations
}

/// Published us-east-1 prices (Lambda on arm64): (operation, USD per call).
/// Operations are matched by prefix: the log adds what a call was about.
const PRICES: [(&str, f64); 6] = [
    ("S3 PutObject", 0.005 / 1000.0),
    ("S3 ListObjectsV2", 0.005 / 1000.0),
    ("S3 DeleteObject", 0.0),
    ("S3 GetObject", 0.0004 / 1000.0),
    // On-demand: one read request unit per strongly consistent read of up
    // to 4 KB (a crate's versions fit), one write unit per write up to 1 KB.
    ("DynamoDB Query", 0.125 / 1e6),
    ("DynamoDB GetItem", 0.125 / 1e6),
];
const DYNAMODB_WRITE: f64 = 0.625 / 1e6;
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;

fn price(operation: &str) -> f64 {
    if operation.starts_with("DynamoDB PutItem") {
        return DYNAMODB_WRITE;
    }
    PRICES
        .iter()
        .find(|(name, _)| operation.starts_with(name))
        .map_or(0.0, |(_, usd)| *usd)
}

fn report(case: &str, crates: usize, invocations: usize, seconds: f64, calls: &[Call]) {
    let operations = by_operation(calls);
    let per_crate = calls.len() as f64 / crates as f64;
    println!(
        "| {case} | {invocations} | {seconds:.1} s ({:.0} crates/s) | {} ({per_crate:.2} per crate) | {} |",
        crates as f64 / seconds,
        calls.len(),
        operations
            .iter()
            .map(|(op, n)| format!("{op} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // 100,000 crates: the same calls per crate; batches of BATCH_CRATES.
    let scale = 100_000.0 / crates as f64;
    let batches = 100_000usize.div_ceil(BATCH_CRATES);
    let requests: f64 = operations
        .iter()
        .map(|(op, n)| *n as f64 * scale * price(op))
        .sum();
    // Per crate on AWS: three dependent round trips (its records; its two
    // files and READMEs' listing; its writes) at ~10 ms (DynamoDB), ~20 ms
    // (S3 GET/LIST) and ~40 ms (S3 PUT), 32 crates at once per batch.
    let crate_ms = 10.0 + 20.0 + if case.contains("lost") { 40.0 } else { 0.0 };
    let batch_s = (BATCH_CRATES as f64 / 32.0).ceil() * crate_ms / 1000.0;
    let concurrency = 10.0;
    let rounds = (batches as f64 / concurrency).ceil();
    // The plan: a Query of 100,000 crate items (1 MB pages of ~2,500, ~30 ms
    // each, one after another) and its task PUTs, 32 at once.
    let plan_s = 40.0 * 0.03 + (batches as f64 / 32.0).ceil() * 0.04;
    let lambda_gb_s = 0.5 * (rounds * concurrency * batch_s + plan_s);
    let lambda = lambda_gb_s * LAMBDA_GB_SECOND + (batches + 2) as f64 * LAMBDA_REQUEST;
    println!(
        "|   ↳ projected, 100,000 crates on AWS, ReindexConcurrency {concurrency:.0} | {} | ~{:.0} s (plan {plan_s:.1} s, then {rounds:.0} rounds of {batch_s:.1} s) | {:.0} calls | ${:.2} requests + ${lambda:.4} Lambda |",
        batches + 2,
        plan_s + rounds * batch_s,
        calls.len() as f64 * scale,
        requests,
    );
}

fn main() {
    let crates: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3000);
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (infra/moto_server.py PORT)");
    let binary = built_binary("reindex");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let name = format!("cy-bench-reindex-{}", std::process::id());
    let clients = AwsClients::for_emulator(&moto);
    let generated = runtime.block_on(async {
        create_bucket(&clients.s3, &name).await.unwrap();
        create_table(&clients.dynamodb, &name).await.unwrap();
        let registry = crateyard_aws::aws_registry(
            clients.clone(),
            &name,
            &name,
            RegistryConfig::new(&format!("{moto}/{name}"), None),
        );
        registry.ensure_repository("main").await.unwrap();
        let started = Instant::now();
        let store = DynamoStore::new(clients.dynamodb.clone(), &name);
        generate::generate(&store, 0, crates, 16).await;
        started.elapsed().as_secs_f64()
    });
    let log = CallLog::start(&moto);
    let env: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", log.url().to_string()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("CRATEYARD_BUCKET", name.clone()),
        ("CRATEYARD_TABLE", name.clone()),
        ("CRATEYARD_PUBLIC_URL", format!("{moto}/{name}")),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let workers: Vec<Arc<Function>> = (0..WORKERS)
        .map(|i| {
            // ReindexFunction's Timeout in template.yaml.
            let function = Function::new(&format!("reindex-{i}"), binary.clone(), env.clone())
                .with_timeout(std::time::Duration::from_secs(900));
            Arc::new(function)
        })
        .collect();

    println!(
        "Reindex fanned out on moto: {crates} generated crates (generated in {generated:.1} s), \
         batches of {BATCH_CRATES}, {WORKERS} function instances at once; {}\n",
        machine_load()
    );
    println!(
        "| case | invocations | wall (moto) | AWS calls | by operation |\n|---|---|---|---|---|"
    );
    for case in ["every derived file lost", "every derived file current"] {
        log.take();
        let (invocations, seconds) = runtime.block_on(run_job(&workers, &clients.s3, &name));
        report(case, crates, invocations, seconds, &log.take());
    }
    println!(
        "\nProjection: the counts per crate measured here; on AWS ~10 ms a DynamoDB read, \
         ~20 ms an S3 GET or LIST, ~40 ms an S3 PUT, 32 crates at once per batch; \
         Lambda 512 MB; prices us-east-1 (S3 PUT/LIST $0.005 and GET $0.0004 per 1,000; \
         DynamoDB on-demand $0.125 per million reads, $0.625 per million writes; Lambda arm64 \
         $0.0000133334 per GB-s, $0.20 per million requests). S3 takes 3,500 PUTs/s per \
         partitioned prefix: a faster projection than that would see 503 SlowDown (retried)."
    );
    for worker in &workers {
        worker.stop();
    }
}
