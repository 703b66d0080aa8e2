//! The git index (`/{repo}/git`, git's dumb HTTP protocol), driven by the
//! real `cargo` with `net.git-fetch-with-cli` and the real `git`: it
//! resolves what the sparse index resolves, a clone holds the sparse
//! index's files byte for byte, racing writers lose no crate, and nothing
//! outside the repository's git files is served under it.

use crateyard_e2e::{Cargo, Project, REGISTRY, Server, crate_bytes, files_under, publish};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Barrier;

fn git_url(server: &Server, repo: &str) -> String {
    format!("{}/{repo}/git", server.public_url)
}

/// cargo reading the git index through the git CLI, as cargo 1.49–1.67
/// and teams with `git-fetch-with-cli` do.
fn git_cargo(server: &Server, token: &str) -> Cargo {
    Cargo::with_index(&git_url(server, "main"), Some(token))
}

fn cargo_git_run(cargo: &Cargo, dir: &Path, args: &[&str]) -> String {
    let out = cargo
        .command(dir, args)
        .env("CARGO_NET_GIT_FETCH_WITH_CLI", "true")
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "cargo {args:?} failed:\n{text}");
    text
}

fn upload(server: &Server, token: &str, name: &str, version: &str) -> bool {
    upload_to(server, token, "main", name, version)
}

fn upload_to(server: &Server, token: &str, repo: &str, name: &str, version: &str) -> bool {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .unwrap()
        .put(format!(
            "{}/{repo}/crates/{name}/{name}-{version}.crate",
            server.url
        ))
        .header("Authorization", format!("Bearer {token}"))
        .body(crate_bytes(
            name,
            version,
            &format!(
                "pub fn {}() -> &'static str {{ \"{name}\" }}\n",
                name.replace('-', "_")
            ),
        ))
        .send()
        .unwrap()
        .status()
        .is_success()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "git {args:?} failed:\n{text}");
    text
}

/// `git clone URL` into a new directory; returns it.
fn clone(url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["clone", "--quiet", url, "index"]);
    let checkout = dir.path().join("index");
    (dir, checkout)
}

/// The status of a GET of `path` sent as is (an HTTP client would resolve
/// `..` and `%2e%2e` itself before sending).
fn raw_get_status(server: &Server, path: &str) -> u16 {
    use std::io::{Read, Write};
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[test]
fn cargo_resolves_through_the_git_index_and_skips_a_yanked_version() {
    let server = Server::start();
    let alice = server.token("alice");
    let sparse = Cargo::new(&server, Some(&alice));
    publish(&sparse, "gitdep", "1.0.0", "");
    publish(&sparse, "gitdep", "1.1.0", "");

    let cargo = git_cargo(&server, &alice);
    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\ngitdep = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    app.write(
        "src/lib.rs",
        "pub fn run() -> &'static str { gitdep::gitdep() }\n",
    );
    let out = cargo_git_run(&cargo, app.path(), &["build"]);
    assert!(out.contains("Compiling gitdep v1.1.0"), "{out}");
    let lock = std::fs::read_to_string(app.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"gitdep\"\nversion = \"1.1.0\""),
        "{lock}"
    );

    // Yanked through the API; a fresh resolution over git skips it.
    sparse.ok(
        app.path(),
        &["yank", "--registry", REGISTRY, "gitdep@1.1.0"],
    );
    std::fs::remove_file(app.path().join("Cargo.lock")).unwrap();
    let out = cargo_git_run(&cargo, app.path(), &["build"]);
    assert!(out.contains("Compiling gitdep v1.0.0"), "{out}");
    let lock = std::fs::read_to_string(app.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"gitdep\"\nversion = \"1.0.0\""),
        "{lock}"
    );
}

#[test]
fn a_clone_holds_the_sparse_index_files_byte_for_byte() {
    let server = Server::start();
    let alice = server.token("alice");
    // Every shard of the layout: 1/, 2/, 3/x/, ab/cd/, and a name with `-`.
    for (name, version) in [
        ("a", "1.0.0"),
        ("ab", "1.0.0"),
        ("abc", "1.0.0"),
        ("serde-like", "1.0.0"),
        ("serde-like", "1.1.0+build.7"),
    ] {
        assert!(upload(&server, &alice, name, version), "{name}");
    }
    let (_dir, checkout) = clone(&git_url(&server, "main"));
    let cloned = files_under(&checkout);
    let sparse = files_under(&server.object("main/index"));
    assert_eq!(
        cloned.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        ["1/a", "2/ab", "3/a/abc", "config.json", "se/rd/serde-like"]
    );
    assert_eq!(cloned, sparse, "the clone differs from the sparse index");
    // config.json is the sparse one, whose `dl` cargo needs at the root.
    let config: serde_json::Value =
        serde_json::from_slice(&cloned.iter().find(|(p, _)| p == "config.json").unwrap().1)
            .unwrap();
    assert!(config["dl"].as_str().unwrap().contains("/main/crates/"));

    // One more publish: a fetch brings exactly it.
    assert!(upload(&server, &alice, "newer", "0.1.0"));
    git(&checkout, &["fetch", "--quiet", "origin"]);
    git(&checkout, &["reset", "--quiet", "--hard", "origin/master"]);
    let log = git(&checkout, &["log", "--format=%s", "origin/master"]);
    assert_eq!(log.trim(), "Update newer", "one parentless commit: {log}");
    assert_eq!(
        files_under(&checkout),
        files_under(&server.object("main/index"))
    );

    // After a reindex, a fresh clone comes as one pack, and the clone
    // from before fetches the new tip.
    server.admin_ok(&["reindex"]);
    assert!(upload(&server, &alice, "after-pack", "0.1.0"));
    let (_dir, packed) = clone(&git_url(&server, "main"));
    assert_eq!(
        files_under(&packed),
        files_under(&server.object("main/index"))
    );
    let packs = std::fs::read_dir(packed.join(".git/objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count();
    assert_eq!(packs, 1, "the clone fetched the reindex's pack");
    git(&checkout, &["fetch", "--quiet", "origin"]);
    git(&checkout, &["reset", "--quiet", "--hard", "origin/master"]);
    assert_eq!(
        files_under(&checkout),
        files_under(&server.object("main/index"))
    );
}

#[test]
fn racing_publishers_in_two_processes_lose_no_crate_in_the_git_tree() {
    let first = Server::start();
    let second = first.start_beside();
    let token = first.token("alice");
    const WRITERS: usize = 12;
    let barrier = Barrier::new(WRITERS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let server = if i % 2 == 0 { &first } else { &second };
                let (barrier, token) = (&barrier, &token);
                s.spawn(move || {
                    barrier.wait();
                    upload(server, token, &format!("racer{i:02}"), "1.0.0")
                })
            })
            .collect();
        for handle in handles {
            assert!(handle.join().unwrap());
        }
    });
    let (_dir, checkout) = clone(&git_url(&first, "main"));
    let cloned = files_under(&checkout);
    for i in 0..WRITERS {
        let path = format!("ra/ce/racer{i:02}");
        assert!(
            cloned.iter().any(|(p, _)| *p == path),
            "racer{i:02} is missing from the git tree: {:?}",
            cloned.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
    }
    assert_eq!(cloned, files_under(&first.object("main/index")));
}

#[test]
fn nothing_but_git_files_is_served_under_git() {
    let server = Server::start();
    let alice = server.token("alice");
    assert!(upload(&server, &alice, "held", "1.0.0"));
    let ok = server.get("main/git/info/refs");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["content-type"].to_str().unwrap(),
        "text/plain",
        "plain text, so git reads the files one by one (dumb HTTP)"
    );
    let refs = ok.text().unwrap();
    let (commit, branch) = refs.trim_end().split_once('\t').unwrap();
    assert_eq!(branch, "refs/heads/master");
    let object = server.get(&format!(
        "main/git/objects/{}/{}",
        &commit[..2],
        &commit[2..]
    ));
    assert_eq!(object.status(), 200);
    assert_eq!(
        object.headers()["cache-control"].to_str().unwrap(),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        server.get("main/git/HEAD").text().unwrap(),
        "ref: refs/heads/master\n"
    );
    for path in [
        "main/git/%2e%2e/index/config.json",
        "main/git/objects/%2e%2e/%2e%2e/index/config.json",
        "main/git/objects/..%2f..%2f..%2fconfig.json",
        "main/git/../index/config.json",
        "main/git/objects/../../../../etc/passwd",
        "main/git/config",
        "main/git/refs/heads/master",
        "main/git/objects/pack/x.pack",
        "main/git/objects/zz/0000000000000000000000000000000000000000",
        "main/git/info/refs/",
        "main/git/",
        "nope/git/info/refs",
    ] {
        assert_eq!(raw_get_status(&server, path), 404, "{path}");
    }

    // A private repository's git index needs a token, like its index.
    server.admin_ok(&["repo", "set", "main", "--anonymous-read", "false"]);
    // Settings reach a running server within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.get("main/git/info/refs").status() != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the git index stays public"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let with_token = server
        .http()
        .get(format!("{}/main/git/info/refs", server.url))
        .header("Authorization", &alice)
        .send()
        .unwrap();
    assert_eq!(with_token.status(), 200);
    assert_eq!(
        with_token.headers()["cache-control"].to_str().unwrap(),
        "private, no-cache"
    );
    // Its config.json followed the setting.
    let dir = tempfile::tempdir().unwrap();
    git(
        dir.path(),
        &[
            "-c",
            &format!("http.extraHeader=Authorization: {alice}"),
            "clone",
            "--quiet",
            &git_url(&server, "main"),
            "index",
        ],
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index/config.json")).unwrap())
            .unwrap();
    assert_eq!(config["auth-required"], true);
}

#[test]
fn on_aws_a_clone_from_the_bucket_holds_the_sparse_index_files() {
    let server = Server::start_aws();
    let alice = server.token("alice");
    for name in ["a", "ab", "serde-like"] {
        assert!(upload(&server, &alice, name, "1.0.0"), "{name}");
    }
    let same_as_sparse = |checkout: &Path, files: usize| {
        let cloned = files_under(checkout);
        assert_eq!(
            cloned.len(),
            files,
            "{:?}",
            cloned.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
        for (path, bytes) in cloned {
            let sparse = server.get(&format!("main/index/{path}")).bytes().unwrap();
            assert_eq!(bytes, sparse.to_vec(), "{path}");
        }
    };
    // Straight from S3 (the bucket's public read policy), no server code.
    let (_dir, checkout) = clone(&git_url(&server, "main"));
    same_as_sparse(&checkout, 4);
    // A publish after the clone: a fetch brings it.
    assert!(upload(&server, &alice, "later", "1.0.0"));
    git(&checkout, &["fetch", "--quiet", "origin"]);
    git(&checkout, &["reset", "--quiet", "--hard", "origin/master"]);
    same_as_sparse(&checkout, 5);
}

/// Publishes racing through two processes on one store, each committing
/// and, past 4 loose objects, repacking: the clone afterwards holds every
/// crate, byte for byte as the sparse index, from packs and few loose
/// objects.
fn racing_publishes_and_repacks(first: &Server) {
    let second = first.start_beside();
    let token = first.token("alice");
    const WRITERS: usize = 24;
    let barrier = Barrier::new(WRITERS / 3);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS / 3)
            .map(|t| {
                let server = if t % 2 == 0 { first } else { &second };
                let (barrier, token) = (&barrier, &token);
                s.spawn(move || {
                    barrier.wait();
                    (0..3).all(|k| upload(server, token, &format!("pk{t}x{k}"), "1.0.0"))
                })
            })
            .collect();
        for handle in handles {
            assert!(handle.join().unwrap());
        }
    });
    // `serve` repacks after answering: the last repack may still run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let packs = first
            .get("main/git/objects/info/packs")
            .text()
            .unwrap_or_default();
        if packs.starts_with("P pack-") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was packed: {packs:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_dir, checkout) = clone(&git_url(first, "main"));
    let cloned = files_under(&checkout);
    assert_eq!(cloned.len(), WRITERS + 1, "{cloned:?}");
    for (path, bytes) in cloned {
        let sparse = first.get(&format!("main/index/{path}")).bytes().unwrap();
        assert_eq!(bytes, sparse.to_vec(), "{path}");
    }
    let counted = git(&checkout, &["count-objects", "-v"]);
    assert!(counted.contains("packs: "), "{counted}");
    assert!(
        !counted.contains("in-pack: 0\n"),
        "the clone took no pack: {counted}"
    );
}

#[test]
fn racing_publishes_repack_in_two_processes_and_lose_no_crate() {
    racing_publishes_and_repacks(&Server::start_with(&[("CRATEYARD_GIT_REPACK_LOOSE", "4")]));
}

#[test]
fn on_aws_racing_publishes_repack_and_lose_no_crate() {
    let endpoint = std::env::var("CRATEYARD_TEST_MOTO").expect("CRATEYARD_TEST_MOTO");
    racing_publishes_and_repacks(&Server::start_aws_with(
        &endpoint,
        &[("CRATEYARD_GIT_REPACK_LOOSE", "4")],
    ));
}

/// A reindex job on the AWS backend (its tasks run in the server, as the
/// reindex function runs them) ends by packing the git index: a clone
/// takes one pack.
#[test]
fn on_aws_a_reindex_job_ends_with_the_git_index_in_one_pack() {
    let server = Server::start_aws();
    let alice = server.token("alice");
    for name in ["a", "ab", "serde-like", "other"] {
        assert!(upload(&server, &alice, name, "1.0.0"), "{name}");
    }
    assert_ne!(
        server.get("main/git/objects/info/packs").status(),
        200,
        "nothing packed before the job"
    );
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token("root");
    let http = server.http();
    let started = http
        .post(format!("{}/main/api/v1/reindex", server.url))
        .header("Authorization", &root)
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.get("main/git/objects/info/packs").status() != 200 {
        assert!(std::time::Instant::now() < deadline, "never packed");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_dir, checkout) = clone(&git_url(&server, "main"));
    let cloned = files_under(&checkout);
    assert_eq!(cloned.len(), 5);
    for (path, bytes) in cloned {
        let sparse = server.get(&format!("main/index/{path}")).bytes().unwrap();
        assert_eq!(bytes, sparse.to_vec(), "{path}");
    }
    let counted = git(&checkout, &["count-objects", "-v"]);
    assert!(counted.contains("packs: 1\n"), "{counted}");
    // Only the commit stays loose: the tree came in the pack.
    assert!(counted.contains("count: 1\n"), "{counted}");
}

/// The files of a fresh clone of `repo`'s git index, by path.
fn cloned_files(server: &Server, repo: &str) -> Vec<(String, Vec<u8>)> {
    let (_dir, checkout) = clone(&git_url(server, repo));
    files_under(&checkout)
}

/// A file of `repo`'s sparse index, as cargo reads it (a remote or virtual
/// repository's fetched or chosen on the way).
fn sparse_file(server: &Server, repo: &str, path: &str) -> Vec<u8> {
    let answer = server.get(&format!("{repo}/index/{path}"));
    assert_eq!(answer.status(), 200, "{repo}/index/{path}");
    answer.bytes().unwrap().to_vec()
}

fn paths(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(p, _)| p.as_str()).collect()
}

#[test]
fn remote_and_virtual_repositories_have_git_indexes_of_what_they_serve() {
    // An upstream registry, and a downstream with a remote repository of
    // it (revalidated after 1 s) and a virtual one over main and it.
    let upstream = Server::start();
    let upstream_token = upstream.token("upstream-author");
    for (name, version) in [("leaf", "1.0.0"), ("leaf", "1.1.0"), ("outside", "1.0.0")] {
        assert!(upload(&upstream, &upstream_token, name, version));
    }
    let server = Server::start();
    let alice = server.token("alice");
    server.admin_ok(&[
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
    // Our own leaf, older than the upstream's: it is the one `all` serves.
    assert!(upload(&server, &alice, "leaf", "0.1.0"));
    server.admin_ok(&[
        "repo",
        "create",
        "all",
        "--kind",
        "virtual",
        "--members",
        "main,mirror",
    ]);
    // Nothing cached yet: the remote's git index holds its config.json,
    // the virtual one's main's crates.
    assert_eq!(paths(&cloned_files(&server, "mirror")), ["config.json"]);
    assert_eq!(
        paths(&cloned_files(&server, "all")),
        ["config.json", "le/af/leaf"]
    );

    // cargo reads through the sparse indexes: the remote caches two files.
    for path in ["le/af/leaf", "ou/ts/outside"] {
        sparse_file(&server, "mirror", path);
    }
    let cloned = cloned_files(&server, "mirror");
    assert_eq!(
        paths(&cloned),
        ["config.json", "le/af/leaf", "ou/ts/outside"]
    );
    for (path, bytes) in &cloned {
        assert_eq!(
            *bytes,
            sparse_file(&server, "mirror", path),
            "mirror {path}"
        );
    }
    // The virtual repository's: each crate as its sparse index serves it,
    // main's leaf and not the upstream's.
    let cloned = cloned_files(&server, "all");
    assert_eq!(
        paths(&cloned),
        ["config.json", "le/af/leaf", "ou/ts/outside"]
    );
    for (path, bytes) in &cloned {
        assert_eq!(*bytes, sparse_file(&server, "all", path), "all {path}");
    }
    let leaf = String::from_utf8(cloned[1].1.clone()).unwrap();
    assert!(
        leaf.contains("\"0.1.0\"") && !leaf.contains("\"1.1.0\""),
        "{leaf}"
    );

    // cargo through the virtual repository's git index.
    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\noutside = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    app.write(
        "src/lib.rs",
        "pub fn run() -> &'static str { outside::outside() }\n",
    );
    let cargo = Cargo::with_index(&git_url(&server, "all"), Some(&alice));
    let out = cargo_git_run(&cargo, app.path(), &["build"]);
    assert!(out.contains("Compiling outside v1.0.0"), "{out}");

    // The upstream moves on; the next read after revalidation caches the
    // new file, and both git indexes follow, as a fetch shows.
    let (_dir, checkout) = clone(&git_url(&server, "all"));
    assert!(upload(&upstream, &upstream_token, "outside", "1.1.0"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let fresh = sparse_file(&server, "mirror", "ou/ts/outside");
    assert!(String::from_utf8_lossy(&fresh).contains("\"1.1.0\""));
    git(&checkout, &["fetch", "--quiet", "origin"]);
    git(&checkout, &["reset", "--quiet", "--hard", "origin/master"]);
    assert_eq!(
        std::fs::read(checkout.join("ou/ts/outside")).unwrap(),
        fresh
    );
    // A publish to main reaches the virtual repository's git index too.
    assert!(upload(&server, &alice, "ours", "1.0.0"));
    git(&checkout, &["fetch", "--quiet", "origin"]);
    git(&checkout, &["reset", "--quiet", "--hard", "origin/master"]);
    assert_eq!(
        std::fs::read(checkout.join("ou/rs/ours")).unwrap(),
        sparse_file(&server, "all", "ou/rs/ours")
    );
}

#[test]
fn a_public_virtual_git_index_shows_no_private_members_crate() {
    let server = Server::start();
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    let root = server.token("root");
    let alice = server.token("alice");
    // Only admins may read `secret`.
    server.admin_ok(&["repo", "create", "secret", "--private"]);
    server.admin_ok(&["repo", "set", "secret", "--grant", "authenticated=none"]);
    // The private member's crate, and a public crate of the same name in
    // a later member: a public view must show neither.
    assert!(upload_to(&server, &root, "secret", "hidden", "1.0.0"));
    assert!(upload(&server, &alice, "hidden", "9.0.0"));
    assert!(upload(&server, &alice, "open", "1.0.0"));
    server.admin_ok(&[
        "repo",
        "create",
        "pub",
        "--kind",
        "virtual",
        "--members",
        "secret,main",
    ]);
    assert_eq!(
        paths(&cloned_files(&server, "pub")),
        ["config.json", "op/en/open"]
    );
    assert_eq!(server.get("pub/index/hi/dd/hidden").status(), 404);

    // Turned private, it shows every member's crates, to readers of them
    // all: anonymous git gets 401, and alice, who may read `pub` but not
    // its member `secret`, 404.
    server.admin_ok(&[
        "repo",
        "set",
        "pub",
        "--anonymous-read",
        "false",
        "--grant",
        "user:alice=read",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.get("pub/git/info/refs").status() != 401 {
        assert!(std::time::Instant::now() < deadline, "still public");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let refs_with = |token: &str| {
        server
            .http()
            .get(format!("{}/pub/git/info/refs", server.url))
            .header("Authorization", token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(refs_with(&alice), 404);
    assert_eq!(refs_with(&root), 200);
    // Her read of `pub`'s sparse index is allowed: only the git index,
    // which holds `secret`'s crates too, is refused.
    let config = server
        .http()
        .get(format!("{}/pub/index/config.json", server.url))
        .header("Authorization", &alice)
        .send()
        .unwrap();
    assert_eq!(config.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    git(
        dir.path(),
        &[
            "-c",
            &format!("http.extraHeader=Authorization: {root}"),
            "clone",
            "--quiet",
            &git_url(&server, "pub"),
            "index",
        ],
    );
    let cloned = files_under(&dir.path().join("index"));
    assert_eq!(
        paths(&cloned),
        ["config.json", "hi/dd/hidden", "op/en/open"]
    );
    let hidden = String::from_utf8(cloned[1].1.clone()).unwrap();
    assert!(
        hidden.contains("\"1.0.0\"") && !hidden.contains("9.0.0"),
        "{hidden}"
    );

    // Public again: the private view's objects and packs are gone, not
    // re-tagged public, and the tree is the public view again.
    let stored = |dir: &Path| -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(at) = pending.pop() {
            for entry in std::fs::read_dir(&at).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    found.push(path);
                }
            }
        }
        found
    };
    // Packs are named by their content: the public view's are others.
    let private_objects = stored(&server.object("pub/git/objects/pack"));
    assert!(!private_objects.is_empty());
    let hidden_blob = git(
        &dir.path().join("index"),
        &["rev-parse", "HEAD:hi/dd/hidden"],
    );
    let hidden_blob = hidden_blob.trim();
    server.admin_ok(&["repo", "set", "pub", "--anonymous-read", "true"]);
    for path in &private_objects {
        assert!(
            !path.exists(),
            "{} outlived the private view",
            path.display()
        );
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while server.get("pub/git/info/refs").status() != 200 {
        assert!(std::time::Instant::now() < deadline, "still private");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let loose = format!(
        "pub/git/objects/{}/{}",
        &hidden_blob[..2],
        &hidden_blob[2..]
    );
    assert_eq!(server.get(&loose).status(), 404);
    assert_eq!(
        paths(&cloned_files(&server, "pub")),
        ["config.json", "op/en/open"]
    );
}
