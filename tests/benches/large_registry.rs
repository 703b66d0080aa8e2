//! Whether local mode stays flat as a registry grows from 10 to 100,000
//! crates: publish p50/p99, search, the web UI's home, and the server's
//! memory, at each size. The first publish after the server's restart is
//! shown apart (it loads what later ones find in memory: the git index's
//! tree, SQLite's pages); p50 and p99 are of the 50 after it. The registry is grown by a generator that writes
//! crate and version records straight into the metadata store (through
//! `SqliteStore`, the port the server uses), with the server stopped; the
//! measured publishes go through HTTP with every tarball check.
//!
//! `cargo build --release -p crateyard_server && cargo bench -p crateyard_e2e --bench large_registry [-- MAX]`
//! (`--profile dev` after `cargo build -p crateyard_server` measures the debug build: slower, same shape)
//! (MAX, default 100000: the largest size measured)

use crateyard_e2e::{Server, crate_bytes, generate, machine_load};
use crateyard_local::{DataDir, SqliteStore};
use std::time::Instant;

const PUBLISHES: usize = 50;
const SEARCHES: usize = 20;
const HOME_READS: usize = 50;

/// Adds crates `from..to` ([`generate::generated_crate`]).
fn generate(store: &SqliteStore, from: usize, to: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(generate::generate(store, from, to, 1));
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Wall milliseconds of each of `n` GETs of `path`, which must succeed.
fn timed_gets(server: &Server, path: &str, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            let res = server.get(path);
            assert!(res.status().is_success(), "{path}: {}", res.status());
            res.bytes().unwrap();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// (VmRSS, VmHWM) of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let max: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    println!(
        "Local mode as the registry grows (ms; memory in MiB); before: {}\n",
        machine_load()
    );
    println!(
        "| crates | generated in | first publish | publish p50 | publish p99 | search p50 (needle) | search p50 (no match) | /ui/ home p50 | RSS / peak after |\n|---|---|---|---|---|---|---|---|---|"
    );
    let mut server = Server::start();
    let token = server.token("bench");
    let mut crates = 0;
    let mut published = 0;
    for size in [10, 1_000, 10_000, 100_000]
        .into_iter()
        .filter(|s| *s <= max)
    {
        server.stop();
        let started = Instant::now();
        let store = SqliteStore::open(&DataDir::new(server.data()).database()).unwrap();
        generate(&store, crates, size);
        drop(store);
        let generated = started.elapsed().as_secs_f64();
        crates = size;
        server = server.start_beside();

        let http = server.http();
        let mut publishes: Vec<f64> = (0..=PUBLISHES)
            .map(|_| {
                let name = format!("new{published}");
                published += 1;
                let started = Instant::now();
                let res = http
                    .put(format!(
                        "{}/main/crates/{name}/{name}-1.0.0.crate",
                        server.url
                    ))
                    .header("Authorization", format!("Bearer {token}"))
                    .body(crate_bytes(&name, "1.0.0", ""))
                    .send()
                    .unwrap();
                assert_eq!(res.status(), 201, "{}", res.text().unwrap_or_default());
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        let first = publishes.remove(0);
        let mut needle = timed_gets(&server, "main/api/v1/crates?q=needle&per_page=10", SEARCHES);
        let mut none = timed_gets(&server, "main/api/v1/crates?q=zzzqqq&per_page=10", SEARCHES);
        let mut home: Vec<f64> = timed_gets(&server, "ui/", HOME_READS)
            .into_iter()
            .zip(timed_gets(&server, "main/ui/recent.json", HOME_READS))
            .zip(timed_gets(&server, "ui/repositories.json", HOME_READS))
            .map(|((a, b), c)| a + b + c)
            .collect();
        let (rss, peak) = memory(server.pid());
        println!(
            "| {size} | {generated:.1} s | {first:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {rss:.1} / {peak:.1} |",
            percentile(&mut publishes, 0.5),
            percentile(&mut publishes, 0.99),
            percentile(&mut needle, 0.5),
            percentile(&mut none, 0.5),
            percentile(&mut home, 0.5),
        );
    }
    println!("\nafter: {}", machine_load());
}
