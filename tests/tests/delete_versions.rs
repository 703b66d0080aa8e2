//! Deleting a version (a leaked secret, a legal request) on both backends:
//! over the HTTP endpoint crates.io uses, by a repository admin, and with
//! `crateyard delete`. The `.crate`, the index line, the page's entry and
//! the README go; cargo then resolves to what is left; the number stays
//! reserved (409 on a republish); the audit log says who and why. Refused
//! requests (no reason, not an admin, unknown version) change nothing.

use crateyard_e2e::{
    Cargo, PUBLISH, Project, REGISTRY, Server, error_detail, index_lines, publish,
};
use serde_json::Value;

fn delete(server: &Server, token: &str, path: &str, body: &str) -> (u16, String) {
    let response = server
        .http()
        .delete(format!("{}/main/api/v1/crates/{path}", server.url))
        .header("Authorization", token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

fn status(server: &Server, path: &str) -> u16 {
    server.get(path).status().as_u16()
}

fn versions(server: &Server) -> Vec<String> {
    index_lines(server, "le/ak/leaky")
        .iter()
        .map(|l| l["vers"].as_str().unwrap().to_string())
        .collect()
}

/// On AWS: the bucket versioned, as the stack's is, and the stored copies
/// (versions and delete markers) of `key` there, read from moto.
fn versioned_bucket(server: &Server) -> Option<impl Fn(&str) -> usize + '_> {
    let (bucket, _) = server.aws_storage()?;
    let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
    let versioning = server
        .http()
        .put(format!("{moto}/{bucket}?versioning"))
        .body("<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>")
        .send()
        .unwrap();
    assert!(versioning.status().is_success(), "{versioning:?}");
    Some(move |key: &str| {
        let listing = server
            .http()
            .get(format!("{moto}/{bucket}?versions&prefix={key}"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        listing.matches(&format!("<Key>{key}</Key>")).count()
    })
}

fn deleting_versions_removes_them_and_keeps_their_numbers(server: Server) {
    let stored_copies = versioned_bucket(&server);
    let alice = server.token("alice");
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token("root");
    let cargo = Cargo::new(&server, Some(&alice));
    publish(&cargo, "leaky", "1.0.0", "");
    publish(&cargo, "leaky", "1.1.0", "");
    let tarball = "main/crates/leaky/leaky-1.1.0.crate";
    let readme = "main/ui/readmes/leaky/1.1.0.html";
    let version_page = "main/ui/versions/leaky/1.1.0.json";
    assert_eq!(
        (
            status(&server, tarball),
            status(&server, readme),
            status(&server, version_page)
        ),
        (200, 200, 200)
    );

    // Refused, and nothing changes.
    let reason = r#"{"message": "a key leaked in src/lib.rs"}"#;
    for (token, path, body, code, says) in [
        (&root, "leaky/1.1.0", "{}", 400, "message"),
        (
            &root,
            "leaky/1.1.0",
            r#"{"message": "  "}"#,
            400,
            "needs a reason",
        ),
        (
            &alice,
            "leaky/1.1.0",
            reason,
            403,
            "lack the `admin` permission",
        ),
        (&root, "leaky/9.9.9", reason, 404, "9.9.9"),
        (&root, "nothing-here/1.0.0", reason, 404, "nothing-here"),
    ] {
        let (got, body) = delete(&server, token, path, body);
        assert_eq!(got, code, "{path}: {body}");
        assert!(error_detail(&body).contains(says), "{path}: {body}");
    }
    assert_eq!(versions(&server), ["1.0.0", "1.1.0"]);
    assert_eq!(status(&server, tarball), 200);

    let (code, body) = delete(&server, &root, "leaky/1.1.0", reason);
    assert_eq!(code, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["deleted"], serde_json::json!(["1.1.0"]));
    assert_eq!(
        (
            status(&server, tarball),
            status(&server, readme),
            status(&server, version_page)
        ),
        (404, 404, 404)
    );
    if let Some(stored_copies) = &stored_copies {
        // No earlier version of the bucket keeps the bytes either.
        assert_eq!(stored_copies(tarball), 0);
        assert_eq!(stored_copies(readme), 0);
        assert_eq!(stored_copies(version_page), 0);
        assert_eq!(stored_copies("main/crates/leaky/leaky-1.0.0.crate"), 1);
    }
    assert_eq!(versions(&server), ["1.0.0"]);
    let page: Value = server.get("main/ui/crates/leaky.json").json().unwrap();
    let on_page: Vec<&str> = page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vers"].as_str().unwrap())
        .collect();
    assert_eq!(on_page, ["1.0.0"]);
    assert_eq!(page["max_version"], "1.0.0");

    // The git index follows: a fresh clone holds the rewritten index file.
    let clone = tempfile::tempdir().unwrap();
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q", &format!("{}/main/git", server.public_url)])
        .arg(clone.path().join("index"))
        .status()
        .unwrap();
    assert!(cloned.success());
    let sparse = server.get("main/index/le/ak/leaky").bytes().unwrap();
    let git = std::fs::read(clone.path().join("index/le/ak/leaky")).unwrap();
    assert_eq!(git, sparse.as_ref(), "the git index lags the delete");

    // The number stays reserved, whatever the bytes.
    let republish = Project::new("leaky", "1.1.0", "");
    republish.write("src/lib.rs", "pub fn other() {}\n");
    let (ok, _, stderr) = cargo.run(republish.path(), &PUBLISH);
    assert!(!ok);
    assert!(stderr.contains("was deleted on"), "{stderr}");
    assert!(stderr.contains("409"), "{stderr}");

    // A consumer resolves to what is left.
    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\nleaky = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    let out = cargo.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling leaky v1.0.0"), "{out}");

    // Who deleted what, and why.
    let audit: Value = server
        .http()
        .get(format!("{}/api/v1/audit?crate=leaky&limit=1", server.url))
        .header("Authorization", &root)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let entry = &audit["entries"][0];
    assert_eq!(entry["action"], "delete");
    assert_eq!(entry["actor"], "root");
    assert_eq!(entry["version"], "1.1.0");
    assert_eq!(entry["detail"], "a key leaked in src/lib.rs");

    // The whole crate, from the command line; a second run only sweeps.
    let said = server.admin_ok(&[
        "delete",
        "leaky",
        "--repo",
        "main",
        "--reason",
        "legal request",
    ]);
    assert!(said.contains("deleted leaky 1.0.0"), "{said}");
    assert_eq!(status(&server, "main/crates/leaky/leaky-1.0.0.crate"), 404);
    assert!(versions(&server).is_empty());
    let again = server.admin_ok(&[
        "delete",
        "leaky",
        "--repo",
        "main",
        "--reason",
        "legal request",
    ]);
    assert!(again.contains("nothing left to delete"), "{again}");
    let (ok, _, stderr) = cargo.run(app.path(), &["update"]);
    assert!(!ok, "nothing left to resolve: {stderr}");
}

#[test]
fn delete_locally() {
    deleting_versions_removes_them_and_keeps_their_numbers(Server::start());
}

#[test]
fn delete_on_aws() {
    deleting_versions_removes_them_and_keeps_their_numbers(Server::start_aws());
}
