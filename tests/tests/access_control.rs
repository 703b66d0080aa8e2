//! Access control end to end: every endpoint × every kind of credential on a
//! private repository, with the exact status; an allowed call is checked for
//! its effect (as the admin then sees it), a denial for changing nothing (a
//! snapshot of every object and metadata record). Then the real cargo
//! against a private repository.

use crateyard_e2e::snapshot::{differences, snapshot};
use crateyard_e2e::{
    Cargo, Project, REGISTRY, Server, crate_bytes, error_detail, publish, publish_body,
};
use crateyard_index::index_file_path;
use serde_json::{Value, json};
use std::io::Write;

const REPO: &str = "vault";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    IndexRead,
    Download,
    PublishNew,
    PublishUpdate,
    Yank,
    Unyank,
    OwnersList,
    OwnersAdd,
    OwnersRemove,
    Search,
    TokenAdmin,
    DirectUpload,
    Reindex,
}

use Endpoint::*;

const ENDPOINTS: [Endpoint; 13] = [
    IndexRead,
    Download,
    PublishNew,
    PublishUpdate,
    Yank,
    Unyank,
    OwnersList,
    OwnersAdd,
    OwnersRemove,
    Search,
    TokenAdmin,
    DirectUpload,
    Reindex,
];

/// Expected statuses, in [`ENDPOINTS`] order, per credential.
const EXPECTED: [(&str, [u16; 13]); 12] = [
    ("none", [401; 13]),
    ("malformed", [401; 13]),
    ("unknown", [401; 13]),
    ("revoked", [401; 13]),
    ("expired", [401; 13]),
    (
        "read-scope",
        [
            200, 200, 403, 403, 403, 403, 200, 403, 403, 200, 403, 403, 403,
        ],
    ),
    (
        "crate-glob",
        [
            404, 404, 403, 403, 404, 404, 404, 404, 404, 200, 403, 403, 403,
        ],
    ),
    (
        "other-repo",
        [
            404, 404, 403, 403, 404, 404, 404, 404, 404, 404, 403, 403, 403,
        ],
    ),
    (
        "non-owner",
        [
            200, 200, 200, 403, 403, 403, 200, 403, 403, 200, 403, 403, 403,
        ],
    ),
    (
        "owner",
        [
            200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 201, 403,
        ],
    ),
    (
        "group-owner",
        [
            200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403, 201, 403,
        ],
    ),
    (
        "admin",
        [
            200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 202,
        ],
    ),
];

fn publish_frame(name: &str, version: &str) -> Vec<u8> {
    let metadata = json!({ "name": name, "vers": version, "deps": [], "features": {} });
    publish_body(&metadata, &crate_bytes(name, version, ""))
}

/// A server with repository `vault` (private; any signed-in user may read
/// and publish new crates), users `root` (admin), `owner`, `groupie` (in
/// group `devs`), `stranger` and `bystander`, and crate `held` owned by `owner` and
/// `group:devs`.
struct World {
    server: Server,
    /// Every credential of [`EXPECTED`], as an `Authorization` header value.
    credentials: Vec<(&'static str, Option<String>)>,
    admin: String,
}

impl World {
    fn new(server: Server) -> Self {
        let urls = [
            "--public-url".to_string(),
            server.public_url.clone(),
            "--api-url".to_string(),
            server.url.clone(),
        ];
        let admin = |args: &[&str]| server.admin_ok(args);
        admin(&["user", "set", "root", "--admin", "true"]);
        admin(&["user", "set", "owner"]);
        admin(&["user", "set", "groupie", "--groups", "devs"]);
        admin(&["user", "set", "stranger"]);
        admin(&["user", "set", "bystander"]);
        let mut create = vec!["repo", "create", REPO, "--private"];
        create.extend(urls.iter().map(String::as_str));
        admin(&create);
        let mut grant = vec![
            "repo",
            "set",
            REPO,
            "--grant",
            "authenticated=read,publish-new,publish-update,yank,change-owners",
        ];
        grant.extend(urls.iter().map(String::as_str));
        admin(&grant);

        let token = |extra: &[&str]| -> (String, String) {
            let mut args = vec!["token", "create"];
            args.extend(extra);
            let out = server.admin(&args);
            assert!(out.status.success(), "{:?}", out);
            let stderr = String::from_utf8(out.stderr).unwrap();
            let announced = stderr.lines().find(|l| l.starts_with("token ")).unwrap();
            let id = announced.split_whitespace().nth(1).unwrap().to_string();
            (
                String::from_utf8(out.stdout).unwrap().trim().to_string(),
                id,
            )
        };
        let (root, _) = token(&["--user", "root"]);
        let (owner, _) = token(&["--user", "owner"]);
        let (revoked, revoked_id) = token(&["--user", "owner"]);
        admin(&["token", "revoke", &revoked_id]);
        let (expired, _) = token(&["--user", "owner", "--expires", "1s"]);
        let (read_only, _) = token(&["--user", "owner", "--scopes", "read"]);
        let (globbed, _) = token(&["--user", "owner", "--crates", "other-*"]);
        let (elsewhere, _) = token(&["--user", "owner", "--repo", "main"]);
        let (stranger, _) = token(&["--user", "stranger"]);
        let (groupie, _) = token(&["--user", "groupie"]);

        let world = Self {
            credentials: vec![
                ("none", None),
                ("malformed", Some("Bearer ".into())),
                ("unknown", Some(format!("cyd_{}", "0".repeat(64)))),
                ("revoked", Some(revoked)),
                ("expired", Some(expired)),
                ("read-scope", Some(read_only)),
                ("crate-glob", Some(globbed)),
                ("other-repo", Some(elsewhere)),
                ("non-owner", Some(stranger)),
                ("owner", Some(owner.clone())),
                ("group-owner", Some(groupie)),
                ("admin", Some(format!("Bearer {root}"))),
            ],
            admin: root,
            server,
        };
        let (status, body) = world.request(
            "PUT",
            "api/v1/crates/new",
            Some(&owner),
            publish_frame("held", "1.0.0"),
        );
        assert_eq!(status, 200, "{body}");
        let (status, body) = world.request(
            "PUT",
            "api/v1/crates/held/owners",
            Some(&owner),
            br#"{"users":["group:devs"]}"#.to_vec(),
        );
        assert_eq!(status, 200, "{body}");
        // Let the expiring token expire.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        world
    }

    /// A request under `/vault/` (or `/` for paths starting with `/`), at the
    /// server itself: on AWS, a private repository's reads go to the API.
    fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, String) {
        let url = match path.strip_prefix('/') {
            Some(path) => format!("{}/{path}", self.server.url),
            None => format!("{}/{REPO}/{path}", self.server.url),
        };
        let mut request = self
            .server
            .http()
            .request(method.parse().unwrap(), url)
            .body(body);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        if status == 401 {
            let challenge = response.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Cargo login_url=\""), "{challenge}");
        }
        (status, response.text().unwrap())
    }

    fn call(&self, endpoint: Endpoint, auth: Option<&str>, cell: usize) -> (u16, String) {
        let owners_change = |method| {
            self.request(
                method,
                "api/v1/crates/held/owners",
                auth,
                br#"{"users":["stranger"]}"#.to_vec(),
            )
        };
        match endpoint {
            IndexRead => self.request("GET", "api/private/index/he/ld/held", auth, vec![]),
            Download => self.request(
                "GET",
                "api/private/crates/held/held-1.0.0.crate",
                auth,
                vec![],
            ),
            PublishNew => self.request(
                "PUT",
                "api/v1/crates/new",
                auth,
                publish_frame(&format!("fresh-{cell}"), "1.0.0"),
            ),
            PublishUpdate => self.request(
                "PUT",
                "api/v1/crates/new",
                auth,
                publish_frame("held", &format!("1.{cell}.0")),
            ),
            Yank => self.request("DELETE", "api/v1/crates/held/1.0.0/yank", auth, vec![]),
            Unyank => self.request("PUT", "api/v1/crates/held/1.0.0/unyank", auth, vec![]),
            OwnersList => self.request("GET", "api/v1/crates/held/owners", auth, vec![]),
            OwnersAdd => owners_change("PUT"),
            OwnersRemove => owners_change("DELETE"),
            Search => self.request("GET", "api/v1/crates?q=&per_page=100", auth, vec![]),
            TokenAdmin => self.request(
                "POST",
                "/api/v1/tokens",
                auth,
                br#"{"user":"bystander","name":"minted"}"#.to_vec(),
            ),
            DirectUpload => {
                let version = format!("2.{cell}.0");
                self.request(
                    "PUT",
                    &format!("crates/held/held-{version}.crate"),
                    auth,
                    crate_bytes("held", &version, ""),
                )
            }
            Reindex => self.request("POST", "api/v1/reindex", auth, vec![]),
        }
    }

    /// A GET as the admin: the body, after asserting a 200.
    fn admin_get(&self, path: &str) -> String {
        let (status, body) = self.request("GET", path, Some(&self.admin), vec![]);
        assert_eq!(status, 200, "GET {path} as the admin: {body}");
        body
    }

    /// The index lines of `name`, as the admin reads them.
    fn index_lines(&self, name: &str) -> Vec<Value> {
        let path = format!("api/private/index/{}", index_file_path(name));
        self.admin_get(&path)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    fn held_version(&self, version: &str) -> Option<Value> {
        self.index_lines("held")
            .into_iter()
            .find(|line| line["vers"] == version)
    }

    /// What an allowed call should have done, checked as a user would see
    /// it; `None` when it did. `crates` is how many crates `vault` holds.
    fn effect_missing(
        &self,
        credential: &str,
        endpoint: Endpoint,
        cell: usize,
        body: &str,
        crates: usize,
    ) -> Option<String> {
        let json = || serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
        let owners = || self.admin_get("api/v1/crates/held/owners");
        let held = crate_bytes("held", "1.0.0", "");
        let done = match endpoint {
            IndexRead => body.lines().any(|l| l.contains(r#""vers":"1.0.0""#)),
            Download => {
                let url = format!(
                    "{}/{REPO}/api/private/crates/held/held-1.0.0.crate",
                    self.server.url
                );
                let again = self
                    .server
                    .http()
                    .get(url)
                    .header("Authorization", &self.admin)
                    .send()
                    .unwrap();
                body.len() == String::from_utf8_lossy(&held).len()
                    && again.bytes().unwrap().as_ref() == held.as_slice()
            }
            PublishNew => self
                .index_lines(&format!("fresh-{cell}"))
                .iter()
                .any(|l| l["vers"] == "1.0.0"),
            PublishUpdate => self.held_version(&format!("1.{cell}.0")).is_some(),
            DirectUpload => self.held_version(&format!("2.{cell}.0")).is_some(),
            Yank => self
                .held_version("1.0.0")
                .is_some_and(|l| l["yanked"] == true),
            Unyank => self
                .held_version("1.0.0")
                .is_some_and(|l| l["yanked"] == false),
            OwnersList => json()["users"]
                .as_array()
                .is_some_and(|users| users.iter().any(|u| u["login"] == "owner")),
            OwnersAdd => owners().contains(r#""login":"stranger""#),
            OwnersRemove => !owners().contains(r#""login":"stranger""#),
            // A token limited to `other-*` sees none of `vault`'s crates.
            Search if credential == "crate-glob" => json()["meta"]["total"] == 0,
            Search => json()["meta"]["total"] == crates,
            TokenAdmin => {
                let minted = json()["token"].as_str().unwrap_or_default().to_string();
                let (status, me) = self.request("GET", "/api/v1/me", Some(&minted), vec![]);
                status == 200 && me.contains(r#""login":"bystander""#)
            }
            // A job: it must finish, over every crate.
            Reindex => {
                let id = json()["job"]["id"].as_str().unwrap_or_default().to_string();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                loop {
                    let status = self.admin_get(&format!("api/v1/reindex/{id}"));
                    let status: Value = serde_json::from_str(&status).unwrap_or_default();
                    if status["job"]["state"] == "done" || std::time::Instant::now() > deadline {
                        break status["job"]["crates_done"] == crates;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        };
        (!done).then(|| {
            format!("{credential} × {endpoint:?} was allowed but did not take effect: {body}")
        })
    }
}

fn run_matrix(world: &World) {
    let mut cells = 0;
    // `held`, and each crate an allowed PublishNew adds.
    let mut crates = 1;
    let mut failures = Vec::new();
    for (credential, auth) in &world.credentials {
        let expected = EXPECTED
            .iter()
            .find(|(name, _)| name == credential)
            .map(|(_, statuses)| statuses)
            .unwrap();
        for (endpoint, want) in ENDPOINTS.iter().zip(expected) {
            cells += 1;
            let before = (*want >= 400).then(|| snapshot(&world.server));
            let (status, body) = world.call(*endpoint, auth.as_deref(), cells);
            if status != *want {
                failures.push(format!(
                    "{credential} × {endpoint:?}: {status}, want {want}: {body}"
                ));
                continue;
            }
            match before {
                Some(before) => {
                    assert!(
                        !error_detail(&body).is_empty(),
                        "{credential} × {endpoint:?}: {body}"
                    );
                    let changed = differences(&before, &snapshot(&world.server));
                    if !changed.is_empty() {
                        failures.push(format!(
                            "{credential} × {endpoint:?} was denied but changed:\n    {}",
                            changed.join("\n    ")
                        ));
                    }
                }
                None => {
                    crates += usize::from(*endpoint == PublishNew);
                    failures
                        .extend(world.effect_missing(credential, *endpoint, cells, &body, crates));
                }
            }
        }
    }
    assert_eq!(cells, 156);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn access_matrix_local() {
    run_matrix(&World::new(Server::start()));
}

#[test]
fn access_matrix_aws() {
    run_matrix(&World::new(Server::start_aws()));
}

#[test]
fn a_token_limited_to_some_crates_searches_only_those() {
    let world = World::new(Server::start());
    let glob = &world
        .credentials
        .iter()
        .find(|(c, _)| *c == "crate-glob")
        .unwrap()
        .1;
    let (status, body) = world.call(Search, glob.as_deref(), 0);
    assert_eq!(status, 200);
    let hits: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hits["meta"]["total"], 0, "{hits}");
    let (_, body) = world.call(Search, Some(&world.admin), 0);
    let hits: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hits["crates"][0]["name"], "held", "{hits}");
}

#[test]
fn cargo_needs_a_token_for_a_private_repository() {
    let server = Server::start_logged();
    let token = server.token("alice");
    let publisher = Cargo::new(&server, Some(&token));
    publish(&publisher, "secret", "1.0.0", "");
    server.admin_ok(&["repo", "set", "main", "--anonymous-read", "false"]);
    // Settings reach a running server within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.get("main/index/config.json").status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "config.json stays public"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let config: Value = server
        .http()
        .get(format!("{}/main/index/config.json", server.url))
        .header("Authorization", &token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["auth-required"], true);

    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\nsecret = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    let anonymous = Cargo::new(&server, None);
    let (ok, _, stderr) = anonymous.run(app.path(), &["build"]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cargo login --registry {REGISTRY}")),
        "{stderr}"
    );

    // CARGO_REGISTRIES_CY_TOKEN
    let out = publisher.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling secret v1.0.0"), "{out}");

    // `cargo login`, then `cargo logout`.
    let with_login = Cargo::new(&server, None);
    let mut login = with_login.command(app.path(), &["login", "--registry", REGISTRY]);
    login.stdin(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(app.path().join("target")).unwrap();
    let out = with_login.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling secret v1.0.0"), "{out}");
    with_login.ok(app.path(), &["logout", "--registry", REGISTRY]);
    let (ok, _, stderr) = with_login.run(app.path(), &["generate-lockfile"]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!("cargo login --registry {REGISTRY}")),
        "{stderr}"
    );

    // `cargo publish --token` into the private repository.
    let next = Project::new("secret", "1.1.0", "");
    anonymous.ok(
        next.path(),
        &[
            "publish",
            "--registry",
            REGISTRY,
            "--token",
            &token,
            "--no-verify",
            "--allow-dirty",
        ],
    );

    // The log has a decision per request, and never a token.
    let log = server.log();
    assert!(
        log.contains("outcome=\"allowed\"") || log.contains("outcome=allowed"),
        "{log}"
    );
    assert!(log.contains("denied"), "{log}");
    assert!(!log.contains(&token), "the log shows a token");
    assert!(
        !log.contains(&token["cyd_".len()..]),
        "the log shows a token"
    );
}

#[test]
fn aws_private_reads_go_through_the_api() {
    let server = Server::start_aws();
    let token = server.token("alice");
    publish(&Cargo::new(&server, Some(&token)), "hidden", "1.0.0", "");
    let public_index = format!("{}/main/index/hi/dd/hidden", server.public_url);
    let tagging = |key: &str| {
        server
            .http()
            .get(format!("{}/{key}?tagging", server.public_url))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    assert!(!tagging("main/index/hi/dd/hidden").contains("crateyard-private"));
    assert_eq!(
        server.http().get(&public_index).send().unwrap().status(),
        200
    );

    server.admin_ok(&[
        "repo",
        "set",
        "main",
        "--anonymous-read",
        "false",
        "--public-url",
        &server.public_url,
        "--api-url",
        &server.url,
    ]);
    // Every object of the repository is now tagged, which the bucket policy
    // (and CloudFront's) turn into "not readable on the static path".
    for key in [
        "main/index/config.json",
        "main/index/hi/dd/hidden",
        "main/crates/hidden/hidden-1.0.0.crate",
    ] {
        assert!(tagging(key).contains("crateyard-private"), "{key}");
    }
    let private_index = format!("sparse+{}/main/api/private/index/", server.url);
    let config: Value = server
        .http()
        .get(format!("{}/main/api/private/index/config.json", server.url))
        .header("Authorization", &token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(config["auth-required"], true);
    assert_eq!(
        config["dl"],
        format!(
            "{}/main/api/private/crates/{{crate}}/{{crate}}-{{version}}.crate",
            server.url
        )
    );

    // The download is a redirect to a presigned S3 URL.
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let download = no_redirects
        .get(format!(
            "{}/main/api/private/crates/hidden/hidden-1.0.0.crate",
            server.url
        ))
        .header("Authorization", &token)
        .send()
        .unwrap();
    assert_eq!(download.status(), 307);
    let location = download.headers()["location"].to_str().unwrap();
    assert!(location.contains("X-Amz-Signature="), "{location}");

    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\nhidden = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    let (ok, _, stderr) = Cargo::with_index(&private_index, None).run(app.path(), &["build"]);
    assert!(!ok && stderr.contains("cargo login"), "{stderr}");
    let out = Cargo::with_index(&private_index, Some(&token)).ok(app.path(), &["build"]);
    assert!(out.contains("Compiling hidden v1.0.0"), "{out}");
}
