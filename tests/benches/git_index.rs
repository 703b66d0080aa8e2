//! What the git index (`/main/git`, git's dumb HTTP protocol) costs a
//! client: a fresh `git clone` of an N-crate index (default 1,000; time and
//! HTTP requests) and the requests of an incremental `git fetch` after one
//! publish, and of a fetch with nothing new. Requests are counted from
//! `GIT_TRACE_CURL` (each `GET` git sends, and the 404s it gets back).
//! Crate names are spread over the index's shards as real names are.
//!
//! Also a clone after N publishes on a server that repacks as it goes
//! (the default), and, with `CRATEYARD_TEST_MOTO` set, a clone from the
//! AWS backend on moto before and after a reindex job.
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

/// Publishes `crates` crates with 4 uploaders; returns the seconds taken.
fn publish_all(server: &Server, token: &str, crates: usize) -> f64 {
    let started = Instant::now();
    std::thread::scope(|s| {
        for worker in 0..4 {
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for i in (worker..crates).step_by(4) {
                    upload(server, &client, token, &name(i));
                }
            });
        }
    });
    started.elapsed().as_secs_f64()
}

/// The AWS backend on moto: `crates` publishes, a reindex job (whose last
/// task packs the git index), then a clone straight from the bucket.
fn aws_clone_after_reindex_job(endpoint: &str, crates: usize) {
    // Repacking off, so that the job's pack is the first.
    let server = Server::start_aws_with(endpoint, &[("CRATEYARD_GIT_REPACK_LOOSE", "never")]);
    let token = server.token("bench");
    publish_all(&server, &token, crates);
    let url = format!("{}/main/git", server.public_url);
    let loose_dir = tempfile::tempdir().unwrap();
    let before = traced_git(loose_dir.path(), &["clone", "--quiet", &url, "index"]);
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token("root");
    let started = Instant::now();
    let res = server
        .http()
        .post(format!("{}/main/api/v1/reindex", server.url))
        .header("Authorization", &root)
        .send()
        .unwrap();
    assert_eq!(res.status(), 202);
    while server.get("main/git/objects/info/packs").status() != 200 {
        assert!(started.elapsed().as_secs() < 300, "the job never packed");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let job = started.elapsed().as_secs_f64();
    let packed_dir = tempfile::tempdir().unwrap();
    let after = traced_git(packed_dir.path(), &["clone", "--quiet", &url, "index"]);
    println!("\nAWS backend on moto, {crates} crates, clone straight from the bucket:\n");
    println!("| git command | wall | HTTP GETs | of which 404 |\n|---|---|---|---|");
    for (what, cost) in [
        ("clone, every object loose", before),
        ("clone after a reindex job (packed)", after),
    ] {
        println!(
            "| {what} | {:.2} s | {} | {} |",
            cost.seconds, cost.gets, cost.not_found
        );
    }
    println!("reindex job to pack listed: {job:.1} s");
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
    // Repacking off: every object stays loose until the reindex.
    let server = Server::start_with(&[("CRATEYARD_GIT_REPACK_LOOSE", "never")]);
    let token = server.token("bench");
    let publishing = publish_all(&server, &token, crates);
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

    // As a server leaves it by default: repacked past 256 loose objects.
    let repacking = Server::start();
    let token = repacking.token("bench");
    let repacking_publish = publish_all(&repacking, &token, crates);
    let url = format!("{}/main/git", repacking.public_url);
    let repacked_dir = tempfile::tempdir().unwrap();
    let cost = traced_git(repacked_dir.path(), &["clone", "--quiet", &url, "index"]);
    let packs = std::fs::read_to_string(repacking.object("main/git/objects/info/packs"))
        .unwrap_or_default()
        .lines()
        .count();
    rows.push((
        format!("clone after {crates} publishes, repacked automatically ({packs} packs listed)"),
        cost,
    ));
    let checkout = repacked_dir.path().join("index");
    upload(&repacking, &client, &token, "onemore");
    rows.push((
        "fetch after one more publish (by that clone)".to_string(),
        traced_git(&checkout, &["fetch", "--quiet", "origin"]),
    ));

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
    println!(
        "publishing with automatic repacks took {repacking_publish:.1} s (without: {publishing:.1} s)"
    );
    if let Ok(endpoint) = std::env::var("CRATEYARD_TEST_MOTO") {
        aws_clone_after_reindex_job(&endpoint, crates.min(300));
    }
    println!("\nafter: {}", machine_load());
}
