//! The AWS backend end to end, on moto_server: cargo publishes through the
//! API server, and a consumer builds reading index and crates straight from
//! the S3 endpoint, so no code of ours runs on the read path.

use crateyard_aws::{AwsClients, S3BlobStore};
use crateyard_core::{BlobStore, ObjectKey, RepoName, SearchShardId};
use crateyard_e2e::aws_calls::CallLog;
use crateyard_e2e::{Cargo, Project, REGISTRY, Server, index_lines, publish};

#[test]
fn aws_publish_through_the_api_and_build_from_s3() {
    let mut server = Server::start_aws();
    assert_ne!(server.public_url, server.url);
    let token = server.token("alice");
    let cargo = Cargo::new(&server, Some(&token));

    let config: serde_json::Value = server.get("main/index/config.json").json().unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/main/crates/{{crate}}/{{crate}}-{{version}}.crate",
            server.public_url
        )
    );
    assert_eq!(config["api"], format!("{}/main", server.url));

    publish(&cargo, "cloudy", "1.0.0", "[features]\nextra = []\n");
    publish(&cargo, "cloudy", "1.1.0", "[features]\nextra = []\n");
    let lines = index_lines(&server, "cl/ou/cloudy");
    assert_eq!(
        lines
            .iter()
            .map(|l| l["vers"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["1.0.0", "1.1.0"]
    );

    // Stop the API server: reads must not need it.
    server.stop();

    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\ncloudy = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    app.write(
        "src/lib.rs",
        "pub fn f() -> &'static str { cloudy::cloudy() }\n",
    );
    let out = cargo.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling cloudy v1.1.0"), "{out}");
}

/// A direct upload of `name` `version` with a description and keywords.
fn upload(server: &Server, token: &str, name: &str, description: &str, keywords: &[&str]) {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\
         description = \"{description}\"\nkeywords = {keywords:?}\n"
    );
    let tarball = crateyard_tarball::TarballBuilder::new(&format!("{name}-1.0.0"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", b"")
        .build();
    let answer = server
        .http()
        .put(format!(
            "{}/main/crates/{name}/{name}-1.0.0.crate",
            server.url
        ))
        .header("Authorization", token)
        .body(tarball)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 201, "{}", answer.text().unwrap());
}

/// The names a search through the API finds, and its total.
fn search(server: &Server, query: &str, per_page: usize) -> (Vec<String>, u64) {
    let found: serde_json::Value = server
        .get(&format!("main/api/v1/crates?q={query}&per_page={per_page}"))
        .json()
        .unwrap();
    let names = found["crates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    (names, found["meta"]["total"].as_u64().unwrap())
}

/// DynamoDB cannot match a substring without reading every crate item, so
/// on AWS a search reads the repository's search shards instead: the same
/// calls at any registry size (one conditional GET per shard, at once),
/// and no crate item. The shards are derived files: lost, they come back
/// with `crateyard reindex`.
#[test]
fn aws_search_reads_its_shards_and_never_the_crate_items() {
    let moto = std::env::var("CRATEYARD_TEST_MOTO").expect("tests/run.sh starts moto_server");
    let calls = CallLog::start(&moto);
    let server = Server::start_aws_at(calls.url());
    let token = server.token("alice");
    upload(&server, &token, "fast-json", "A JSON parser", &["parsing"]);
    upload(
        &server,
        &token,
        "slow_xml",
        "An XML parser",
        &["parsing", "markup"],
    );
    upload(&server, &token, "tool", "Nothing to see", &[]);

    calls.take();
    assert_eq!(search(&server, "json", 10), (vec!["fast-json".into()], 1));
    let made = calls.take();
    let operations: Vec<&str> = made.iter().map(|c| c.operation.as_str()).collect();
    let shard_reads = operations
        .iter()
        .filter(|o| o.starts_with("S3 GetObject"))
        .count();
    assert_eq!(shard_reads, 16, "one read per shard: {operations:?}");
    assert!(
        operations
            .iter()
            .filter(|o| o.starts_with("DynamoDB"))
            .all(|o| *o == "DynamoDB GetItem REPOS"),
        "a search read more of the table than the repository's record: {operations:?}"
    );
    // Again: each shard that exists is unchanged, and says so without its
    // body (a missing one is simply asked for again).
    search(&server, "json", 10);
    let again: Vec<String> = calls.take().into_iter().map(|c| c.operation).collect();
    let revalidated = again
        .iter()
        .filter(|o| *o == "S3 GetObject (if-none-match)")
        .count();
    let stored: std::collections::BTreeSet<SearchShardId> = ["fast_json", "slow_xml", "tool"]
        .into_iter()
        .map(SearchShardId::of)
        .collect();
    assert_eq!(revalidated, stored.len(), "{again:?}");

    assert_eq!(
        search(&server, "FAST_JSON", 10).0,
        ["fast-json"],
        "by canonical name"
    );
    assert_eq!(search(&server, "MARKUP", 10).0, ["slow_xml"], "by keyword");
    assert_eq!(
        search(&server, "parser", 1),
        (vec!["fast-json".into()], 2),
        "by description, by name, the limit capping the hits only"
    );
    assert_eq!(search(&server, "", 10).1, 3);
    // A new version's description replaces the old one's.
    let bumped = crateyard_tarball::TarballBuilder::new("tool-1.1.0")
        .file(
            "Cargo.toml",
            b"[package]\nname = \"tool\"\nversion = \"1.1.0\"\nedition = \"2021\"\ndescription = \"Now a JSON tool\"\n",
        )
        .file("src/lib.rs", b"")
        .build();
    let answer = server
        .http()
        .put(format!("{}/main/crates/tool/tool-1.1.0.crate", server.url))
        .header("Authorization", &token)
        .body(bumped)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 201);
    let (names, total) = search(&server, "json", 10);
    assert_eq!((names, total), (vec!["fast-json".into(), "tool".into()], 2));

    // Every shard lost: search finds nothing (it reads no crate item),
    // until reindex writes them again from the table.
    let (bucket, table) = server.aws_storage().unwrap();
    let s3 = S3BlobStore::new(AwsClients::for_emulator(&moto).s3, bucket);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let lose_shards = || {
        for shard in SearchShardId::all() {
            let repo = RepoName::new("main").unwrap();
            let key = ObjectKey::SearchShard { repo, shard };
            runtime.block_on(s3.delete(&key)).unwrap();
        }
    };
    lose_shards();
    assert_eq!(search(&server, "json", 10).1, 0);

    // A deployment made before shards existed: the stack's setup (on every
    // deploy) builds them where a repository has none.
    let registry = crateyard_aws::aws_registry(
        AwsClients::for_emulator(&moto),
        bucket,
        table,
        crateyard_core::RegistryConfig::new(&server.public_url, None),
    );
    runtime
        .block_on(crateyard_http::initialise(&registry))
        .unwrap();
    assert_eq!(search(&server, "json", 10).1, 2);
    lose_shards();
    // "Recalculate Index": a job, which this server runs itself (on the
    // stack, the reindex function's invocations; see tests/tests/edge.rs).
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let admin = server.token("root");
    let started = server
        .http()
        .post(format!("{}/main/api/v1/reindex", server.url))
        .header("Authorization", &admin)
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    // Shards are written at once: wait for both crates' shards.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while search(&server, "json", 10).1 != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the shards did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A stack from before version pages (or one that lost some): the crate's
/// next change writes the version pages its page links to.
#[test]
fn aws_a_crate_change_writes_the_version_pages_it_lacks() {
    let moto = std::env::var("CRATEYARD_TEST_MOTO").expect("tests/run.sh starts moto_server");
    let server = Server::start_aws();
    let token = server.token("alice");
    upload(&server, &token, "elder", "From an older release", &[]);
    let (bucket, _) = server.aws_storage().unwrap();
    let s3 = S3BlobStore::new(AwsClients::for_emulator(&moto).s3, bucket);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let version_page = ObjectKey::version_page("main", "elder", "1.0.0").unwrap();
    let written = runtime.block_on(s3.get(&version_page)).unwrap();
    let (written, _) = written.expect("the publish wrote the version's page");
    runtime.block_on(s3.delete(&version_page)).unwrap();

    let yank = server
        .http()
        .delete(format!(
            "{}/main/api/v1/crates/elder/1.0.0/yank",
            server.url
        ))
        .header("Authorization", &token)
        .send()
        .unwrap();
    assert_eq!(yank.status(), 200);
    let restored = runtime.block_on(s3.get(&version_page)).unwrap();
    let (restored, _) = restored.expect("the yank wrote the missing version page");
    assert_eq!(restored, written, "the same page as the publish wrote");
}
