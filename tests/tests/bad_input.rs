//! Every bad request gets a 4xx with `{"errors":[{"detail"}]}` that says what
//! to fix, and leaves no object, row or index line behind.

use crateyard_e2e::{Server, error_detail, publish_body};
use crateyard_tarball::TarballBuilder;
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

fn manifest(name: &str, version: &str, extra: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n{extra}")
}

/// A well-formed `.crate` for `name` `version`.
fn good_crate(name: &str, version: &str, extra: &str) -> Vec<u8> {
    TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest(name, version, extra).as_bytes())
        .file("src/lib.rs", b"")
        .build()
}

fn metadata(name: &str, version: &str, deps: Value) -> Value {
    json!({ "name": name, "vers": version, "deps": deps, "features": {} })
}

struct Client<'a> {
    server: &'a Server,
    token: String,
}

impl Client<'_> {
    fn publish_raw(&self, body: Vec<u8>) -> (u16, String) {
        let res = self
            .server
            .http()
            .put(format!("{}/main/api/v1/crates/new", self.server.url))
            .header("Authorization", &self.token)
            .body(body)
            .send()
            .unwrap();
        (res.status().as_u16(), res.text().unwrap())
    }

    fn publish(&self, name: &str, version: &str, tarball: &[u8]) -> (u16, String) {
        self.publish_raw(publish_body(&metadata(name, version, json!([])), tarball))
    }

    fn upload(&self, path: &str, tarball: Vec<u8>) -> (u16, String) {
        let res = self
            .server
            .http()
            .put(format!("{}/main/crates/{path}", self.server.url))
            .header("Authorization", format!("Bearer {}", self.token))
            .body(tarball)
            .send()
            .unwrap();
        (res.status().as_u16(), res.text().unwrap())
    }
}

/// Asserts the status, that `detail` contains `expected`, and returns it.
#[track_caller]
fn rejected((status, body): (u16, String), want_status: u16, expected: &str) -> String {
    assert_eq!(status, want_status, "{body}");
    let detail = error_detail(&body);
    assert!(
        detail.contains(expected),
        "detail {detail:?} lacks {expected:?}"
    );
    detail
}

/// Nothing of `name` may exist: no `.crate`, no index file, no search hit.
#[track_caller]
fn nothing_stored(server: &Server, name: &str) {
    let dir = server.object(&format!("main/crates/{name}"));
    let files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        files.is_empty(),
        "left behind in {}: {files:?}",
        dir.display()
    );
    let index = crateyard_index::index_file_path(name);
    assert_eq!(
        server.get(&format!("main/index/{index}")).status(),
        404,
        "index file for {name}"
    );
    let hits: Value = server
        .get(&format!("main/api/v1/crates?q={name}"))
        .json()
        .unwrap();
    assert_eq!(hits["meta"]["total"], 0, "{hits}");
}

#[test]
fn bad_publish_frames_are_rejected() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    let full = publish_body(
        &metadata("framed", "1.0.0", json!([])),
        &good_crate("framed", "1.0.0", ""),
    );
    rejected(
        client.publish_raw(full[..2].to_vec()),
        400,
        "the body ends before the length of the metadata",
    );
    rejected(
        client.publish_raw(full[..full.len() - 1].to_vec()),
        400,
        "only",
    );
    let mut past_end = full.clone();
    past_end[0..4].copy_from_slice(&(u32::MAX).to_le_bytes());
    rejected(
        client.publish_raw(past_end),
        400,
        "is said to be 4294967295 bytes",
    );
    let mut bad_json = b"{oops".to_vec();
    bad_json.splice(0..0, 5u32.to_le_bytes());
    bad_json.extend(0u32.to_le_bytes());
    rejected(client.publish_raw(bad_json), 400, "not valid JSON");
    nothing_stored(&server, "framed");
}

#[test]
fn missing_or_invalid_tokens_are_rejected() {
    let server = Server::start();
    let body = publish_body(
        &metadata("tok", "1.0.0", json!([])),
        &good_crate("tok", "1.0.0", ""),
    );
    let url = format!("{}/main/api/v1/crates/new", server.url);
    let res = server.http().put(&url).body(body.clone()).send().unwrap();
    rejected(
        (res.status().as_u16(), res.text().unwrap()),
        401,
        "needs a token",
    );
    for token in ["cyd_0000", "Bearer nonsense", "Bearer "] {
        let res = server
            .http()
            .put(&url)
            .header("Authorization", token)
            .body(body.clone())
            .send()
            .unwrap();
        rejected(
            (res.status().as_u16(), res.text().unwrap()),
            401,
            "token is not valid",
        );
    }
    let res = server
        .http()
        .put(format!("{}/main/crates/tok/tok-1.0.0.crate", server.url))
        .body(good_crate("tok", "1.0.0", ""))
        .send()
        .unwrap();
    rejected(
        (res.status().as_u16(), res.text().unwrap()),
        401,
        "needs a token",
    );
    nothing_stored(&server, "tok");
}

#[test]
fn invalid_names_and_versions_are_rejected() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    rejected(
        client.publish("1abc", "1.0.0", &good_crate("1abc", "1.0.0", "")),
        400,
        "must start with an ASCII letter",
    );
    rejected(
        client.publish("a.b", "1.0.0", &good_crate("a.b", "1.0.0", "")),
        400,
        "`.` is not allowed",
    );
    rejected(
        client.publish("std", "1.0.0", &good_crate("std", "1.0.0", "")),
        400,
        "it is reserved",
    );
    rejected(
        client.publish("semverless", "1.0", &good_crate("semverless", "1.0", "")),
        400,
        "`1.0` is not a valid semver version",
    );
    nothing_stored(&server, "semverless");
}

#[test]
fn existing_versions_and_name_collisions_are_rejected() {
    let server = Server::start();
    let alice = Client {
        token: server.token("alice"),
        server: &server,
    };
    let bob = Client {
        token: server.token("bob"),
        server: &server,
    };
    assert_eq!(
        alice
            .publish("foo-bar", "1.0.0", &good_crate("foo-bar", "1.0.0", ""))
            .0,
        200
    );
    let before = std::fs::read(server.object("main/index/fo/o-/foo-bar")).unwrap();

    rejected(
        alice.publish(
            "foo-bar",
            "1.0.0",
            &good_crate("foo-bar", "1.0.0", "description = \"new\""),
        ),
        409,
        "version 1.0.0 already exists",
    );
    let detail = rejected(
        alice.publish(
            "foo-bar",
            "1.0.0+build.7",
            &good_crate("foo-bar", "1.0.0+build.7", ""),
        ),
        409,
        "already exists as 1.0.0",
    );
    assert!(detail.contains("build metadata"), "{detail}");
    rejected(
        bob.publish("Foo_bar", "2.0.0", &good_crate("Foo_bar", "2.0.0", "")),
        409,
        "publish it as `foo-bar`",
    );
    rejected(
        alice.publish("Foo_bar", "2.0.0", &good_crate("Foo_bar", "2.0.0", "")),
        409,
        "same crate as the existing `foo-bar`",
    );
    rejected(
        bob.publish("foo-bar", "2.0.0", &good_crate("foo-bar", "2.0.0", "")),
        403,
        "not an owner of crate `foo-bar`",
    );

    assert_eq!(
        std::fs::read(server.object("main/index/fo/o-/foo-bar")).unwrap(),
        before,
        "index unchanged"
    );
    let files: Vec<_> = std::fs::read_dir(server.object("main/crates/foo-bar"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["foo-bar-1.0.0.crate"]);
    assert!(!server.object("main/crates/Foo_bar").exists());
}

#[test]
fn metadata_must_match_the_tarball() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    // The tarball is `real`, the JSON claims otherwise.
    let tarball = good_crate("real", "1.0.0", "");
    rejected(
        client.publish_raw(publish_body(
            &metadata("fake", "1.0.0", json!([])),
            &tarball,
        )),
        400,
        "fake-1.0.0/",
    );
    let renamed = TarballBuilder::new("claimed-1.0.0")
        .file("Cargo.toml", manifest("other", "1.0.0", "").as_bytes())
        .build();
    rejected(
        client.publish_raw(publish_body(
            &metadata("claimed", "1.0.0", json!([])),
            &renamed,
        )),
        400,
        "other",
    );
    let reversioned = TarballBuilder::new("real-1.0.0")
        .file("Cargo.toml", manifest("real", "1.0.1", "").as_bytes())
        .build();
    rejected(
        client.publish_raw(publish_body(
            &metadata("real", "1.0.0", json!([])),
            &reversioned,
        )),
        400,
        "1.0.1",
    );
    let extra_dep = json!([{ "name": "serde", "version_req": "^1", "kind": "normal", "registry": "https://github.com/rust-lang/crates.io-index" }]);
    rejected(
        client.publish_raw(publish_body(
            &metadata("real", "1.0.0", extra_dep),
            &tarball,
        )),
        400,
        "dependency `serde` (normal, ^1) is in the metadata but not in Cargo.toml",
    );
    let with_dep = good_crate("real", "1.0.0", "[dependencies]\nserde = \"1\"\n");
    rejected(
        client.publish_raw(publish_body(
            &metadata("real", "1.0.0", json!([])),
            &with_dep,
        )),
        400,
        "dependency `serde` (normal, ^1) is in Cargo.toml but not in the metadata",
    );
    for name in ["real", "fake", "claimed", "other"] {
        nothing_stored(&server, name);
    }
}

#[test]
fn unsafe_tarball_entries_are_rejected() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    let base = || {
        TarballBuilder::new("evil-1.0.0")
            .file("Cargo.toml", manifest("evil", "1.0.0", "").as_bytes())
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            base().raw_file("elsewhere/x.rs", b"").build(),
            "elsewhere/x.rs",
        ),
        (base().raw_file("evil-1.0.0/../x.rs", b"").build(), ".."),
        (base().raw_file("/etc/passwd", b"").build(), "/etc/passwd"),
        (
            base().symlink("evil-1.0.0/link", "/etc/passwd").build(),
            "link",
        ),
        (
            base()
                .hardlink("evil-1.0.0/hard", "evil-1.0.0/Cargo.toml")
                .build(),
            "link",
        ),
        (
            base().char_device("evil-1.0.0/dev").build(),
            "evil-1.0.0/dev",
        ),
        (
            TarballBuilder::new("evil-1.0.0")
                .file("src/lib.rs", b"")
                .build(),
            "Cargo.toml",
        ),
        (
            base()
                .file("Cargo.toml", manifest("evil", "1.0.0", "").as_bytes())
                .build(),
            "Cargo.toml",
        ),
        (b"definitely not gzip".to_vec(), "gzip"),
    ];
    for (tarball, expected) in cases {
        rejected(client.publish("evil", "1.0.0", &tarball), 400, expected);
    }
    nothing_stored(&server, "evil");
}

#[test]
fn oversized_uploads_and_gzip_bombs_are_rejected() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    // Incompressible bytes, so the .crate itself is over 10 MiB.
    let mut noise = vec![0u8; 11 * MIB];
    let mut x: u32 = 1;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let big = TarballBuilder::new("big-1.0.0")
        .file("Cargo.toml", manifest("big", "1.0.0", "").as_bytes())
        .file("blob.bin", &noise)
        .build();
    assert!(big.len() > 10 * MIB);
    rejected(client.publish("big", "1.0.0", &big), 413, "limit");
    rejected(client.upload("big/big-1.0.0.crate", big), 413, "limit");
    // 600 MiB of zeros compresses to well under a MiB.
    let bomb = TarballBuilder::new("bomb-1.0.0")
        .file("Cargo.toml", manifest("bomb", "1.0.0", "").as_bytes())
        .zeros("zeros.bin", 600 * MIB as u64)
        .build();
    assert!(bomb.len() < 2 * MIB, "{}", bomb.len());
    rejected(client.publish("bomb", "1.0.0", &bomb), 413, "512 MiB");
    nothing_stored(&server, "big");
    nothing_stored(&server, "bomb");
}

#[test]
fn too_many_dependencies_or_features_are_rejected() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    let deps: String = (0..501).map(|i| format!("d{i} = \"1\"\n")).collect();
    let tarball = good_crate("deps", "1.0.0", &format!("[dependencies]\n{deps}"));
    rejected(client.upload("deps/deps-1.0.0.crate", tarball), 400, "500");
    let features: String = (0..301).map(|i| format!("f{i} = []\n")).collect();
    let tarball = good_crate("feats", "1.0.0", &format!("[features]\n{features}"));
    rejected(
        client.upload("feats/feats-1.0.0.crate", tarball),
        400,
        "300",
    );
    nothing_stored(&server, "deps");
    nothing_stored(&server, "feats");
}

#[test]
fn direct_upload_path_must_match_the_tarball() {
    let server = Server::start();
    let client = Client {
        token: server.token("alice"),
        server: &server,
    };
    let tarball = good_crate("direct", "1.0.0", "");
    rejected(
        client.upload("direct/direct-2.0.0.crate", tarball.clone()),
        400,
        "direct-2.0.0/",
    );
    rejected(
        client.upload("other/other-1.0.0.crate", tarball.clone()),
        400,
        "other-1.0.0/",
    );
    rejected(
        client.upload("direct/direct.tar.gz", tarball.clone()),
        400,
        "must end in `direct/direct-<version>.crate`",
    );
    nothing_stored(&server, "direct");
    nothing_stored(&server, "other");
    let (status, body) = client.upload("direct/direct-1.0.0.crate", tarball);
    assert_eq!(status, 201, "{body}");
}

#[test]
fn bad_search_parameters_get_the_error_shape() {
    let server = Server::start();
    let res = server.get("main/api/v1/crates?q=x&per_page=lots");
    rejected(
        (res.status().as_u16(), res.text().unwrap()),
        400,
        "`per_page` must be a whole number",
    );
    let res = server.get("nope/api/v1/crates?q=x");
    rejected(
        (res.status().as_u16(), res.text().unwrap()),
        404,
        "repository `nope` does not exist",
    );
}

#[test]
fn large_uploads_need_the_serverless_deployment() {
    let server = Server::start();
    let res = server
        .http()
        .post(format!("{}/main/api/v1/uploads", server.url))
        .header("Authorization", server.token("alice"))
        .body(r#"{"name": "big", "version": "1.0.0"}"#)
        .send()
        .unwrap();
    let detail = rejected(
        (res.status().as_u16(), res.text().unwrap()),
        501,
        "large uploads need the serverless deployment",
    );
    assert!(detail.contains("PUT /main/crates/"), "{detail}");
    let res = server
        .http()
        .get(format!("{}/main/api/v1/uploads/0123abcd", server.url))
        .header("Authorization", server.token("alice"))
        .send()
        .unwrap();
    assert_eq!(res.status().as_u16(), 501);
}
