//! What the git index (`/main/git`, git's dumb HTTP protocol) costs a
//! client: a fresh `git clone` of an N-crate index (default 1,000; time and
//! HTTP requests) and the requests of an incremental `git fetch` after one
//! publish, and of a fetch with nothing new. Requests are counted from
//! `GIT_TRACE_CURL` (each `GET` git sends, and the 404s it gets back).
//! Crate names are spread over the index's shards as real names are.
//!
//! `cargo build -p crateyard_server && cargo bench -p crateyard_e2e --bench git_index [-- N]`

use crateyard_e2e::{Server, crate_bytes, machine_load};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// A crate name for `i`: `c` and 9 letters from a hash, so that names
/// spread over the `ab/cd/` shards.
fn name(i: usize) -> String {
    let digest = Sha256::digest(i.to_le_bytes());
    let letters: String = digest
        .iter()
        .take(9)
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    format!("c{letters}")
}

fn upload(server: &Server, client: &reqwest::blocking::Client, token: &str, name: &str) {
    let res = client
        .put(format!(
            "{}/main/crates/{name}/{name}-1.0.0.crate",
            server.url
        ))
        .header("Authorization", format!("Bearer {token}"))
        .body(crate_bytes(name, "1.0.0", name))
        .send()
        .unwrap();
    assert!(res.status().is_success(), "{name}: {}", res.status());
}

/// What one git command cost: wall seconds, GETs sent, 404s received.
struct Cost {
    seconds: f64,
    gets: usize,
    not_found: usize,
}

fn traced_git(dir: &Path, args: &[&str]) -> Cost {
    let trace = dir.join("curl.trace");
    let _ = std::fs::remove_file(&trace);
    let started = Instant::now();
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TRACE_CURL", &trace)
        .env("GIT_TRACE_CURL_NO_DATA", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(&trace).unwrap_or_default();
    Cost {
        seconds,
        gets: trace.matches("Send header: GET ").count(),
        not_found: trace
            .lines()
            .filter(|l| l.contains("Recv header: HTTP/") && l.contains(" 404"))
            .count(),
    }
}

fn main() {
    let crates: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000);
    println!(
        "Git index (dumb HTTP), local mode; before: {}\n",
        machine_load()
    );
    let server = Server::start();
    let token = server.token("bench");

    let started = Instant::now();
    std::thread::scope(|s| {
        for worker in 0..4 {
            let (server, token) = (&server, &token);
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for i in (worker..crates).step_by(4) {
                    upload(server, &client, token, &name(i));
                }
            });
        }
    });
    let publishing = started.elapsed().as_secs_f64();
    println!("published {crates} crates (each commits to the git index) in {publishing:.1} s\n");

    let url = format!("{}/main/git", server.public_url);
    let fresh_clone = |dir: &Path| {
        let cost = traced_git(dir, &["clone", "--quiet", &url, "index"]);
        let checkout = dir.join("index");
        let objects = Command::new("git")
            .args(["count-objects", "-v"])
            .current_dir(&checkout)
            .output()
            .unwrap();
        let objects = String::from_utf8_lossy(&objects.stdout).into_owned();
        let field = |name: &str| {
            objects
                .lines()
                .find_map(|l| l.strip_prefix(name).map(str::to_string))
                .unwrap_or_default()
        };
        let shape = format!(
            "{} loose, {} in packs",
            field("count: "),
            field("in-pack: ")
        );
        (cost, checkout, shape)
    };
    let client = reqwest::blocking::Client::new();
    let mut rows = Vec::new();

    // As publishes leave it: every object loose.
    let loose_dir = tempfile::tempdir().unwrap();
    let (cost, loose_checkout, shape) = fresh_clone(loose_dir.path());
    rows.push((format!("clone, {crates} crates, all loose ({shape})"), cost));
    upload(&server, &client, &token, "onemore");
    rows.push((
        "fetch after one publish".to_string(),
        traced_git(&loose_checkout, &["fetch", "--quiet", "origin"]),
    ));
    rows.push((
        "fetch, nothing new".to_string(),
        traced_git(&loose_checkout, &["fetch", "--quiet", "origin"]),
    ));

    // After `crateyard reindex`: the tree in one pack.
    let reindex = Instant::now();
    server.admin_ok(&["reindex"]);
    let reindex = reindex.elapsed().as_secs_f64();
    rows.push((
        "fetch across the reindex (by the clone above)".to_string(),
        traced_git(&loose_checkout, &["fetch", "--quiet", "origin"]),
    ));
    let packed_dir = tempfile::tempdir().unwrap();
    let (cost, packed_checkout, shape) = fresh_clone(packed_dir.path());
    rows.push((format!("clone after reindex ({shape})"), cost));
    upload(&server, &client, &token, "twomore");
    rows.push((
        "fetch after one more publish".to_string(),
        traced_git(&packed_checkout, &["fetch", "--quiet", "origin"]),
    ));
    let later_dir = tempfile::tempdir().unwrap();
    let (cost, _, shape) = fresh_clone(later_dir.path());
    rows.push((format!("clone after that publish ({shape})"), cost));

    println!("| git command | wall | HTTP GETs | of which 404 |\n|---|---|---|---|");
    for (what, cost) in &rows {
        println!(
            "| {what} | {:.2} s | {} | {} |",
            cost.seconds, cost.gets, cost.not_found
        );
    }
    println!(
        "\n`crateyard reindex` (index files checked, git tree rebuilt whole and packed): {reindex:.1} s"
    );
    println!("\nafter: {}", machine_load());
}
