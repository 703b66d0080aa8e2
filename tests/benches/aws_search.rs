//! Whether search on the AWS backend stays flat from 10 to 100,000 crates.
//! DynamoDB cannot match a substring without reading every crate item, so
//! search reads the repository's search shards (`crateyard_core`'s
//! `search_index.rs`); this grows them with a generator that writes them
//! straight to S3 on moto (the crate records' entries, as a reindex would:
//! no crate item is needed, since search never reads one), then measures
//! searches through `crateyard serve` on the AWS backend, counting every
//! AWS call at a pass-through to moto. moto's latency is not S3's: the
//! calls per search are what carry over.
//!
//! `cargo build -p crateyard_server && CRATEYARD_TEST_MOTO=http://127.0.0.1:PORT cargo bench -p crateyard_e2e --bench aws_search --profile dev [-- MAX]`
//! (MAX, default 100000: the largest size measured)

use crateyard_aws::AwsClients;
use crateyard_core::{CrateRecord, RegistryConfig};
use crateyard_e2e::aws_calls::CallLog;
use crateyard_e2e::generate::generated_crate;
use crateyard_e2e::{Server, machine_load};
use std::time::Instant;

const SEARCHES: usize = 20;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Wall milliseconds of one search, and its total.
fn search(server: &Server, query: &str) -> (f64, u64) {
    let started = Instant::now();
    let found: serde_json::Value = server
        .get(&format!("main/api/v1/crates?q={query}&per_page=10"))
        .json()
        .unwrap();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    (ms, found["meta"]["total"].as_u64().expect("a total"))
}

/// VmRSS of a process, in MiB.
fn rss(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let max: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (infra/moto_server.py PORT)");
    let calls = CallLog::start(&moto);
    let server = Server::start_aws_at(calls.url());
    let (bucket, table) = server.aws_storage().unwrap();
    let registry = crateyard_aws::aws_registry(
        AwsClients::for_emulator(&moto),
        bucket,
        table,
        RegistryConfig::new(&server.public_url, None),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "Search on the AWS backend (moto) as the registry grows (ms; RSS of the API process in MiB); before: {}\n",
        machine_load()
    );
    println!(
        "| crates | shards written in | first search after the change | search p50 (needle) | search p99 (needle) | search p50 (no match) | AWS calls per search | API RSS |\n|---|---|---|---|---|---|---|---|"
    );
    let mut records: Vec<CrateRecord> = Vec::new();
    for size in [10, 1_000, 10_000, 100_000]
        .into_iter()
        .filter(|s| *s <= max)
    {
        records.extend((records.len()..size).map(|i| generated_crate(i).krate));
        let started = Instant::now();
        runtime
            .block_on(registry.rebuild_search_shards("main", records.iter()))
            .unwrap();
        let written = started.elapsed().as_secs_f64();
        // One crate in 1,000 is a needle (`generated_crate`).
        let needles = (0..size).filter(|i| i % 1000 == 7).count() as u64;
        let (first, total) = search(&server, "needle");
        assert_eq!(total, needles);
        calls.take();
        let mut found: Vec<f64> = (0..SEARCHES)
            .map(|_| {
                let (ms, total) = search(&server, "needle");
                assert_eq!(total, needles);
                ms
            })
            .collect();
        let mut none: Vec<f64> = (0..SEARCHES)
            .map(|_| {
                let (ms, total) = search(&server, "zzzz");
                assert_eq!(total, 0);
                ms
            })
            .collect();
        let per_search = calls.take().len() as f64 / (2 * SEARCHES) as f64;
        println!(
            "| {size} | {written:.1} s | {first:.2} | {:.2} | {:.2} | {:.2} | {per_search:.1} | {:.1} |",
            percentile(&mut found, 0.5),
            percentile(&mut found, 0.99),
            percentile(&mut none, 0.5),
            rss(server.pid()),
        );
    }
    println!("\nafter: {}", machine_load());
}
