//! Regressions for what a red team found on a release build: each test
//! failed before its fix. (The data-loss race is in `concurrency.rs`, the
//! virtual-repository leaks in `virtual_access.rs`.)

use crateyard_e2e::{Server, crate_bytes, error_detail};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `POST /api/v1/tokens` with `token`; the status and the body.
fn mint(server: &Server, token: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let res = server
        .http()
        .post(format!("{}/api/v1/tokens", server.url))
        .header("Authorization", token)
        .json(&body)
        .send()
        .unwrap();
    (res.status().as_u16(), res.json().unwrap())
}

#[test]
fn a_token_mints_only_tokens_within_its_own_limits() {
    let server = Server::start();
    let expiring = server.token_with(&["--user", "ann", "--expires", "1d"]);
    let (status, body) = mint(&server, &expiring, serde_json::json!({"name": "forever"}));
    assert_eq!(status, 403, "{body}");
    assert!(
        error_detail(&body.to_string()).contains("must expire by then"),
        "{body}"
    );
    let (status, body) = mint(
        &server,
        &expiring,
        serde_json::json!({"name": "short", "expires": "1h"}),
    );
    assert_eq!(status, 201, "{body}");

    let read_only = server.token_with(&["--user", "ann", "--scopes", "read"]);
    let (status, _) = mint(&server, &read_only, serde_json::json!({"name": "all"}));
    assert_eq!(status, 403);
    let (status, body) = mint(
        &server,
        &read_only,
        serde_json::json!({"name": "r", "scopes": ["read"]}),
    );
    assert_eq!(status, 201, "{body}");

    let globbed = server.token_with(&["--user", "ann", "--crates", "ann-*"]);
    for wider in [
        serde_json::json!({"name": "g"}),
        serde_json::json!({"name": "g", "crates": ["*"]}),
        serde_json::json!({"name": "g", "crates": ["other"]}),
    ] {
        assert_eq!(mint(&server, &globbed, wider.clone()).0, 403, "{wider}");
    }
    for narrower in [
        serde_json::json!({"name": "g", "crates": ["ann-*"]}),
        serde_json::json!({"name": "g", "crates": ["ann-tool"]}),
    ] {
        assert_eq!(
            mint(&server, &globbed, narrower.clone()).0,
            201,
            "{narrower}"
        );
    }

    let one_repo = server.token_with(&["--user", "ann", "--repo", "main"]);
    assert_eq!(
        mint(&server, &one_repo, serde_json::json!({"name": "x"})).0,
        403
    );
    let (status, _) = mint(
        &server,
        &one_repo,
        serde_json::json!({"name": "x", "repos": ["main"]}),
    );
    assert_eq!(status, 201);
}

#[test]
fn a_limited_token_cannot_list_or_revoke_its_users_tokens() {
    let server = Server::start();
    let full = server.token_with(&["--user", "ann"]);
    let read_only = server.token_with(&["--user", "ann", "--scopes", "read"]);
    let list = |token: &str| {
        server
            .http()
            .get(format!("{}/api/v1/tokens", server.url))
            .header("Authorization", token)
            .send()
            .unwrap()
    };
    let res = list(&read_only);
    assert_eq!(res.status(), 403);
    assert!(error_detail(&res.text().unwrap()).contains("without limits"));
    let tokens: serde_json::Value = list(&full).json().unwrap();
    let tokens = tokens["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    let id_of = |read_only: bool| {
        let token = tokens
            .iter()
            .find(|t| t["scopes"].is_array() == read_only)
            .unwrap();
        token["id"].as_str().unwrap().to_string()
    };
    let revoke = |token: &str, id: &str| {
        server
            .http()
            .delete(format!("{}/api/v1/tokens/{id}", server.url))
            .header("Authorization", token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // The read-only token cannot revoke the full one, but can revoke itself.
    let (full_id, read_only_id) = (id_of(false), id_of(true));
    assert_eq!(revoke(&read_only, &full_id), 403);
    assert_eq!(list(&full).status(), 200, "the full token still works");
    assert_eq!(revoke(&read_only, &read_only_id), 200);
    assert_eq!(list(&read_only).status(), 401);
}

#[test]
fn upstream_tokens_are_never_shown_by_the_api() {
    let server = Server::start();
    server.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        "sparse+http://127.0.0.1:9/index/",
        "--upstream-token",
        "very-secret-upstream-token",
    ]);
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token_with(&["--user", "root"]);
    let body = server
        .http()
        .get(format!("{}/api/v1/repos", server.url))
        .header("Authorization", &root)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("\"mirror\""), "{body}");
    assert!(!body.contains("very-secret-upstream-token"), "{body}");
    assert!(body.contains("(set; not shown)"), "{body}");
}

#[test]
fn a_private_repositorys_static_reads_challenge_for_a_token() {
    let server = Server::start();
    server.admin_ok(&["repo", "set", "main", "--anonymous-read", "false"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let res = server.get("main/index/config.json");
        if res.status() == 401 {
            let challenge = res.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Cargo login_url="), "{challenge}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still public");
        std::thread::sleep(Duration::from_millis(100));
    }
    let res = server.get("main/index/3/f/foo");
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
}

#[test]
fn removing_someone_who_is_not_an_owner_is_refused() {
    let server = Server::start();
    let ann = server.token_with(&["--user", "ann"]);
    server.admin_ok(&["user", "set", "bob"]);
    let res = server
        .http()
        .put(format!(
            "{}/main/crates/owned/owned-1.0.0.crate",
            server.url
        ))
        .header("Authorization", &ann)
        .body(crate_bytes("owned", "1.0.0", ""))
        .send()
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = server
        .http()
        .delete(format!("{}/main/api/v1/crates/owned/owners", server.url))
        .header("Authorization", &ann)
        .json(&serde_json::json!({"users": ["bob"]}))
        .send()
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        error_detail(&res.text().unwrap()),
        "`bob` does not own crate `owned`; its owners are: ann"
    );
}

#[test]
fn a_newline_in_a_url_cannot_forge_a_log_line() {
    let server = Server::start_logged();
    let forged = "x%0A2026-01-01T00:00:00.000000Z%20%20INFO%20crateyard::access:%20access%20outcome=%22allowed%22";
    let _ = server.get(&format!("{forged}/api/v1/crates?q=a"));
    let _ = server.get(&format!("{forged}/index/config.json"));
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(
        !log.lines().any(|l| l.starts_with("2026-01-01T00:00:00")),
        "{log}"
    );
}

#[test]
fn half_sent_requests_are_dropped_and_the_server_keeps_answering() {
    let server = Server::start();
    let address = server.url.trim_start_matches("http://").to_string();
    // Connections that send half a header, then nothing.
    let mut stalled: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(&address).unwrap();
            s.write_all(b"GET /main/index/config.json HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    assert_eq!(server.get("main/index/config.json").status(), 200);
    // The server closes them after its header timeout (10 s).
    let mut first = stalled.remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = Vec::new();
    let read = first.read_to_end(&mut buf);
    assert!(
        read.is_ok(),
        "the server closed the stalled connection: {read:?}"
    );
}

#[test]
fn every_refusal_of_the_router_is_in_cargos_error_shape() {
    let server = Server::start();
    let http = server.http();
    let url = &server.url;
    let cases = [
        (http.get(format!("{url}/no/such/route/here")), 404),
        (http.post(format!("{url}/main/api/v1/crates")), 405),
        (
            http.get(format!("{url}/main/api/v1/crates/%FF/owners")),
            400,
        ),
        (
            http.get(format!("{url}/main/api/v1/crates?per_page=1&per_page=2")),
            400,
        ),
    ];
    for (request, status) in cases {
        let res = request.send().unwrap();
        let url = res.url().to_string();
        assert_eq!(res.status().as_u16(), status, "{url}");
        let allow = res.headers().get("allow").cloned();
        let body: serde_json::Value = res.json().unwrap_or_else(|e| panic!("{url}: {e}"));
        let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{url}: {body}");
        if status == 405 {
            assert!(allow.is_some(), "{url}: 405 without Allow");
        }
    }
}
