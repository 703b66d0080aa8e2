//! Reliability harness on a real `crateyard serve` (local mode, 127.0.0.1):
//!
//! 1. load: concurrent readers (index files, revalidations, downloads) and
//!    publishers for a fixed time; every acknowledged version must be
//!    readable at once and no request may fail;
//! 2. crashes: the same load, then SIGKILL, restart on the same data
//!    directory, several times; then the SQLite file passes
//!    `integrity_check`, no visible file is partial, every acknowledged
//!    version is indexed with the checksum of its `.crate`, an unacknowledged
//!    one is wholly there or absent, retries complete it, and `reindex`
//!    converges (a second run changes nothing).
//!
//! Short by default (a few seconds); longer on demand:
//! `CRATEYARD_RELIABILITY_SECS=60 CRATEYARD_RELIABILITY_KILLS=20 cargo test -p crateyard_e2e --test reliability -- --nocapture`

use crateyard_e2e::Server;
use crateyard_index::{IndexLine, index_file_path};
use crateyard_tarball::TarballBuilder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const READERS: usize = 6;
const PUBLISHERS: usize = 3;
/// The crate every publisher adds versions to: contention on one index file.
const SHARED: &str = "Shared-Crate";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One publish attempt: the bytes are a pure function of name and version,
/// so a retry sends exactly what the first attempt sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Attempt {
    name: String,
    version: String,
    publisher: usize,
}

impl Attempt {
    fn bytes(&self) -> Vec<u8> {
        let (name, version) = (&self.name, &self.version);
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"reliability\"\n[dependencies]\nserde = \"1\"\n"
        );
        TarballBuilder::new(&format!("{name}-{version}"))
            .file("Cargo.toml", manifest.as_bytes())
            .file("src/lib.rs", format!("// {name} {version}\n").as_bytes())
            .build()
    }

    fn cksum(&self) -> String {
        hex::encode(Sha256::digest(self.bytes()))
    }

    fn put(&self, client: &reqwest::blocking::Client, url: &str, token: &str) -> Outcome {
        let (name, version) = (&self.name, &self.version);
        let sent = client
            .put(format!("{url}/main/crates/{name}/{name}-{version}.crate"))
            .header("Authorization", format!("Bearer {token}"))
            .body(self.bytes())
            .send();
        match sent {
            Ok(res) => Outcome::Status(res.status().as_u16()),
            Err(_) => Outcome::Transport,
        }
    }
}

impl Attempt {
    /// Sends half of the body, then stalls: a publish certain to be in
    /// flight when the server is killed.
    fn put_stalling(&self, url: &str, token: &str) -> Outcome {
        struct Stalling {
            bytes: Vec<u8>,
            sent: usize,
        }
        impl Read for Stalling {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let half = self.bytes.len() / 2;
                if self.sent == half {
                    std::thread::sleep(Duration::from_secs(3));
                }
                let end = if self.sent < half {
                    half
                } else {
                    self.bytes.len()
                };
                let n = buf.len().min(end - self.sent);
                buf[..n].copy_from_slice(&self.bytes[self.sent..self.sent + n]);
                self.sent += n;
                Ok(n)
            }
        }
        let (name, version) = (&self.name, &self.version);
        let bytes = self.bytes();
        let len = bytes.len() as u64;
        let sent = reqwest::blocking::Client::new()
            .put(format!("{url}/main/crates/{name}/{name}-{version}.crate"))
            .header("Authorization", format!("Bearer {token}"))
            .body(reqwest::blocking::Body::sized(
                Stalling { bytes, sent: 0 },
                len,
            ))
            .send();
        match sent {
            Ok(res) => Outcome::Status(res.status().as_u16()),
            Err(_) => Outcome::Transport,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Status(u16),
    /// No answer: the connection failed or the server died mid-request.
    Transport,
}

/// What the clients saw, shared by their threads.
#[derive(Default)]
struct Ledger {
    /// Acknowledged (201) publishes, in acknowledgement order per publisher.
    acked: Mutex<Vec<Attempt>>,
    /// Publishes that got no answer because the server was killed.
    unanswered: Mutex<Vec<Attempt>>,
    /// Every response or failure, by kind: the summary, and what must be zero.
    counts: Mutex<BTreeMap<String, u64>>,
    /// Unexpected answers, with what was asked.
    failures: Mutex<Vec<String>>,
}

impl Ledger {
    fn count(&self, what: &str) {
        *self.counts.lock().unwrap().entry(what.into()).or_default() += 1;
    }

    fn fail(&self, what: String) {
        self.count("unexpected");
        self.failures.lock().unwrap().push(what);
    }

    fn acked_sample(&self, pick: u64) -> Option<Attempt> {
        let acked = self.acked.lock().unwrap();
        (!acked.is_empty()).then(|| acked[pick as usize % acked.len()].clone())
    }
}

/// xorshift: deterministic, dependency-free choices for readers.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn index_path(name: &str) -> String {
    format!("main/index/{}", index_file_path(name))
}

fn parse_index(text: &str) -> Vec<IndexLine> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every index line parses"))
        .collect()
}

/// Publishes new versions until `stop`: alternately to its own crate and to
/// the shared one. `next` numbers versions across crash cycles.
fn publisher(
    id: usize,
    url: &str,
    token: &str,
    ledger: &Ledger,
    stop: &AtomicBool,
    next: &mut u64,
) {
    let client = reqwest::blocking::Client::new();
    while !stop.load(Ordering::Relaxed) {
        let n = *next;
        *next += 1;
        let attempt = if n.is_multiple_of(2) {
            Attempt {
                name: format!("own-{id}"),
                version: format!("0.{n}.0"),
                publisher: id,
            }
        } else {
            Attempt {
                name: SHARED.into(),
                version: format!("{id}.{n}.0"),
                publisher: id,
            }
        };
        match attempt.put(&client, url, token) {
            Outcome::Status(201) => {
                ledger.count("publish 201");
                ledger.acked.lock().unwrap().push(attempt);
            }
            Outcome::Transport if stop.load(Ordering::Relaxed) => {
                ledger.count("publish unanswered (server killed)");
                ledger.unanswered.lock().unwrap().push(attempt);
            }
            other => ledger.fail(format!("publish {attempt:?}: {other:?}")),
        }
    }
}

/// Reads acknowledged versions until `stop`: each must be in its index
/// file with its checksum, revalidation must answer 304, and the download
/// must hash to the checksum.
fn reader(seed: u64, url: &str, ledger: &Ledger, stop: &AtomicBool) {
    let client = reqwest::blocking::Client::new();
    let mut rng = seed | 1;
    while !stop.load(Ordering::Relaxed) {
        let Some(attempt) = ledger.acked_sample(next_random(&mut rng)) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let index_url = format!("{url}/{}", index_path(&attempt.name));
        let res = match client.get(&index_url).send() {
            Ok(res) => res,
            Err(_) if stop.load(Ordering::Relaxed) => return,
            Err(e) => return ledger.fail(format!("GET {index_url}: {e}")),
        };
        let (status, etag) = (res.status().as_u16(), res.headers().get("etag").cloned());
        let Ok(text) = res.text() else { continue };
        if status != 200 {
            ledger.fail(format!("GET {index_url}: {status}"));
            continue;
        }
        ledger.count("read index 200");
        let lines = parse_index(&text);
        match lines.iter().find(|l| l.vers == attempt.version) {
            Some(line) if line.cksum == attempt.cksum() => {}
            other => ledger.fail(format!("{attempt:?} acknowledged but indexed as {other:?}")),
        }
        match next_random(&mut rng) % 3 {
            0 => {
                let Some(etag) = etag else {
                    ledger.fail(format!("GET {index_url}: no ETag"));
                    continue;
                };
                match client.get(&index_url).header("If-None-Match", etag).send() {
                    Ok(res) if res.status() == 304 => ledger.count("read index 304"),
                    // The file changed in between: a new version was published.
                    Ok(res) if res.status() == 200 => ledger.count("read index 200 (changed)"),
                    Ok(res) => ledger.fail(format!("revalidate {index_url}: {}", res.status())),
                    Err(_) if stop.load(Ordering::Relaxed) => return,
                    Err(e) => ledger.fail(format!("revalidate {index_url}: {e}")),
                }
            }
            1 => {
                let (name, version) = (&attempt.name, &attempt.version);
                let crate_url = format!("{url}/main/crates/{name}/{name}-{version}.crate");
                match client.get(&crate_url).send().and_then(|r| {
                    let status = r.status().as_u16();
                    r.bytes().map(|b| (status, b))
                }) {
                    Ok((200, body)) if hex::encode(Sha256::digest(&body)) == attempt.cksum() => {
                        ledger.count("read crate 200")
                    }
                    Ok((status, _)) => {
                        ledger.fail(format!("GET {crate_url}: {status} or bad bytes"))
                    }
                    Err(_) if stop.load(Ordering::Relaxed) => return,
                    Err(e) => ledger.fail(format!("GET {crate_url}: {e}")),
                }
            }
            _ => {}
        }
    }
}

/// Runs readers and publishers against `url` until `until` returns, then
/// stops and joins them. `until` gets the stop flag: set before killing the
/// server, it tells the clients that failures from then on are expected.
fn under_load(
    url: &str,
    token: &str,
    ledger: &Ledger,
    counters: &mut [u64; PUBLISHERS],
    until: impl FnOnce(&AtomicBool),
) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for (id, next) in counters.iter_mut().enumerate() {
            let stop = &stop;
            s.spawn(move || publisher(id, url, token, ledger, stop, next));
        }
        for seed in 0..READERS as u64 {
            let stop = &stop;
            s.spawn(move || reader(0x9e37_79b9 * (seed + 1), url, ledger, stop));
        }
        until(&stop);
        stop.store(true, Ordering::Relaxed);
    });
}

/// The index files as served, by crate name (as published).
fn served_index(server: &Server, names: &BTreeSet<String>) -> BTreeMap<String, Vec<IndexLine>> {
    names
        .iter()
        .map(|name| {
            let res = server.get(&index_path(name));
            let lines = if res.status() == 404 {
                Vec::new()
            } else {
                assert_eq!(res.status(), 200, "index of {name}");
                parse_index(&res.text().unwrap())
            };
            (name.clone(), lines)
        })
        .collect()
}

/// Every acknowledged version is indexed once, with its checksum, in the
/// order its publisher saw the acknowledgements (when `in_order`); every
/// indexed version's download hashes to its checksum.
fn assert_acknowledged_indexed(
    server: &Server,
    acked: &[Attempt],
    names: &BTreeSet<String>,
    in_order: bool,
) {
    let index = served_index(server, names);
    for attempt in acked {
        let lines = &index[&attempt.name];
        let found: Vec<_> = lines.iter().filter(|l| l.vers == attempt.version).collect();
        assert_eq!(found.len(), 1, "{attempt:?} indexed once");
        assert_eq!(found[0].cksum, attempt.cksum(), "{attempt:?}");
    }
    for publisher in (0..PUBLISHERS).filter(|_| in_order) {
        for (name, lines) in &index {
            let acked_order: Vec<&str> = acked
                .iter()
                .filter(|a| a.publisher == publisher && &a.name == name)
                .map(|a| a.version.as_str())
                .collect();
            let acked_set: BTreeSet<&str> = acked_order.iter().copied().collect();
            let index_order: Vec<&str> = lines
                .iter()
                .map(|l| l.vers.as_str())
                .filter(|v| acked_set.contains(v))
                .collect();
            assert_eq!(
                index_order, acked_order,
                "order of {name} for publisher {publisher}"
            );
        }
    }
    for (name, lines) in &index {
        for line in lines {
            let body = server
                .get(&format!("main/crates/{name}/{name}-{}.crate", line.vers))
                .bytes()
                .unwrap();
            assert_eq!(
                hex::encode(Sha256::digest(&body)),
                line.cksum,
                "{name} {}",
                line.vers
            );
        }
    }
}

/// What a crash may leave on disk, checked file by file: returns the
/// number of hidden temporary files (never served nor listed).
fn assert_no_partial_files(data: &Path) -> usize {
    let conn = rusqlite::Connection::open(data.join("crateyard.sqlite3")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "SQLite integrity_check");

    let mut hidden = 0;
    let mut pending = vec![data.join("objects")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let file_name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                pending.push(path);
            } else if file_name.starts_with('.') {
                hidden += 1;
            } else if file_name.ends_with(".crate") {
                let mut unpacked = Vec::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                    .read_to_end(&mut unpacked)
                    .unwrap_or_else(|e| panic!("{} is not a whole gzip: {e}", path.display()));
            } else if path.to_string_lossy().contains("/index/") && file_name != "config.json" {
                parse_index(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    hidden
}

/// Every index file's bytes, for comparing two reindex runs.
fn index_snapshot(server: &Server, names: &BTreeSet<String>) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|name| (name.clone(), server.get(&index_path(name)).text().unwrap()))
        .collect()
}

fn reindex(server: &Server) {
    let out = server.admin(&["reindex", "--public-url", &server.url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn acknowledged_publishes_survive_load_and_crashes() {
    let load_secs = env_number("CRATEYARD_RELIABILITY_SECS", 3);
    let kills = env_number("CRATEYARD_RELIABILITY_KILLS", 3);
    let ledger = Ledger::default();
    let mut counters = [0u64; PUBLISHERS];
    let mut server = Server::start();
    let token = server.token("loader");

    // 1. Load, no faults: nothing may fail.
    let started = Instant::now();
    under_load(&server.url.clone(), &token, &ledger, &mut counters, |_| {
        std::thread::sleep(Duration::from_secs(load_secs))
    });
    let load_elapsed = started.elapsed();
    let failures = ledger.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "under load: {failures:#?}");
    let acked = ledger.acked.lock().unwrap().clone();
    assert!(!acked.is_empty(), "the load published something");
    let mut names: BTreeSet<String> = acked.iter().map(|a| a.name.clone()).collect();
    assert_acknowledged_indexed(&server, &acked, &names, true);
    let load_counts = ledger.counts.lock().unwrap().clone();

    // 2. Load, then SIGKILL and a restart on the same data, `kills` times.
    for cycle in 0..kills {
        let url = server.url.clone();
        let server_ref = &mut server;
        under_load(&url, &token, &ledger, &mut counters, |stop| {
            // One publish is surely cut off: it stalls halfway through its body.
            let cut = Attempt {
                name: format!("cut-off-{cycle}"),
                version: "1.0.0".into(),
                publisher: PUBLISHERS,
            };
            let stalling = std::thread::scope(|s| {
                let stalling = s.spawn(|| cut.put_stalling(&url, &token));
                // Kill at a different moment of the load each time, with
                // requests in flight.
                std::thread::sleep(Duration::from_millis(150 + 211 * (cycle % 4)));
                stop.store(true, Ordering::Relaxed);
                server_ref.kill();
                stalling.join().unwrap()
            });
            match stalling {
                Outcome::Transport => ledger.unanswered.lock().unwrap().push(cut),
                other => ledger.fail(format!(
                    "the stalled publish {cut:?} was answered: {other:?}"
                )),
            }
        });
        server = server.start_beside();
    }
    let failures = ledger.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "under load with crashes: {failures:#?}"
    );
    let acked = ledger.acked.lock().unwrap().clone();
    let unanswered = ledger.unanswered.lock().unwrap().clone();
    names.extend(acked.iter().chain(&unanswered).map(|a| a.name.clone()));

    assert!(
        unanswered.len() as u64 >= kills,
        "every kill cut off at least one publish: {} for {kills} kills",
        unanswered.len()
    );

    // Right after the restarts, before any repair: acknowledged means indexed.
    assert_acknowledged_indexed(&server, &acked, &names, true);
    let hidden = assert_no_partial_files(server.data());
    // The restarted server removed what the killed ones left mid-write.
    assert_eq!(hidden, 0, "temporary files left behind by killed servers");
    // An unanswered publish is wholly indexed or absent (never a line whose
    // .crate is missing: checked above for every line).
    let index = served_index(&server, &names);
    let indexed_before_repair = unanswered
        .iter()
        .filter(|a| index[&a.name].iter().any(|l| l.vers == a.version))
        .count();

    // Repair: reindex, then the clients' retries; all must converge.
    reindex(&server);
    assert_acknowledged_indexed(&server, &acked, &names, true);
    let mut retry_statuses = BTreeMap::<Outcome, u64>::new();
    let client = reqwest::blocking::Client::new();
    for attempt in &unanswered {
        let outcome = attempt.put(&client, &server.url, &token);
        assert!(
            matches!(outcome, Outcome::Status(201 | 409)),
            "retry of {attempt:?}: {outcome:?}"
        );
        *retry_statuses.entry(outcome).or_default() += 1;
    }
    let mut everything = acked.clone();
    everything.extend(unanswered.iter().cloned());
    reindex(&server);
    // Retried versions were committed at the crash or at the retry: in any order.
    assert_acknowledged_indexed(&server, &everything, &names, false);
    let first = index_snapshot(&server, &names);
    reindex(&server);
    assert_eq!(
        index_snapshot(&server, &names),
        first,
        "a second reindex changes nothing"
    );

    let counts = ledger.counts.lock().unwrap().clone();
    println!("\nReliability summary");
    println!(
        "load phase ({:.1}s, {READERS} readers, {PUBLISHERS} publishers): {load_counts:?}",
        load_elapsed.as_secs_f64()
    );
    println!("all phases, {kills} SIGKILL restarts: {counts:?}");
    println!(
        "acknowledged: {}; unanswered at a kill: {} ({} already indexed before repair); retries: {:?}",
        acked.len(),
        unanswered.len(),
        indexed_before_repair,
        retry_statuses
    );
    println!(
        "crates: {}; index lines: {}; hidden temp files left by kills: {hidden}; integrity_check: ok; reindex converged",
        names.len(),
        first.values().map(|t| t.lines().count()).sum::<usize>()
    );
}
