//! Download counts in local mode, as a user sees them: cargo (and curl)
//! download `.crate` files, and `GET /R/api/v1/crates/{name}` reports them
//! with crates.io's field names. Counting happens off the read path (in
//! memory, written every few seconds), so the test waits for the counts
//! instead of expecting them at once; a server stopped with SIGTERM writes
//! what it counted before it exits. AWS's counting (CloudFront's access
//! logs) is tested with the real function binary in
//! `functions/lambda/tests/runtime_api.rs`.

use crateyard_e2e::{Cargo, Project, REGISTRY, Server, publish};
use serde_json::Value;
use std::time::{Duration, Instant};

fn info(server: &Server) -> Value {
    server.get("main/api/v1/crates/counted").json().unwrap()
}

/// The crate's counts once they reach `total` (within 20 s).
fn wait_for(server: &Server, total: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = info(server);
        if info["crate"]["downloads"] == total || Instant::now() > deadline {
            return info;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn by_version(info: &Value) -> Vec<(String, u64)> {
    info["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["num"].as_str().unwrap().into(),
                v["downloads"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn downloads_are_counted_per_version_and_survive_a_restart() {
    let server = Server::start();
    let token = server.token("alice");
    let cargo = Cargo::new(&server, Some(&token));
    publish(&cargo, "counted", "1.0.0", "");
    publish(&cargo, "counted", "1.1.0", "");
    assert_eq!(info(&server)["crate"]["downloads"], 0);

    // cargo downloads 1.1.0 once; curl fetches 1.0.0 twice; HEADs and
    // missing files are no downloads.
    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\ncounted = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    cargo.ok(app.path(), &["fetch"]);
    let http = server.http();
    let url = |v: &str| format!("{}/main/crates/counted/counted-{v}.crate", server.url);
    for _ in 0..2 {
        assert_eq!(http.get(url("1.0.0")).send().unwrap().status(), 200);
    }
    assert_eq!(http.head(url("1.0.0")).send().unwrap().status(), 200);
    assert_eq!(http.get(url("9.9.9")).send().unwrap().status(), 404);

    let counted = wait_for(&server, 3);
    assert_eq!(counted["crate"]["downloads"], 3, "{counted}");
    assert_eq!(counted["crate"]["recent_downloads"], 3, "{counted}");
    assert_eq!(
        by_version(&counted),
        [("1.1.0".to_string(), 1), ("1.0.0".to_string(), 2)]
    );

    // Counted just before a stop: written at shutdown, there after a restart.
    assert_eq!(http.get(url("1.1.0")).send().unwrap().status(), 200);
    let server = server.restart();
    let after = info(&server);
    assert_eq!(after["crate"]["downloads"], 4, "{after}");
    assert_eq!(after["versions"][0]["downloads"], 2, "{after}");
}
