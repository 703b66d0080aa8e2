//! The audit log as an admin reads it, on both backends: changes made
//! with the real cargo (publish, yank, unyank, owner add) and refused
//! attempts appear newest first with who, which token id (never the token)
//! and what; the API pages; `crateyard audit` prints the same; bad queries
//! answer 400 with a sentence.

use crateyard_e2e::{Cargo, REGISTRY, Server, error_detail, publish};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_string()
}

fn audit(server: &Server, token: &str, query: &str) -> reqwest::blocking::Response {
    server
        .http()
        .get(format!("{}/api/v1/audit?{query}", server.url))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .unwrap()
}

fn entries(body: &Value) -> Vec<(String, String, String)> {
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
                e["version"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn audit_log_records_changes_and_refusals(server: Server) {
    let alice = server.token("alice");
    let bob = server.token("bob");
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token("root");
    let cargo = Cargo::new(&server, Some(&alice));
    let dir = tempfile::tempdir().unwrap();

    publish(&cargo, "audited", "1.0.0", "");
    cargo.ok(
        dir.path(),
        &["yank", "--registry", REGISTRY, "audited@1.0.0"],
    );
    cargo.ok(
        dir.path(),
        &["yank", "--registry", REGISTRY, "--undo", "audited@1.0.0"],
    );
    cargo.ok(
        dir.path(),
        &["owner", "--registry", REGISTRY, "--add", "bob", "audited"],
    );
    // Refused: carol owns nothing here.
    let carol = server.token("carol");
    let (ok, _, _) = Cargo::new(&server, Some(&carol)).run(
        dir.path(),
        &["yank", "--registry", REGISTRY, "audited@1.0.0"],
    );
    assert!(!ok);

    let response = audit(&server, &root, "crate=audited");
    assert_eq!(response.status(), 200);
    let text = response.text().unwrap();
    for secret in [&alice, &bob, &root, &carol] {
        assert!(!text.contains(secret.as_str()), "a token leaked: {text}");
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        entries(&body),
        [
            s("denied", "carol", ""),
            s("owners-add", "alice", ""),
            s("unyank", "alice", "1.0.0"),
            s("yank", "alice", "1.0.0"),
            s("publish", "alice", "1.0.0"),
        ]
    );
    let publish_entry = &body["entries"][4];
    assert_eq!(publish_entry["token_id"], token_id(&alice));
    assert_eq!(publish_entry["repo"], "main");
    assert!(
        body["entries"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("not an owner of crate `audited`"),
        "{body}"
    );
    assert!(
        body["entries"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("alice, bob"),
        "{body}"
    );

    // Pages of two cover the same entries once each.
    let mut paged = Vec::new();
    let mut query = "crate=audited&limit=2".to_string();
    loop {
        let page: Value = audit(&server, &root, &query).json().unwrap();
        paged.extend(entries(&page));
        match page["next"].as_str() {
            Some(next) => query = format!("crate=audited&limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(paged, entries(&body));

    // Not for non-admins. A refused read changes nothing and is not
    // recorded; a refused change (making herself admin) is.
    let refused = audit(&server, &alice, "");
    assert_eq!(refused.status(), 403);
    assert!(
        error_detail(&refused.text().unwrap()).contains("not a registry admin"),
        "the error names the reason"
    );
    let escalation = server
        .http()
        .put(format!("{}/api/v1/users/alice", server.url))
        .header("Authorization", format!("Bearer {alice}"))
        .body(r#"{"admin": true}"#)
        .send()
        .unwrap();
    assert_eq!(escalation.status(), 403);
    let all: Value = audit(&server, &root, "since=1h").json().unwrap();
    let latest = &all["entries"][0];
    assert_eq!(latest["action"], "denied");
    assert_eq!(latest["actor"], "alice");
    assert!(
        latest["detail"]
            .as_str()
            .unwrap()
            .contains("registry-admin"),
        "{latest}"
    );
    assert_eq!(all["entries"][1]["action"], "denied", "{all}");
    assert_eq!(
        all["entries"][1]["actor"], "carol",
        "the refused read left no entry"
    );
    let actions: Vec<&str> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in ["token-create", "user-change", "publish"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }

    // Bad queries: a sentence, nothing else.
    for (query, says) in [
        ("since=yesterday", "is not a lifetime"),
        ("crate=no%20spaces", "is not a crate name"),
        ("limit=many", "limit"),
    ] {
        let response = audit(&server, &root, query);
        assert_eq!(response.status(), 400, "{query}");
        let detail = error_detail(&response.text().unwrap());
        assert!(detail.contains(says), "{query}: {detail}");
    }

    // The command line reads the same log.
    let out = server.admin(&["audit", "--crate", "audited", "--since", "1d"]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 5, "{printed}");
    assert!(
        lines[4].contains(&format!(
            "alice (token {})  publish  main/audited 1.0.0",
            token_id(&alice)
        )),
        "{printed}"
    );
}

#[test]
fn audit_log_locally() {
    audit_log_records_changes_and_refusals(Server::start());
}

#[test]
fn audit_log_on_aws() {
    audit_log_records_changes_and_refusals(Server::start_aws());
}
