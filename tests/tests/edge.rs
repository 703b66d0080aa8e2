//! The deployed stack end to end, through its CloudFront edge only
//! (`crateyard_e2e::edge`: template.yaml's distribution, bucket policy,
//! functions and event wiring, on moto_server and the real Lambda
//! binaries). Cargo, curl and reqwest talk to the distribution's URL and
//! nothing else, as a user's would.

use crateyard_e2e::edge::Edge;
use crateyard_e2e::generate::generate;
use crateyard_e2e::{Cargo, PUBLISH, Project, REGISTRY, crate_bytes, error_detail, publish};

/// A consumer crate depending on `dependency` (`version` requirement).
fn consumer(dependency: &str, version: &str) -> Project {
    let app = Project::new(
        "app",
        "0.1.0",
        &format!(
            "[dependencies]\n{dependency} = {{ version = \"{version}\", registry = \"{REGISTRY}\" }}\n"
        ),
    );
    app.write(
        "src/lib.rs",
        &format!(
            "pub fn f() -> &'static str {{ {}::{}() }}\n",
            dependency.replace('-', "_"),
            dependency.replace('-', "_")
        ),
    );
    app
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[test]
fn one_deploy_serves_cargo_and_a_public_build_never_runs_the_api() {
    let edge = Edge::deploy();
    // The stack initialised itself: repository main, its config.json at the
    // distribution's URL, the web UI.
    let config: serde_json::Value = http()
        .get(format!("{}/main/index/config.json", edge.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/main/crates/{{crate}}/{{crate}}-{{version}}.crate",
            edge.url
        )
    );
    assert_eq!(config["api"], format!("{}/main", edge.url));

    let token = edge.token("alice");
    let cargo = Cargo::with_index(&edge.index_url("main"), Some(&token));
    publish(&cargo, "edgy", "1.0.0", "");
    publish(&cargo, "edgy", "1.1.0", "");
    let project = Project::new("edgy", "1.1.0", "");
    edge.admin_ok(&["user", "set", "bob"]);
    let owners = cargo.ok(
        project.path(),
        &["owner", "--registry", REGISTRY, "--add", "bob"],
    );
    assert!(owners.contains("bob"), "{owners}");
    let listed = cargo.ok(project.path(), &["owner", "--registry", REGISTRY, "--list"]);
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );
    let found = cargo.ok(project.path(), &["search", "--registry", REGISTRY, "edgy"]);
    assert!(found.contains("edgy = \"1.1.0\""), "{found}");
    cargo.ok(
        project.path(),
        &["yank", "--registry", REGISTRY, "--version", "1.1.0"],
    );
    edge.settle();

    // A consumer without a token: index and crates come from S3 through
    // the edge; the API is never asked.
    let before = edge.counts();
    let reader = Cargo::with_index(&edge.index_url("main"), None);
    let app = consumer("edgy", "1");
    let built = reader.ok(app.path(), &["build"]);
    assert!(
        built.contains("Compiling edgy v1.0.0"),
        "the yanked 1.1.0 is not chosen: {built}"
    );
    let after = edge.counts();
    assert_eq!(
        after.api, before.api,
        "a public build made requests to the API origin"
    );
    assert!(after.bucket > before.bucket, "{before:?} → {after:?}");

    // Unyank: the invalidation reaches the edge, and the next build sees it.
    cargo.ok(
        project.path(),
        &[
            "yank",
            "--registry",
            REGISTRY,
            "--undo",
            "--version",
            "1.1.0",
        ],
    );
    edge.settle();
    std::fs::remove_file(app.path().join("Cargo.lock")).unwrap();
    let before = edge.counts();
    let rebuilt = reader.ok(app.path(), &["build"]);
    assert!(rebuilt.contains("Compiling edgy v1.1.0"), "{rebuilt}");
    assert_eq!(edge.counts().api, before.api);
}

#[test]
fn direct_uploads_the_root_and_the_function_url() {
    let edge = Edge::deploy();
    let token = edge.token("carol");
    let body = crate_bytes("putty", "0.1.0+build.1", "pub fn putty() {}");
    let path = format!("{}/main/crates/putty/putty-0.1.0+build.1.crate", edge.url);
    // curl, as the README shows it.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let curl = std::process::Command::new("curl")
        .args(["-sS", "-X", "PUT", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg("--data-binary")
        .arg(format!("@{}", file.path().display()))
        .arg(&path)
        .output()
        .expect("curl runs");
    let out = String::from_utf8_lossy(&curl.stdout);
    assert!(out.trim_end().ends_with("201"), "curl -X PUT: {out}");
    edge.settle();
    let download = http().get(&path).send().unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().unwrap().as_ref(), body.as_slice());

    // Without a token the upload is refused, in cargo's error shape.
    let refused = http()
        .put(path.replace("0.1.0+build.1", "0.2.0"))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);

    // The root is the web UI, never a listing of the bucket.
    let root = http().get(format!("{}/", edge.url)).send().unwrap();
    assert_eq!(root.status(), 302);
    assert_eq!(root.headers()["location"], "/ui/");
    let ui = http().get(format!("{}/ui/", edge.url)).send().unwrap();
    assert_eq!(ui.status(), 200);
    let html = ui.text().unwrap();
    assert!(
        html.contains("<html") && !html.contains("ListBucketResult"),
        "{html}"
    );
    for probe in [
        "/.uploads/",
        "/main/crates/",
        "/main/index/",
        "/?list-type=2",
    ] {
        let got = http().get(format!("{}{probe}", edge.url)).send().unwrap();
        let status = got.status();
        let text = got.text().unwrap();
        assert!(
            !text.contains("ListBucketResult"),
            "{probe}: {status} {text}"
        );
        assert!(
            status != 200 || text.contains("<html"),
            "{probe}: {status} {text}"
        );
    }

    // The function URL itself refuses what did not come through CloudFront.
    let (status, answer) =
        edge.call_function_url("GET", "/api/v1/me", &[("authorization", &token)]);
    assert_eq!(status, 403, "{answer}");
    assert!(
        error_detail(&answer).contains("only through its public URL"),
        "{answer}"
    );
}

#[test]
fn private_repositories_need_a_token_and_turning_private_reaches_the_edge() {
    let edge = Edge::deploy();
    edge.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let token = edge.token("root");
    let cargo = Cargo::with_index(&edge.index_url("main"), Some(&token));
    publish(&cargo, "secretive", "1.0.0", "");
    edge.settle();
    let download = format!("{}/main/crates/secretive/secretive-1.0.0.crate", edge.url);
    // Public: read anonymously, twice (the second from the edge's cache).
    for _ in 0..2 {
        assert_eq!(http().get(&download).send().unwrap().status(), 200);
    }
    let hits = edge.counts().cache_hits;
    assert!(hits >= 1, "the download is cached at the edge");

    // Turned private through the API: the next anonymous read is refused,
    // not served from the edge's cache.
    let turned = http()
        .put(format!("{}/api/v1/repos/main", edge.url))
        .header("authorization", &token)
        .json(&serde_json::json!({ "anonymous_read": false }))
        .send()
        .unwrap();
    assert_eq!(turned.status(), 200, "{}", turned.text().unwrap());
    edge.settle();
    // Every object of the repository (index, crates, the UI's data) is
    // tagged private, which the bucket policy refuses to CloudFront.
    let keys = edge.keys("main/");
    for kind in [
        "main/index/",
        "main/crates/",
        "main/ui/crates/",
        "main/ui/versions/",
        "main/ui/readmes/",
        "main/ui/recent.json",
    ] {
        assert!(
            keys.iter().any(|k| k.starts_with(kind)),
            "no {kind} in {keys:?}"
        );
    }
    for key in &keys {
        let path = key.replace('+', "%2B");
        let anonymous = http().get(format!("{}/{path}", edge.url)).send().unwrap();
        assert_eq!(
            anonymous.status(),
            403,
            "{key}: S3's bucket policy refuses tagged objects"
        );
    }
    // Its reads go through the API, which checks tokens.
    let private_index = format!("sparse+{}/main/api/private/index/", edge.url);
    let config = http()
        .get(format!("{}/main/api/private/index/config.json", edge.url))
        .send()
        .unwrap();
    assert_eq!(config.status(), 401);
    assert!(config.headers().contains_key("www-authenticate"));
    let config = http()
        .get(format!("{}/main/api/private/index/config.json", edge.url))
        .header("authorization", &token)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(config.contains("\"auth-required\": true"), "{config}");

    // Cargo with a token builds from it; without one it is told to log in.
    let cargo = Cargo::with_index(&private_index, Some(&token));
    let app = consumer("secretive", "1");
    let built = cargo.ok(app.path(), &["build"]);
    assert!(built.contains("Compiling secretive v1.0.0"), "{built}");
    let anonymous_cargo = Cargo::with_index(&private_index, None);
    let app = consumer("secretive", "1");
    let (ok, _, stderr) = anonymous_cargo.run(app.path(), &["build"]);
    assert!(
        !ok && stderr.contains("cargo login --registry cy"),
        "{stderr}"
    );
}

#[test]
fn a_crate_over_the_invoke_ceiling_is_told_of_the_large_upload_path_which_works() {
    let edge = Edge::deploy();
    let token = edge.token("dave");
    let cargo = Cargo::with_index(&edge.index_url("main"), Some(&token));
    // 5 MB that gzip cannot shrink.
    let project = Project::new("hefty", "1.0.0", "");
    let noise = incompressible_crate("hefty", "1.0.0", 5_000_000);
    std::fs::write(project.path().join("noise.bin"), &noise).unwrap();
    let (ok, stdout, stderr) = cargo.run(project.path(), &PUBLISH);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("/api/v1/uploads"),
        "cargo prints the large-upload path: {stderr}"
    );
    // Refused before anything was staged for the indexer.
    assert_eq!(edge.keys(".uploads/"), Vec::<String>::new());

    // The large-upload path: a presigned URL, a PUT straight to S3, the
    // indexer ingests it.
    cargo.ok(project.path(), &["package", "--no-verify", "--allow-dirty"]);
    let packaged = project.path().join("target/package/hefty-1.0.0.crate");
    let crate_file = std::fs::read(packaged).unwrap();
    assert!(crate_file.len() > 4_500_000, "{}", crate_file.len());
    let created: serde_json::Value = http()
        .post(format!("{}/main/api/v1/uploads", edge.url))
        .header("authorization", format!("Bearer {token}"))
        .json(&serde_json::json!({ "name": "hefty", "version": "1.0.0" }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let put = http()
        .put(created["url"].as_str().expect("a presigned URL"))
        .body(crate_file.clone())
        .send()
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().unwrap());
    edge.settle();
    let status: serde_json::Value = http()
        .get(format!(
            "{}/main/api/v1/uploads/{}",
            edge.url,
            created["id"].as_str().unwrap()
        ))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["status"], "published", "{status}");
    let download = http()
        .get(format!("{}/main/crates/hefty/hefty-1.0.0.crate", edge.url))
        .send()
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().unwrap().len(), crate_file.len());
}

#[test]
fn the_custom_resource_answers_every_event_cloudformation_sends() {
    let edge = Edge::deploy();
    let config_url = format!("{}/main/index/config.json", edge.url);
    let before = http().get(&config_url).send().unwrap().text().unwrap();
    let update = edge.custom_resource("Update");
    assert_eq!(update["Status"], "SUCCESS", "{update}");
    edge.settle();
    assert_eq!(
        http().get(&config_url).send().unwrap().text().unwrap(),
        before
    );
    let delete = edge.custom_resource("Delete");
    assert_eq!(delete["Status"], "SUCCESS", "{delete}");
    // The bucket and table are retained, and so is the registry.
    assert_eq!(http().get(&config_url).send().unwrap().status(), 200);
}

/// A `.crate` of about `size` bytes that gzip cannot shrink.
fn incompressible_crate(name: &str, version: &str, size: usize) -> Vec<u8> {
    let mut noise = Vec::with_capacity(size);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.extend_from_slice(&state.to_le_bytes());
    }
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    crateyard_tarball::TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", b"")
        .file("noise.bin", &noise)
        .build()
}

#[test]
fn the_upload_page_sends_large_crates_through_storage_on_its_own() {
    let edge = Edge::deploy();
    let token = edge.token("erin");
    let files = tempfile::tempdir().unwrap();
    let small = files.path().join("small-1.0.0.crate");
    let large = files.path().join("large-1.0.0.crate");
    std::fs::write(&small, crate_bytes("small", "1.0.0", "pub fn small() {}")).unwrap();
    let large_bytes = incompressible_crate("large", "1.0.0", 5_000_000);
    assert!(large_bytes.len() > 4_500_000);
    std::fs::write(&large, &large_bytes).unwrap();
    let ui_tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let screenshots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    let out = std::process::Command::new("node")
        .arg(ui_tests.join("edge_upload.mjs"))
        .env("CRATEYARD_URL", &edge.url)
        .env("CRATEYARD_TOKEN", &token)
        .env("CRATEYARD_SMALL", &small)
        .env("CRATEYARD_LARGE", &large)
        .env("CRATEYARD_SCREENSHOTS", &screenshots)
        .output()
        .expect("node runs (tests/run.sh installs Node.js' packages)");
    assert!(
        out.status.success(),
        "the browser test failed (screenshots in {}):\n{}\n{}",
        screenshots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    edge.settle();
    let download = http()
        .get(format!("{}/main/crates/large/large-1.0.0.crate", edge.url))
        .send()
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().unwrap().as_ref(), large_bytes.as_slice());
}

#[test]
fn recalculate_index_fans_out_over_the_reindex_function() {
    let edge = Edge::deploy();
    // One batch and one crate more: two batches.
    let crates = crateyard_core::BATCH_CRATES + 1;
    let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
    let store = crateyard_aws::DynamoStore::new(
        crateyard_aws::AwsClients::for_emulator(&moto).dynamodb,
        &edge.table,
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(generate(&store, 0, crates, 16));
    edge.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let admin = edge.token("root");
    let before = edge.invocations("ReindexFunction");

    let started = http()
        .post(format!("{}/main/api/v1/reindex", edge.url))
        .header("authorization", format!("Bearer {admin}"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let started: serde_json::Value = started.json().unwrap();
    assert_eq!(started["job"]["state"], "planning", "{started}");
    let job = started["job"]["id"].as_str().unwrap().to_string();

    // The plan, then each batch, then the task that rebuilds and packs
    // the git index: one invocation each, through S3's notifications of
    // the task objects; none left behind.
    edge.settle();
    assert_eq!(edge.invocations("ReindexFunction") - before, 4);
    assert_eq!(edge.keys(".tasks/"), Vec::<String>::new());
    let status: serde_json::Value = http()
        .get(format!("{}/main/api/v1/reindex/{job}", edge.url))
        .header("authorization", format!("Bearer {admin}"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let job_status = &status["job"];
    assert_eq!(job_status["state"], "done", "{status}");
    assert_eq!(job_status["crates"], crates, "{status}");
    assert_eq!(job_status["crates_done"], crates, "{status}");
    assert_eq!(job_status["batches_done"], 2, "{status}");
    assert_eq!(job_status["requested_by"], "root", "{status}");

    // Every crate's index file and page now exist, served at the edge.
    assert_eq!(
        edge.keys("main/index/").len(),
        crates + 1,
        "with config.json"
    );
    assert_eq!(edge.keys("main/ui/crates/").len(), crates);
    let last = format!("gen{}", crates - 1);
    let index = http()
        .get(format!("{}/main/index/ge/n5/{last}", edge.url))
        .send()
        .unwrap();
    assert_eq!(index.status(), 200);
    assert!(
        index
            .text()
            .unwrap()
            .contains(&format!("\"name\":\"{last}\""))
    );

    // The operator's view of the same job.
    let latest = edge.admin_ok(&["reindex", "--status", "--repo", "main"]);
    let latest: serde_json::Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(
        (&latest["id"], &latest["state"]),
        (&status["job"]["id"], &status["job"]["state"])
    );
}

#[test]
fn the_git_index_is_static_through_the_edge() {
    let edge = Edge::deploy();
    let token = edge.token("alice");
    let cargo = Cargo::with_index(&edge.index_url("main"), Some(&token));
    publish(&cargo, "gitty", "1.0.0", "");
    publish(&cargo, "gitty", "1.1.0", "");
    cargo.ok(
        Project::new("gitty", "1.1.0", "").path(),
        &["yank", "--registry", REGISTRY, "--version", "1.1.0"],
    );
    // The indexer commits from the table's stream; the edge then serves
    // the commit's `info/refs` (invalidated) and objects from S3.
    edge.settle();
    let before = edge.counts();
    let git_url = format!("{}/main/git", edge.url);
    let reader = Cargo::with_index(&git_url, None);
    let app = consumer("gitty", "1");
    let out = reader
        .command(app.path(), &["build"])
        .env("CARGO_NET_GIT_FETCH_WITH_CLI", "true")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Compiling gitty v1.0.0"),
        "the yanked 1.1.0 is not chosen through git: {text}"
    );
    let after = edge.counts();
    assert_eq!(
        after.api, before.api,
        "a git fetch made requests to the API"
    );
    assert!(after.bucket > before.bucket, "{before:?} → {after:?}");
    // Anything else under git/ is a 404 from the bucket, never an object
    // of another section.
    for path in ["main/git/config", "main/git/objects/info/alternates"] {
        let status = http()
            .get(format!("{}/{path}", edge.url))
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
}

/// `git clone URL`; the clone's files (`.git` aside), by path.
fn clone_files(url: &str) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("git")
        .args(["clone", "--quiet", url, "index"])
        .current_dir(dir.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git clone {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crateyard_e2e::files_under(&dir.path().join("index"))
}

#[test]
fn remote_and_virtual_git_indexes_follow_through_the_reindex_function() {
    // The upstream: another registry on 127.0.0.1.
    let upstream = crateyard_e2e::Server::start();
    let upstream_cargo = Cargo::new(&upstream, Some(&upstream.token("upstream-author")));
    publish(&upstream_cargo, "leaf", "1.0.0", "");
    let edge = Edge::deploy();
    let upstream_index = format!("sparse+{}/main/index/", upstream.url);
    edge.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        &upstream_index,
    ]);
    edge.admin_ok(&[
        "repo",
        "create",
        "all",
        "--kind",
        "virtual",
        "--members",
        "main,mirror",
    ]);
    let reindex_before = edge.invocations("ReindexFunction");

    // cargo's first read of leaf through the remote repository: the API
    // function caches it, and hands the git commit to the reindex function.
    let sparse = http()
        .get(format!("{}/mirror/api/proxy/index/le/af/leaf", edge.url))
        .send()
        .unwrap();
    assert_eq!(sparse.status(), 200);
    let leaf = sparse.bytes().unwrap().to_vec();
    edge.settle();
    assert!(
        edge.invocations("ReindexFunction") > reindex_before,
        "no task reached the reindex function"
    );
    // A publish to main: the indexer commits main's and all's.
    let token = edge.token("alice");
    let cargo = Cargo::with_index(&edge.index_url("main"), Some(&token));
    publish(&cargo, "gitty", "1.0.0", "");
    edge.settle();

    // Clones through the edge: static, no API request.
    let before = edge.counts();
    let mirror = clone_files(&format!("{}/mirror/git", edge.url));
    let all = clone_files(&format!("{}/all/git", edge.url));
    let after = edge.counts();
    assert_eq!(
        after.api, before.api,
        "a git clone made requests to the API"
    );
    let paths = |files: &[(String, Vec<u8>)]| -> Vec<String> {
        files.iter().map(|(p, _)| p.clone()).collect()
    };
    assert_eq!(paths(&mirror), ["config.json", "le/af/leaf"]);
    assert_eq!(mirror[1].1, leaf);
    assert_eq!(paths(&all), ["config.json", "gi/tt/gitty", "le/af/leaf"]);
    assert_eq!(all[2].1, leaf);
    let gitty = http()
        .get(format!("{}/main/index/gi/tt/gitty", edge.url))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(all[1].1, gitty.to_vec());
    // Each config.json is the repository's own: cargo downloads through it.
    let config: serde_json::Value = serde_json::from_slice(&all[0].1).unwrap();
    assert!(
        config["dl"]
            .as_str()
            .unwrap()
            .contains("/all/api/proxy/crates/"),
        "{config}"
    );
}
