//! `token create` beside a running server, `reindex`, restarts.

use crateyard_e2e::snapshot::object_metadata;
use crateyard_e2e::{Cargo, Server, index_lines, publish};
use std::collections::BTreeMap;
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

/// A `.crate` with a README, built in memory.
fn crate_with_readme(name: &str, version: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"d\"\nreadme = \"README.md\"\n"
    );
    let readme = format!("# {name}\n\nVersion *{version}*.\n");
    crateyard_tarball::TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("README.md", readme.as_bytes())
        .file("src/lib.rs", b"")
        .build()
}

/// Publishes by direct upload; panics unless it is created.
fn upload(http: &reqwest::blocking::Client, server: &Server, token: &str, name: &str, v: &str) {
    let status = http
        .put(format!(
            "{}/main/crates/{name}/{name}-{v}.crate",
            server.url
        ))
        .header("Authorization", token)
        .body(crate_with_readme(name, v))
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 201, "{name} {v}");
}

/// What reindex derives for repository `main`, as directories of the data
/// directory: index files, crate pages, version pages and READMEs.
const DERIVED: [&str; 4] = [
    "objects/main/index",
    "objects/main/ui/crates",
    "objects/main/ui/versions",
    "objects/main/ui/readmes",
];

/// Every derived file's bytes, by path, and its object metadata (the crate
/// revision), by path and `#metadata`.
fn derived_files(server: &Server) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending: Vec<_> = DERIVED.iter().map(|d| server.data().join(d)).collect();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let key = path.strip_prefix(server.data()).unwrap();
                let key = key.to_string_lossy().into_owned();
                if let Some(metadata) = object_metadata(&path) {
                    files.insert(format!("{key}#metadata"), metadata);
                }
                files.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn lose_derived_files(server: &Server) {
    for dir in DERIVED {
        match std::fs::remove_dir_all(server.data().join(dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{dir}: {e}"),
            _ => {}
        }
    }
}

/// Publishes race a reindex (another process) that is rebuilding every
/// derived file from an older read of the store: no published version may
/// be missing from its index file or page afterwards. Then a reindex after
/// losing every derived file restores each one byte for byte, metadata
/// (the crate revision) included.
#[test]
fn reindex_loses_no_racing_publish_and_restores_every_derived_file_exactly() {
    const CRATES: usize = 240;
    let server = Server::start();
    let token = server.token("alice");
    let http = reqwest::blocking::Client::new();
    let mut published: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..CRATES {
        let name = format!("c{i}");
        upload(&http, &server, &token, &name, "1.0.0");
        published.insert(name, vec!["1.0.0".into()]);
    }

    // Rounds 1-3 start with every derived file lost (reindex creates them
    // while publishes create some too); round 4 with all present (it
    // compares and swaps). Each round publishes across the name order.
    for round in 1..=4 {
        if round <= 3 {
            lose_derived_files(&server);
        }
        let version = format!("1.{round}.0");
        let batch: Vec<String> = (0..CRATES)
            .rev()
            .step_by(8)
            .map(|i| format!("c{}", (i + round) % CRATES))
            .collect();
        std::thread::scope(|s| {
            let reindex = s.spawn(|| server.admin_ok(&["reindex"]));
            for name in &batch {
                upload(&http, &server, &token, name, &version);
            }
            let out = reindex.join().unwrap();
            assert!(out.contains(&format!("reindexed {CRATES} crates")), "{out}");
        });
        for name in &batch {
            published.get_mut(name).unwrap().push(version.clone());
        }
        for (name, versions) in &published {
            let path = crateyard_index::index_file_path(name);
            let indexed: Vec<String> = index_lines(&server, &path)
                .iter()
                .map(|l| l["vers"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(&indexed, versions, "round {round}: index file of {name}");
            let page: serde_json::Value = server
                .get(&format!("main/ui/crates/{name}.json"))
                .json()
                .unwrap();
            assert_eq!(
                page["versions"].as_array().unwrap().len(),
                versions.len(),
                "round {round}: page of {name}"
            );
        }
    }

    // Every derived file lost, then restored exactly.
    let before = derived_files(&server);
    let readmes = before.keys().filter(|k| k.ends_with(".html")).count();
    assert_eq!(readmes, published.values().map(Vec::len).sum::<usize>());
    lose_derived_files(&server);
    server.admin_ok(&["reindex"]);
    let after = derived_files(&server);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        assert!(after[path] == *bytes, "{path} differs after reindex");
    }
}

/// "Recalculate Index" over the API: a job the server runs in the
/// background, whose progress the API and `reindex --status` report; it
/// restores every derived file byte for byte.
#[test]
fn recalculate_index_over_the_api_is_a_job_that_restores_every_derived_file() {
    let server = Server::start();
    let http = reqwest::blocking::Client::new();
    let token = server.token("alice");
    for (name, version) in [("one", "1.0.0"), ("one", "1.1.0"), ("two", "0.1.0")] {
        upload(&http, &server, &token, name, version);
    }
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let admin = server.token("root");
    let before = derived_files(&server);
    lose_derived_files(&server);

    let start = |token: &str| {
        http.post(format!("{}/main/api/v1/reindex", server.url))
            .header("Authorization", token)
            .send()
            .unwrap()
    };
    assert_eq!(start(&token).status(), 403, "only repository admins");
    let started = start(&admin);
    assert_eq!(started.status(), 202);
    let started: serde_json::Value = started.json().unwrap();
    let job = started["job"]["id"].as_str().unwrap().to_string();

    let status = |path: &str| -> (u16, serde_json::Value) {
        let res = http
            .get(format!("{}/main/api/v1/reindex{path}", server.url))
            .header("Authorization", &admin)
            .send()
            .unwrap();
        (res.status().as_u16(), res.json().unwrap())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let (code, body) = status(&format!("/{job}"));
        assert_eq!(code, 200, "{body}");
        if body["job"]["state"] != "planning" && body["job"]["state"] != "running" {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(done["job"]["state"], "done", "{done}");
    assert_eq!(done["job"]["crates_done"], 2, "{done}");
    assert_eq!(derived_files(&server), before);

    // The latest job, an unknown one, and the operator's view.
    assert_eq!(status("").1["job"]["id"], job.as_str());
    let (code, unknown) = status("/20260101-000000-000000");
    assert_eq!(code, 404);
    // Not an id: a batch record's key (`{id}#{number}`) is not a job.
    let (code, _) = status(&format!("/{job}%23000001"));
    assert_eq!(code, 404);
    assert_eq!(
        unknown["errors"][0]["detail"],
        "repository `main` has no reindex job `20260101-000000-000000`"
    );
    let shown = server.admin(&["reindex", "--status", "--repo", "main", "--job", &job]);
    assert!(shown.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        (&shown["id"], &shown["state"]),
        (&done["job"]["id"], &done["job"]["state"])
    );
}
