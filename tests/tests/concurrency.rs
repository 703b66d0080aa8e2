//! Writers in parallel processes: two servers on one storage, as two Lambdas
//! share one bucket and table, with publishers hitting both at once. Run on
//! local mode (files + SQLite) and on the AWS backend (moto).

use crateyard_e2e::{Server, index_lines};
use crateyard_tarball::TarballBuilder;
use sha2::{Digest, Sha256};
use std::sync::Barrier;

const WRITERS: usize = 12;

fn crate_bytes(name: &str, version: &str, marker: &str) -> Vec<u8> {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", marker.as_bytes())
        .build()
}

fn upload(url: &str, token: &str, name: &str, version: &str, body: Vec<u8>) -> u16 {
    reqwest::blocking::Client::new()
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
    // version, each with the index's line.
    let page: serde_json::Value = second.get("main/ui/crates/race.json").json().unwrap();
    let mut shown: Vec<&serde_json::Value> = page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["line"])
        .collect();
    shown.sort_by_key(|l| l["vers"].as_str().unwrap().to_string());
    let mut indexed: Vec<&serde_json::Value> = lines.iter().collect();
    indexed.sort_by_key(|l| l["vers"].as_str().unwrap().to_string());
    assert_eq!(shown, indexed, "the crate page holds every indexed version");
}

#[test]
fn concurrent_publishes_across_processes_local() {
    concurrent_publishes_all_land(Server::start());
}

#[test]
fn concurrent_publishes_across_processes_aws() {
    concurrent_publishes_all_land(Server::start_aws());
}
