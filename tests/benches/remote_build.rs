//! A consumer's dependency download through a remote repository, cold (the
//! mirror has nothing) and warm (the mirror has everything, cargo's own cache
//! is empty), next to the same download straight from the upstream.
//! The upstream is a second Crateyard on 127.0.0.1 holding 30 crates.
//!
//! `cargo build -p crateyard_server && cargo bench -p crateyard_e2e --bench remote_build`

use crateyard_e2e::{Cargo, Project, REGISTRY, Server, machine_load};
use crateyard_tarball::TarballBuilder;
use std::time::Instant;

const CRATES: usize = 30;
const PAYLOAD: usize = 64 * 1024;

fn crate_file(name: &str) -> Vec<u8> {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n");
    // Incompressible bytes, so sizes are what travels.
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ name.len() as u64;
    let payload: Vec<u8> = (0..PAYLOAD)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    TarballBuilder::new(&format!("{name}-1.0.0"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", b"")
        .file("data.bin", &payload)
        .build()
}

/// (upstream requests, bytes from upstream) logged by the downstream so far.
fn upstream_traffic(downstream: &Server) -> (usize, u64) {
    let log = downstream.log();
    let fetches: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("fetched from upstream"))
        .collect();
    let bytes = fetches
        .iter()
        .filter_map(|l| l.split("bytes=").nth(1))
        .filter_map(|b| b.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    (fetches.len(), bytes)
}

fn fetch_seconds(index: &str, app: &Project) -> f64 {
    let cargo = Cargo::with_index(index, None);
    let started = Instant::now();
    cargo.ok(app.path(), &["fetch"]);
    started.elapsed().as_secs_f64()
}

fn main() {
    let load_before = machine_load();
    let upstream = Server::start();
    let token = upstream.token("bench");
    let client = upstream.http();
    for i in 0..CRATES {
        let name = format!("dep{i:02}");
        let res = client
            .put(format!(
                "{}/main/crates/{name}/{name}-1.0.0.crate",
                upstream.url
            ))
            .header("Authorization", &token)
            .body(crate_file(&name))
            .send()
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let downstream = Server::start_logged();
    downstream.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        &format!("sparse+{}/main/index/", upstream.url),
    ]);
    let deps: String = (0..CRATES)
        .map(|i| format!("dep{i:02} = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"))
        .collect();
    let app = Project::new("app", "0.1.0", &format!("[dependencies]\n{deps}"));

    let mirror = format!("sparse+{}/mirror/index/", downstream.url);
    let direct = format!("sparse+{}/main/index/", upstream.url);
    let before = upstream_traffic(&downstream);
    let cold = fetch_seconds(&mirror, &app);
    let after_cold = upstream_traffic(&downstream);
    std::fs::remove_file(app.path().join("Cargo.lock")).unwrap();
    let warm = fetch_seconds(&mirror, &app);
    let after_warm = upstream_traffic(&downstream);
    std::fs::remove_file(app.path().join("Cargo.lock")).unwrap();
    let reference = fetch_seconds(&direct, &app);

    println!(
        "`cargo fetch` of {CRATES} crates ({} KiB each), fresh CARGO_HOME each time\n",
        PAYLOAD / 1024
    );
    println!("| case | requests to upstream | bytes from upstream | seconds |");
    println!("|---|---|---|---|");
    println!(
        "| through `mirror`, cold | {} | {} | {cold:.2} |",
        after_cold.0 - before.0,
        after_cold.1 - before.1
    );
    println!(
        "| through `mirror`, warm | {} | {} | {warm:.2} |",
        after_warm.0 - after_cold.0,
        after_warm.1 - after_cold.1
    );
    println!("| straight from the upstream | - | - | {reference:.2} |");
    println!("\nbefore: {load_before}; after: {}", machine_load());
}
