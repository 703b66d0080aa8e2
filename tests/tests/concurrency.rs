//! Writers in parallel processes: two servers on one data directory, as two
//! Lambdas share one bucket and table, with publishers hitting both at once.

use crateyard_e2e::{Server, index_lines};
use crateyard_tarball::TarballBuilder;
use sha2::{Digest, Sha256};
use std::sync::Barrier;

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

#[test]
fn concurrent_publishes_across_processes_all_land_in_the_index() {
    const WRITERS: usize = 12;
    let first = Server::start();
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
    let barrier = Barrier::new(WRITERS);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (barrier, token, url) = (&barrier, &token, &urls[i % 2]);
                s.spawn(move || {
                    let version = format!("1.0.{i}");
                    let body = crate_bytes("race", &version, "");
                    barrier.wait();
                    upload(url, token, "race", &version, body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");

    let lines = index_lines(&first, "ra/ce/race");
    assert_eq!(lines.len(), WRITERS + 1, "every version is indexed");
    for line in &lines {
        let version = line["vers"].as_str().unwrap();
        let bytes =
            std::fs::read(first.object(&format!("main/crates/race/race-{version}.crate"))).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            line["cksum"].as_str().unwrap(),
            "{version}"
        );
    }
    assert_eq!(index_lines(&second, "ra/ce/race").len(), WRITERS + 1);

    // The same version, different contents, from both processes at once:
    // exactly one wins and the index holds the winner's checksum.
    let barrier = Barrier::new(2);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (barrier, token, url) = (&barrier, &token, &urls[i]);
                s.spawn(move || {
                    let body = crate_bytes("race", "2.0.0", &format!("// writer {i}"));
                    barrier.wait();
                    upload(url, token, "race", "2.0.0", body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [201, 409], "{statuses:?}");
    let lines = index_lines(&first, "ra/ce/race");
    let winner = lines
        .iter()
        .find(|l| l["vers"] == "2.0.0")
        .expect("the winner is indexed");
    let bytes = std::fs::read(first.object("main/crates/race/race-2.0.0.crate")).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        winner["cksum"].as_str().unwrap()
    );
}
