//! `token create` beside a running server, `reindex`, restarts.

use crateyard_e2e::{Cargo, Server, index_lines, publish};
use std::time::SystemTime;

#[test]
fn reindex_rebuilds_lost_and_damaged_index_files_idempotently() {
    let server = Server::start();
    // A token minted while the server runs works at once.
    let cargo = Cargo::new(&server, Some(&server.token("alice")));
    for (name, version) in [
        ("alpha", "1.0.0"),
        ("alpha", "1.1.0"),
        ("be", "0.1.0"),
        ("gam", "2.0.0"),
    ] {
        publish(&cargo, name, version, "");
    }
    let paths = [
        "main/index/al/ph/alpha",
        "main/index/2/be",
        "main/index/3/g/gam",
        "main/index/config.json",
    ];
    let original: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| std::fs::read(server.object(p)).unwrap())
        .collect();

    // Lose every index file, damage one, then rebuild.
    std::fs::remove_dir_all(server.object("main/index")).unwrap();
    std::fs::create_dir_all(server.object("main/index/al/ph")).unwrap();
    std::fs::write(server.object("main/index/al/ph/alpha"), b"garbage\n").unwrap();
    let out = server.admin(&["reindex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("reindexed 3 crates in repository `main`")
    );
    for (path, before) in paths.iter().zip(&original) {
        assert_eq!(
            &std::fs::read(server.object(path)).unwrap(),
            before,
            "{path}"
        );
    }
    assert_eq!(index_lines(&server, "al/ph/alpha").len(), 2);

    // A second run changes nothing, not even modification times.
    let mtimes = |s: &Server| -> Vec<SystemTime> {
        paths[..3]
            .iter()
            .map(|p| std::fs::metadata(s.object(p)).unwrap().modified().unwrap())
            .collect()
    };
    let before = mtimes(&server);
    let out = server.admin(&["reindex", "--repo", "main"]);
    assert!(out.status.success());
    assert_eq!(mtimes(&server), before);

    let out = server.admin(&["reindex", "--repo", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("repository `nope` does not exist"));
}

#[test]
fn server_restarts_on_its_data_and_keeps_everything() {
    let server = Server::start();
    let token = server.token("alice");
    publish(&Cargo::new(&server, Some(&token)), "durable", "1.0.0", "");
    let server = server.restart();
    assert_eq!(index_lines(&server, "du/ra/durable").len(), 1);
    // The config follows the new address, and the old token still works.
    let config: serde_json::Value = server.get("main/index/config.json").json().unwrap();
    assert_eq!(config["api"], format!("{}/main", server.url));
    publish(&Cargo::new(&server, Some(&token)), "durable", "1.0.1", "");
    assert_eq!(index_lines(&server, "du/ra/durable").len(), 2);
}
