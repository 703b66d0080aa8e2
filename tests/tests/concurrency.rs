//! Writers in parallel processes: two servers on one storage, as two Lambdas
//! share one bucket and table, with publishers hitting both at once. Run on
//! local mode (files + SQLite) and on the AWS backend (moto).
//!
//! The many-writers test checks the invariant a red team broke: every
//! version a publisher was told is published downloads byte for byte as
//! published, whatever raced with it.

use crateyard_e2e::{Server, crate_bytes, index_lines};
use crateyard_index::index_file_path;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;

const WRITERS: usize = 12;

fn upload(url: &str, token: &str, name: &str, version: &str, body: Vec<u8>) -> u16 {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap()
        .put(format!("{url}/main/crates/{name}/{name}-{version}.crate"))
        .header("Authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Uploads, one per thread, released together; returns their statuses.
fn race(uploads: Vec<(String, String, Vec<u8>)>, token: &str) -> Vec<u16> {
    let barrier = Barrier::new(uploads.len());
    std::thread::scope(|s| {
        let handles: Vec<_> = uploads
            .into_iter()
            .map(|(url, version, body)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    upload(&url, token, "race", &version, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Every indexed version's `.crate`, downloaded, matches its checksum.
fn assert_checksums(server: &Server, lines: &[serde_json::Value]) {
    for line in lines {
        let version = line["vers"].as_str().unwrap();
        let bytes = server
            .get(&format!("main/crates/race/race-{version}.crate"))
            .bytes()
            .unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            line["cksum"].as_str().unwrap(),
            "{version}"
        );
    }
}

fn concurrent_publishes_all_land(first: Server) {
    let token = first.token("alice");
    let second = first.start_beside();
    let urls = [first.url.clone(), second.url.clone()];

    // The first version creates the crate; the rest race to add theirs.
    assert_eq!(
        upload(
            &urls[0],
            &token,
            "race",
            "0.0.1",
            crate_bytes("race", "0.0.1", "")
        ),
        201
    );
    let uploads = (0..WRITERS)
        .map(|i| {
            (
                urls[i % 2].clone(),
                format!("1.0.{i}"),
                crate_bytes("race", &format!("1.0.{i}"), ""),
            )
        })
        .collect();
    let statuses = race(uploads, &token);
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let lines = index_lines(&first, "ra/ce/race");
    assert_eq!(lines.len(), WRITERS + 1, "every version is indexed");
    assert_checksums(&first, &lines);

    // The same version, different contents, from both processes at once:
    // exactly one wins, the other gets a clear 4xx, and the index holds the
    // winner's checksum.
    let uploads = (0..2)
        .map(|i| {
            (
                urls[i].clone(),
                "2.0.0".to_string(),
                crate_bytes("race", "2.0.0", &format!("// writer {i}")),
            )
        })
        .collect();
    let mut statuses = race(uploads, &token);
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let lines = index_lines(&second, "ra/ce/race");
    assert_eq!(lines.len(), WRITERS + 2);
    assert_checksums(&second, &lines);

    // The crate page is derived like the index file: it ends with every
    // version, each as the index has it, and each version's own page
    // (written by its publisher) holds the index's line.
    let page: serde_json::Value = second.get("main/ui/crates/race.json").json().unwrap();
    let mut shown: Vec<serde_json::Value> = Vec::new();
    for summary in page["versions"].as_array().unwrap() {
        let mut line: serde_json::Value = second
            .get(&format!("main/ui/{}", summary["details"].as_str().unwrap()))
            .json()
            .unwrap();
        let line = line["line"].as_object_mut().unwrap();
        assert_eq!(summary["vers"], line["vers"]);
        assert_eq!(summary["pubtime"], line["pubtime"]);
        line.insert("yanked".into(), summary["yanked"].clone());
        shown.push(line.clone().into());
    }
    shown.sort_by_key(|l| l["vers"].as_str().unwrap().to_string());
    let mut indexed: Vec<&serde_json::Value> = lines.iter().collect();
    indexed.sort_by_key(|l| l["vers"].as_str().unwrap().to_string());
    assert_eq!(
        shown.iter().collect::<Vec<_>>(),
        indexed,
        "the crate page holds every indexed version"
    );
}

/// Server processes sharing one storage in the many-writers test.
const PROCESSES: usize = 4;
/// Crates per round; each gets `PROCESSES * 2` writers, so 64 at once.
const CRATES: usize = 8;
const WRITERS_PER_CRATE: usize = PROCESSES * 2;

/// Published versions, `(name, version)`, and the bytes each was published with.
type Published = BTreeMap<(String, String), Vec<u8>>;

/// One upload in a round: where it goes, what it publishes.
struct Attempt {
    url: String,
    name: String,
    version: String,
    body: Vec<u8>,
}

/// Sends every attempt at once, one thread each; returns the acknowledged
/// ones (201) as `(name, version) → body`, and every status.
fn burst(attempts: Vec<Attempt>, token: &str) -> (Published, Vec<u16>) {
    let barrier = Barrier::new(attempts.len());
    let results: Vec<(Attempt, u16)> = std::thread::scope(|s| {
        let handles: Vec<_> = attempts
            .into_iter()
            .map(|a| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let status = upload(&a.url, token, &a.name, &a.version, a.body.clone());
                    (a, status)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut acknowledged = BTreeMap::new();
    let mut statuses = Vec::new();
    for (a, status) in results {
        statuses.push(status);
        if status == 201 {
            let previous = acknowledged.insert((a.name.clone(), a.version.clone()), a.body);
            assert!(
                previous.is_none(),
                "two publishers were both told {} {} is theirs",
                a.name,
                a.version
            );
        }
    }
    (acknowledged, statuses)
}

/// The index of every crate named in `published` lists exactly the
/// acknowledged versions, each with the acknowledged bytes' checksum, and
/// each `.crate` downloads byte-identical.
fn assert_exactly_acknowledged(server: &Server, published: &Published) {
    let names: BTreeSet<&String> = published.keys().map(|(n, _)| n).collect();
    let mut indexed = BTreeMap::new();
    for name in names {
        for line in index_lines(server, &index_file_path(name)) {
            let version = line["vers"].as_str().unwrap().to_string();
            indexed.insert(
                (name.clone(), version),
                line["cksum"].as_str().unwrap().to_string(),
            );
        }
    }
    let expected: BTreeMap<(String, String), String> = published
        .iter()
        .map(|(k, body)| (k.clone(), hex::encode(Sha256::digest(body))))
        .collect();
    assert_eq!(
        indexed, expected,
        "the index holds exactly the acknowledged versions"
    );
    let mut lost = Vec::new();
    for ((name, version), body) in published {
        let res = server.get(&format!("main/crates/{name}/{name}-{version}.crate"));
        let status = res.status().as_u16();
        let bytes = res.bytes().unwrap();
        if status != 200 || bytes[..] != body[..] {
            lost.push(format!("{name} {version}: {status}"));
        }
    }
    assert!(lost.is_empty(), "acknowledged versions lost: {lost:?}");
}

fn many_writers_lose_nothing(first: Server) {
    let token = first.token("alice");
    let mut servers = vec![first];
    for _ in 1..PROCESSES {
        let beside = servers[0].start_beside();
        servers.push(beside);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let attempts =
        |round: &str, version: &dyn Fn(usize) -> String, marker: &dyn Fn(usize) -> String| {
            let mut all = Vec::new();
            for c in 0..CRATES {
                let name = format!("{round}{c:02}");
                for w in 0..WRITERS_PER_CRATE {
                    let version = version(w);
                    all.push(Attempt {
                        url: urls[(c + w) % urls.len()].clone(),
                        body: crate_bytes(&name, &version, &marker(w)),
                        name: name.clone(),
                        version,
                    });
                }
            }
            all
        };
    let mut published = BTreeMap::new();

    // Identical bodies: the writers share one object, exactly one commits,
    // and the others' cleanup must not take the committed bytes with it.
    let (acked, statuses) = burst(
        attempts("same", &|_| "1.0.0".into(), &|_| String::new()),
        &token,
    );
    assert!(
        statuses.iter().all(|s| [201, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        acked.len(),
        CRATES,
        "one publisher wins each crate: {statuses:?}"
    );
    published.extend(acked);

    // Different bodies for one version: one wins, the index has its bytes.
    let (acked, statuses) = burst(
        attempts("diff", &|_| "1.0.0".into(), &|w| format!("// writer {w}")),
        &token,
    );
    assert!(
        statuses.iter().all(|s| [201, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        acked.len(),
        CRATES,
        "one publisher wins each crate: {statuses:?}"
    );
    published.extend(acked);

    // Distinct versions of crates that exist: every one lands.
    let (acked, statuses) = burst(
        attempts("same", &|w| format!("2.0.{w}"), &|_| String::new()),
        &token,
    );
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    published.extend(acked);

    for server in &servers {
        assert_exactly_acknowledged(server, &published);
    }
}

#[test]
fn many_writers_lose_nothing_local() {
    many_writers_lose_nothing(Server::start());
}

#[test]
fn many_writers_lose_nothing_aws() {
    many_writers_lose_nothing(Server::start_aws());
}

#[test]
fn concurrent_publishes_across_processes_local() {
    concurrent_publishes_all_land(Server::start());
}

#[test]
fn concurrent_publishes_across_processes_aws() {
    concurrent_publishes_all_land(Server::start_aws());
}
