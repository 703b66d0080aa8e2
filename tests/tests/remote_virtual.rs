//! Remote repositories (a read-through cache of another registry) and
//! virtual ones (several repositories behind one index). The upstream is a
//! second Crateyard on 127.0.0.1; nothing here reaches the internet.

use crateyard_e2e::{Cargo, Project, REGISTRY, Server, error_detail, publish};
use std::time::Duration;

/// An upstream holding `leaf` 1.0.0 and 1.1.0, and a logged downstream
/// server with remote repository `mirror` of it (revalidated after 1 s).
fn upstream_and_mirror() -> (Server, Server) {
    let upstream = Server::start();
    let cargo = Cargo::new(&upstream, Some(&upstream.token("upstream-author")));
    publish(&cargo, "leaf", "1.0.0", "");
    publish(&cargo, "leaf", "1.1.0", "");
    let downstream = Server::start_logged();
    downstream.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        &format!("sparse+{}/main/index/", upstream.url),
        "--revalidate",
        "1s",
    ]);
    (upstream, downstream)
}

/// How often the downstream asked its upstream for URLs containing `what`.
fn upstream_requests(downstream: &Server, what: &str) -> usize {
    downstream
        .log()
        .lines()
        .filter(|l| l.contains("fetched from upstream") && l.contains(what))
        .count()
}

fn consumer(dependency: &str) -> Project {
    let app = Project::new(
        "app",
        "0.1.0",
        &format!(
            "[dependencies]\n{dependency} = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"
        ),
    );
    app.write("src/lib.rs", "");
    app
}

fn sparse(server: &Server, repo: &str) -> String {
    format!("sparse+{}/{repo}/index/", server.url)
}

#[test]
fn consumer_builds_through_a_remote_repository_and_survives_the_upstream_stopping() {
    let (mut upstream, downstream) = upstream_and_mirror();
    let app = consumer("leaf");
    let out = Cargo::with_index(&sparse(&downstream, "mirror"), None).ok(app.path(), &["build"]);
    assert!(out.contains("Compiling leaf v1.1.0"), "{out}");
    assert_eq!(upstream_requests(&downstream, "leaf-1.1.0.crate"), 1);

    // A second, cold consumer is served from the cache.
    std::fs::remove_dir_all(app.path().join("target")).unwrap();
    Cargo::with_index(&sparse(&downstream, "mirror"), None).ok(app.path(), &["build"]);
    assert_eq!(upstream_requests(&downstream, "leaf-1.1.0.crate"), 1);

    upstream.stop();
    std::thread::sleep(Duration::from_millis(1100));
    let index = downstream.get("mirror/index/le/af/leaf");
    assert_eq!(index.status(), 200);
    let stale = index.headers()["x-crateyard-stale"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(stale.contains("could not be reached"), "{stale}");
    assert!(downstream.log().contains("serving the cached index file"));
    std::fs::remove_dir_all(app.path().join("target")).unwrap();
    let out = Cargo::with_index(&sparse(&downstream, "mirror"), None).ok(app.path(), &["build"]);
    assert!(out.contains("Compiling leaf v1.1.0"), "{out}");

    // Never fetched, so nothing to fall back on.
    let missing = downstream.get("mirror/crates/leaf/leaf-1.0.0.crate");
    assert_eq!(missing.status(), 502);
    let detail = error_detail(&missing.text().unwrap());
    assert!(detail.contains("upstream"), "{detail}");
}

#[test]
fn a_changed_upstream_index_is_picked_up_after_revalidation() {
    let (upstream, downstream) = upstream_and_mirror();
    // A second remote of the same upstream, revalidated only after an hour.
    downstream.admin_ok(&[
        "repo",
        "create",
        "hourly",
        "--kind",
        "remote",
        "--upstream",
        &format!("sparse+{}/main/index/", upstream.url),
        "--revalidate",
        "1h",
    ]);
    let versions = |repo: &str| {
        let text = downstream
            .get(&format!("{repo}/index/le/af/leaf"))
            .text()
            .unwrap();
        text.lines().count()
    };
    assert_eq!(versions("mirror"), 2);
    assert_eq!(versions("hourly"), 2);
    let cargo = Cargo::new(&upstream, Some(&upstream.token("upstream-author")));
    publish(&cargo, "leaf", "1.2.0", "");
    // Within its interval the cached file is served as it is.
    assert_eq!(versions("hourly"), 2);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(versions("mirror"), 3);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(versions("mirror"), 3);
    let log = downstream.log();
    assert!(
        log.contains("\"not modified\""),
        "revalidated with an ETag: {log}"
    );
}

#[test]
fn a_corrupted_upstream_crate_is_refused() {
    let (upstream, downstream) = upstream_and_mirror();
    std::fs::write(
        upstream.object("main/crates/leaf/leaf-1.0.0.crate"),
        b"not the published bytes",
    )
    .unwrap();
    let response = downstream.get("mirror/crates/leaf/leaf-1.0.0.crate");
    assert_eq!(response.status(), 502);
    let detail = error_detail(&response.text().unwrap());
    assert!(detail.contains("checksum"), "{detail}");
    assert!(
        !downstream
            .object("mirror/crates/leaf/leaf-1.0.0.crate")
            .exists()
    );
    // The good one still comes through.
    assert_eq!(
        downstream
            .get("mirror/crates/leaf/leaf-1.1.0.crate")
            .status(),
        200
    );
}

#[test]
fn concurrent_first_fetches_reach_the_upstream_once() {
    let (_upstream, downstream) = upstream_and_mirror();
    let bodies: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    let response = downstream.get("mirror/crates/leaf/leaf-1.1.0.crate");
                    assert_eq!(response.status(), 200);
                    response.bytes().unwrap().to_vec()
                })
            })
            .collect();
        readers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(upstream_requests(&downstream, "leaf-1.1.0.crate"), 1);
    assert_eq!(upstream_requests(&downstream, "/le/af/leaf"), 1);
}

#[test]
fn mirror_fills_the_cache_for_an_air_gapped_build() {
    let (mut upstream, downstream) = upstream_and_mirror();
    let lockfile = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        lockfile.path(),
        "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
         [[package]]\nname = \"leaf\"\nversion = \"1.1.0\"\n\
         source = \"sparse+https://example.invalid/index/\"\n",
    )
    .unwrap();
    let lock = lockfile.path().display().to_string();
    let stderr = downstream.admin_ok(&[
        "mirror",
        "--repo",
        "mirror",
        "--lockfile",
        &lock,
        "--crates",
        "leaf@1.0.0",
    ]);
    assert!(stderr.contains("2 of 2 crates are cached"), "{stderr}");
    upstream.stop();
    for version in ["1.0.0", "1.1.0"] {
        let path = format!("mirror/crates/leaf/leaf-{version}.crate");
        assert_eq!(downstream.get(&path).status(), 200, "{path}");
    }
    let bad = downstream.admin(&["mirror", "--repo", "mirror", "--crates", "leaf"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("NAME@VERSION"));
}

#[test]
fn a_virtual_repository_merges_members_and_blocks_dependency_confusion() {
    let (upstream, downstream) = upstream_and_mirror();
    let upstream_cargo = Cargo::new(&upstream, Some(&upstream.token("upstream-author")));
    publish(&upstream_cargo, "public-only", "1.0.0", "");
    let token = downstream.token("alice");
    // Our own `leaf`, older than the public one: it must win anyway.
    publish(&Cargo::new(&downstream, Some(&token)), "leaf", "0.1.0", "");
    downstream.admin_ok(&[
        "repo",
        "create",
        "all",
        "--kind",
        "virtual",
        "--members",
        "main,mirror",
    ]);

    let leaf = downstream.get("all/index/le/af/leaf").text().unwrap();
    let versions: Vec<_> = leaf
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["vers"].clone())
        .collect();
    assert_eq!(versions, ["0.1.0"], "the upstream's leaf must stay hidden");
    assert_eq!(downstream.get("all/index/pu/bl/public-only").status(), 200);
    assert_eq!(
        downstream.get("all/crates/leaf/leaf-1.1.0.crate").status(),
        404
    );
    assert_eq!(downstream.get("all/index/no/ne/nonexistent").status(), 404);

    // A consumer asking for leaf 1.x cannot be handed the public one.
    let app = consumer("leaf");
    let virtual_cargo = Cargo::with_index(&sparse(&downstream, "all"), Some(&token));
    let (ok, _, stderr) = virtual_cargo.run(app.path(), &["build"]);
    assert!(!ok, "{stderr}");
    let app = consumer("public-only");
    let out = virtual_cargo.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling public-only v1.0.0"), "{out}");

    // Publishing to the virtual repository lands in its local member.
    let project = Project::new("fresh", "1.0.0", "");
    virtual_cargo.ok(project.path(), &crateyard_e2e::PUBLISH);
    assert_eq!(downstream.get("main/index/fr/es/fresh").status(), 200);
    let hits: serde_json::Value = downstream.get("all/api/v1/crates?q=fresh").json().unwrap();
    assert_eq!(hits["crates"][0]["name"], "fresh", "{hits}");
    // Search covers every member; the first member's `leaf` hides the upstream's.
    let hits: serde_json::Value = downstream.get("all/api/v1/crates?q=l").json().unwrap();
    let found: Vec<_> = hits["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap(),
                h["max_version"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [("leaf", "0.1.0"), ("public-only", "1.0.0")],
        "{hits}"
    );
}

#[test]
fn search_in_a_remote_repository_asks_the_upstream() {
    let (_upstream, downstream) = upstream_and_mirror();
    let hits: serde_json::Value = downstream.get("mirror/api/v1/crates?q=lea").json().unwrap();
    assert_eq!(hits["crates"][0]["name"], "leaf", "{hits}");
    assert_eq!(hits["crates"][0]["max_version"], "1.1.0", "{hits}");
}

#[test]
fn aws_remote_repository_fills_s3_and_serves_crates_statically() {
    let upstream = Server::start();
    let cargo = Cargo::new(&upstream, Some(&upstream.token("upstream-author")));
    publish(&cargo, "leaf", "1.1.0", "");
    let downstream = Server::start_aws();
    downstream.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        &format!("sparse+{}/main/index/", upstream.url),
        "--public-url",
        &downstream.public_url,
        "--api-url",
        &downstream.url,
    ]);
    let config: serde_json::Value = downstream
        .http()
        .get(format!(
            "{}/mirror/index/config.json",
            downstream.public_url
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/mirror/api/proxy/crates/{{crate}}/{{crate}}-{{version}}.crate",
            downstream.url
        )
    );
    let app = consumer("leaf");
    let index = format!("sparse+{}/mirror/api/proxy/index/", downstream.url);
    let out = Cargo::with_index(&index, None).ok(app.path(), &["build"]);
    assert!(out.contains("Compiling leaf v1.1.0"), "{out}");
    // The crate is now a static S3 object, and the API hands it out from there.
    let static_url = format!(
        "{}/mirror/crates/leaf/leaf-1.1.0.crate",
        downstream.public_url
    );
    assert_eq!(
        downstream.http().get(&static_url).send().unwrap().status(),
        200
    );
    let no_redirects = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_redirects
        .get(format!(
            "{}/mirror/api/proxy/crates/leaf/leaf-1.1.0.crate",
            downstream.url
        ))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 307);
    assert_eq!(answer.headers()["location"], static_url.as_str());
}

#[test]
fn a_private_upstream_is_read_with_the_upstream_token() {
    let upstream = Server::start();
    let token = upstream.token("upstream-author");
    publish(&Cargo::new(&upstream, Some(&token)), "leaf", "1.1.0", "");
    upstream.admin_ok(&["repo", "set", "main", "--anonymous-read", "false"]);
    // A running server applies the change within a second.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while upstream.get("main/index/config.json").status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream stays public"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let downstream = Server::start_logged();
    let private_index = format!("sparse+{}/main/api/private/index/", upstream.url);
    for (repo, upstream_token) in [("with-token", Some(token.as_str())), ("without", None)] {
        let mut args = vec![
            "repo",
            "create",
            repo,
            "--kind",
            "remote",
            "--upstream",
            &private_index,
        ];
        if let Some(t) = upstream_token {
            args.extend(["--upstream-token", t]);
        }
        downstream.admin_ok(&args);
    }
    assert_eq!(
        downstream
            .get("with-token/crates/leaf/leaf-1.1.0.crate")
            .status(),
        200
    );
    // Without its token the upstream answers 401: an upstream failure, not "no such crate".
    let refused = downstream.get("without/index/le/af/leaf");
    assert_eq!(refused.status(), 502);
    assert!(error_detail(&refused.text().unwrap()).contains("401"));
    assert!(
        !downstream.log().contains(&token),
        "the log shows the upstream token"
    );
}
