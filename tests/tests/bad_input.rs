//! The catalogue of bad requests. Every case is one request the registry
//! must refuse: the exact status, the exact `errors[0].detail` sentence
//! (what cargo prints), and nothing changed: not an object of the store
//! (index files, `.crate`s, `config.json`, the web UI's data, staged
//! uploads; every key and its bytes) and not a row of the metadata store.
//!
//! The same list runs on local mode (a data directory and SQLite) and on
//! the AWS backend (S3 and DynamoDB on moto), one server each, the cases in
//! sequence, a snapshot of everything compared after each.

use crateyard_e2e::snapshot::{differences, snapshot};
use crateyard_e2e::{Server, publish_body};
use crateyard_tarball::TarballBuilder;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------
// The catalogue.

/// One bad request and how it must be answered.
struct Case {
    name: &'static str,
    request: Request,
    status: u16,
    detail: String,
}

fn case(name: &'static str, request: Request, status: u16, detail: &str) -> Case {
    Case {
        name,
        request,
        status,
        detail: detail.into(),
    }
}

/// A request to the server's own URL (the API; local mode's reads too).
struct Request {
    method: Method,
    path: String,
    auth: Auth,
    body: Vec<u8>,
}

/// Whose credentials a request carries.
#[derive(Clone, Copy)]
enum Auth {
    Anonymous,
    /// The token as cargo sends it, raw.
    Raw(Who),
    /// `Authorization: Bearer <token>`.
    Bearer(Who),
    /// This header value exactly.
    Header(&'static str),
}

/// The users and tokens of the warm-up (see [`World`]).
#[derive(Clone, Copy)]
enum Who {
    /// Owns `foo-bar` and `direct`.
    Alice,
    Bob,
    /// A registry admin.
    Root,
    /// Alice's token with only the `read` scope.
    AliceReadOnly,
    /// Alice's token limited to repository `other`.
    AliceOtherRepo,
    /// Alice's token limited to crates `zzz-*`.
    AliceZzzCrates,
    /// Alice's token, revoked.
    Revoked,
    /// Alice's token, expired.
    Expired,
}

use Auth::{Anonymous, Bearer, Header, Raw};
use Who::*;

fn request(method: Method, auth: Auth, path: &str, body: impl Into<Vec<u8>>) -> Request {
    Request {
        method,
        path: path.into(),
        auth,
        body: body.into(),
    }
}

fn get(auth: Auth, path: &str) -> Request {
    request(Method::GET, auth, path, Vec::new())
}

/// `cargo publish` to `main` with this body.
fn publish_frame(auth: Auth, body: Vec<u8>) -> Request {
    request(Method::PUT, auth, "/main/api/v1/crates/new", body)
}

/// `cargo publish` of `tarball`, the metadata claiming `name` `version`
/// and no dependencies.
fn publish(auth: Auth, name: &str, version: &str, tarball: &[u8]) -> Request {
    publish_frame(
        auth,
        publish_body(&metadata(name, version, json!([])), tarball),
    )
}

/// `cargo publish` of a crate whose Cargo.toml has `extra` after `[package]`'s
/// name, version and edition.
fn publish_manifest(name: &str, extra: &str) -> Request {
    publish(Raw(Alice), name, "1.0.0", &good_crate(name, "1.0.0", extra))
}

/// A direct upload: `PUT /main/crates/{path}`.
fn upload(auth: Auth, path: &str, tarball: Vec<u8>) -> Request {
    request(Method::PUT, auth, &format!("/main/crates/{path}"), tarball)
}

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

/// `evil-1.0.0` with a good Cargo.toml, to add bad entries to.
fn evil() -> TarballBuilder {
    TarballBuilder::new("evil-1.0.0").file("Cargo.toml", manifest("evil", "1.0.0", "").as_bytes())
}

/// Bytes that do not compress, so a `.crate` holding them is as large.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A `.crate` of 10.5 MiB: over the 10 MiB limit, within the publish
/// body's allowance for the metadata.
static OVER_LIMIT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let krate = TarballBuilder::new("big-1.0.0")
        .file("Cargo.toml", manifest("big", "1.0.0", "").as_bytes())
        .file("blob.bin", &noise(10 * MIB + MIB / 2))
        .build();
    assert!(krate.len() > 10 * MIB && krate.len() < 11 * MIB);
    krate
});

/// A `.crate` of 11.5 MiB: a publish body over the limit of any publish.
static FAR_OVER_LIMIT: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let krate = TarballBuilder::new("huge-1.0.0")
        .file("Cargo.toml", manifest("huge", "1.0.0", "").as_bytes())
        .file("blob.bin", &noise(11 * MIB + MIB / 2))
        .build();
    assert!(krate.len() > 11 * MIB);
    krate
});

/// 600 MiB of zeros, which compress to well under a MiB.
static GZIP_BOMB: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let bomb = TarballBuilder::new("bomb-1.0.0")
        .file("Cargo.toml", manifest("bomb", "1.0.0", "").as_bytes())
        .zeros("zeros.bin", 600 * MIB as u64)
        .build();
    assert!(bomb.len() < 2 * MIB, "{}", bomb.len());
    bomb
});

/// `n` TOML strings: `"x0", "x1", …`, each `len` characters at least.
fn strings(n: usize, len: usize) -> String {
    (0..n)
        .map(|i| format!("\"{:x<len$}\"", format!("x{i}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn cases(world: &World) -> Vec<Case> {
    let good = || good_crate("fresh", "1.0.0", "");
    let full_frame = publish_body(&metadata("framed", "1.0.0", json!([])), &good());
    let mut frame_past_end = full_frame.clone();
    frame_past_end[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut frame_trailing = full_frame.clone();
    frame_trailing.push(0);
    let json_only = |json: &[u8]| {
        let mut body = (json.len() as u32).to_le_bytes().to_vec();
        body.extend(json);
        body
    };
    let with_crate = |json: &[u8], tarball: &[u8]| {
        let mut body = json_only(json);
        body.extend((tarball.len() as u32).to_le_bytes());
        body.extend(tarball);
        body
    };
    let mut trailing_gzip = good_crate("evil", "1.0.0", "");
    trailing_gzip.extend(b"trailing");
    let real = good_crate("real", "1.0.0", "");
    let serde_dep = json!([{ "name": "serde", "version_req": "^1", "kind": "normal",
        "registry": "https://github.com/rust-lang/crates.io-index" }]);
    let long_version = format!("1.0.0-{}", "a".repeat(200));
    let big_toml = format!("# {}\n", "x".repeat(MIB));
    let deps: String = (0..501).map(|i| format!("d{i} = \"1\"\n")).collect();
    let features: String = (0..301).map(|i| format!("f{i} = []\n")).collect();
    let bob_id = &world.bob_id;
    let alice_id = &world.alice_id;

    vec![
        // Credentials.
        case(
            "publish_without_a_token",
            publish(Anonymous, "fresh", "1.0.0", &good()),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        case(
            "publish_without_a_token_nor_a_valid_frame",
            request(Method::PUT, Anonymous, "/main/api/v1/crates/new", "garbage"),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        case(
            "publish_with_an_unknown_token",
            publish(Header("cyd_0000"), "fresh", "1.0.0", &good()),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        case(
            "publish_with_a_bearer_of_nonsense",
            publish(Header("Bearer nonsense"), "fresh", "1.0.0", &good()),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        case(
            "publish_with_an_empty_bearer",
            publish(Header("Bearer "), "fresh", "1.0.0", &good()),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        case(
            "publish_with_a_revoked_token",
            publish(Raw(Revoked), "fresh", "1.0.0", &good()),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        case(
            "publish_with_an_expired_token",
            publish(Bearer(Expired), "fresh", "1.0.0", &good()),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        case(
            "publish_with_a_read_only_token",
            publish(Raw(AliceReadOnly), "fresh", "1.0.0", &good()),
            403,
            "this token lacks the `publish-new` scope; create one with `--scopes publish-new`",
        ),
        case(
            "publish_with_a_token_for_another_repository",
            publish(Raw(AliceOtherRepo), "fresh", "1.0.0", &good()),
            403,
            "this token is limited to the repositories [\"other\"]",
        ),
        case(
            "publish_with_a_token_for_other_crates",
            publish(Raw(AliceZzzCrates), "fresh", "1.0.0", &good()),
            403,
            "this token is limited to crates matching [\"zzz-*\"]",
        ),
        case(
            "direct_upload_without_a_token",
            upload(Anonymous, "fresh/fresh-1.0.0.crate", good()),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        // The publish frame.
        case(
            "frame_empty",
            publish_frame(Raw(Alice), Vec::new()),
            400,
            "invalid publish request: the body ends before the length of the metadata",
        ),
        case(
            "frame_shorter_than_a_length",
            publish_frame(Raw(Alice), full_frame[..2].to_vec()),
            400,
            "invalid publish request: the body ends before the length of the metadata",
        ),
        case(
            "frame_metadata_length_past_the_end",
            publish_frame(Raw(Alice), frame_past_end),
            400,
            "invalid publish request: the metadata is said to be 4294967295 bytes but only 235 follow",
        ),
        case(
            "frame_without_a_crate_length",
            publish_frame(
                Raw(Alice),
                json_only(br#"{"name":"framed","vers":"1.0.0"}"#),
            ),
            400,
            "invalid publish request: the body ends before the length of the .crate",
        ),
        case(
            "frame_crate_cut_short",
            publish_frame(Raw(Alice), full_frame[..full_frame.len() - 1].to_vec()),
            400,
            "invalid publish request: the .crate is said to be 175 bytes but only 174 follow",
        ),
        case(
            "frame_trailing_bytes",
            publish_frame(Raw(Alice), frame_trailing),
            400,
            "invalid publish request: 1 unexpected byte after the .crate; the body must end with it",
        ),
        case(
            "frame_metadata_not_json",
            publish_frame(Raw(Alice), with_crate(b"{oops", &good())),
            400,
            "invalid publish request: the metadata is not valid JSON: key must be a string at line 1 column 2",
        ),
        case(
            "frame_metadata_without_vers",
            publish_frame(Raw(Alice), with_crate(br#"{"name":"fresh"}"#, &good())),
            400,
            "invalid publish request: the metadata is JSON but not cargo's publish metadata: missing field `vers` at line 1 column 16",
        ),
        case(
            "frame_metadata_deps_not_a_list",
            publish_frame(
                Raw(Alice),
                with_crate(br#"{"name":"fresh","vers":"1.0.0","deps":5}"#, &good()),
            ),
            400,
            "invalid publish request: the metadata is JSON but not cargo's publish metadata: invalid type: integer `5`, expected a sequence at line 1 column 39",
        ),
        // Names and versions.
        case(
            "name_starting_with_a_digit",
            publish(
                Raw(Alice),
                "1abc",
                "1.0.0",
                &good_crate("1abc", "1.0.0", ""),
            ),
            400,
            "`1abc` is not a valid crate name: it must start with an ASCII letter",
        ),
        case(
            "name_with_a_dot",
            publish(Raw(Alice), "a.b", "1.0.0", &good_crate("a.b", "1.0.0", "")),
            400,
            "`a.b` is not a valid crate name: `.` is not allowed; use only ASCII letters, digits, `-` and `_`",
        ),
        case(
            "name_not_ascii",
            publish(
                Raw(Alice),
                "café",
                "1.0.0",
                &good_crate("café", "1.0.0", ""),
            ),
            400,
            "`café` is not a valid crate name: `é` is not allowed; use only ASCII letters, digits, `-` and `_`",
        ),
        case(
            "name_empty",
            publish(Raw(Alice), "", "1.0.0", &good_crate("", "1.0.0", "")),
            400,
            "`` is not a valid crate name: it is empty",
        ),
        case(
            "name_too_long",
            publish(Raw(Alice), &"x".repeat(65), "1.0.0", &good()),
            400,
            "`xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx` is not a valid crate name: it is longer than 64 characters",
        ),
        case(
            "name_reserved_std",
            publish(Raw(Alice), "std", "1.0.0", &good_crate("std", "1.0.0", "")),
            400,
            "`std` is not a valid crate name: it is reserved",
        ),
        case(
            "name_reserved_windows_device",
            publish(Raw(Alice), "Nul", "1.0.0", &good_crate("Nul", "1.0.0", "")),
            400,
            "`Nul` is not a valid crate name: it is reserved",
        ),
        case(
            "version_not_semver",
            publish(Raw(Alice), "fresh", "1.0", &good_crate("fresh", "1.0", "")),
            400,
            "`1.0` is not a valid semver version: unexpected end of input while parsing minor version number",
        ),
        case(
            "version_with_a_v",
            publish(Raw(Alice), "fresh", "v1.0.0", &good()),
            400,
            "`v1.0.0` is not a valid semver version: unexpected character 'v' while parsing major version number",
        ),
        case(
            "version_with_a_leading_zero",
            publish(Raw(Alice), "fresh", "01.0.0", &good()),
            400,
            "`01.0.0` is not a valid semver version: invalid leading zero in major version number",
        ),
        case(
            "version_too_long",
            publish(Raw(Alice), "fresh", &long_version, &good()),
            400,
            "`1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaa…` is not a valid semver version: it is longer than 128 characters",
        ),
        // The existing crate `foo-bar` 1.0.0, Alice's.
        case(
            "version_exists",
            publish(
                Raw(Alice),
                "foo-bar",
                "1.0.0",
                &good_crate("foo-bar", "1.0.0", "description = \"new\""),
            ),
            409,
            "crate `foo-bar` version 1.0.0 already exists",
        ),
        case(
            "version_exists_with_other_build_metadata",
            publish(
                Raw(Alice),
                "foo-bar",
                "1.0.0+build.7",
                &good_crate("foo-bar", "1.0.0+build.7", ""),
            ),
            409,
            "crate `foo-bar` version 1.0.0+build.7 already exists as 1.0.0 (versions differing only in build metadata are the same version)",
        ),
        case(
            "name_collision_by_a_stranger",
            publish(
                Raw(Bob),
                "Foo_bar",
                "2.0.0",
                &good_crate("Foo_bar", "2.0.0", ""),
            ),
            409,
            "crate `Foo_bar` would be the same crate as the existing `foo-bar` (names differing only in case or `-`/`_` are one crate); publish it as `foo-bar`",
        ),
        case(
            "name_collision_by_the_owner",
            publish(
                Raw(Alice),
                "Foo_bar",
                "2.0.0",
                &good_crate("Foo_bar", "2.0.0", ""),
            ),
            409,
            "crate `Foo_bar` would be the same crate as the existing `foo-bar` (names differing only in case or `-`/`_` are one crate); publish it as `foo-bar`",
        ),
        case(
            "new_version_by_a_stranger",
            publish(
                Raw(Bob),
                "foo-bar",
                "2.0.0",
                &good_crate("foo-bar", "2.0.0", ""),
            ),
            403,
            "you (`bob`) are not an owner of crate `foo-bar`; an owner can add you with `cargo owner --add bob`",
        ),
        // The metadata against the tarball.
        case(
            "metadata_names_another_crate_than_the_tarball",
            publish(Raw(Alice), "fake", "1.0.0", &real),
            400,
            "`real-1.0.0/Cargo.toml` is outside the `fake-1.0.0/` directory; a .crate may only contain files under it",
        ),
        case(
            "manifest_names_another_crate",
            publish(
                Raw(Alice),
                "claimed",
                "1.0.0",
                &TarballBuilder::new("claimed-1.0.0")
                    .file("Cargo.toml", manifest("other", "1.0.0", "").as_bytes())
                    .build(),
            ),
            400,
            "Cargo.toml says name `other` but the upload is for `claimed`",
        ),
        case(
            "manifest_has_another_version",
            publish(
                Raw(Alice),
                "real",
                "1.0.0",
                &TarballBuilder::new("real-1.0.0")
                    .file("Cargo.toml", manifest("real", "1.0.1", "").as_bytes())
                    .build(),
            ),
            400,
            "Cargo.toml says version 1.0.1 but the upload is for 1.0.0",
        ),
        case(
            "metadata_dependency_missing_from_the_manifest",
            publish_frame(
                Raw(Alice),
                publish_body(&metadata("real", "1.0.0", serde_dep), &real),
            ),
            400,
            "the publish metadata does not match the .crate's Cargo.toml: dependency `serde` (normal, ^1) is in the metadata but not in Cargo.toml",
        ),
        case(
            "manifest_dependency_missing_from_the_metadata",
            publish(
                Raw(Alice),
                "real",
                "1.0.0",
                &good_crate("real", "1.0.0", "[dependencies]\nserde = \"1\"\n"),
            ),
            400,
            "the publish metadata does not match the .crate's Cargo.toml: dependency `serde` (normal, ^1) is in Cargo.toml but not in the metadata",
        ),
        case(
            "metadata_dependency_with_a_bad_requirement",
            publish_frame(
                Raw(Alice),
                publish_body(
                    &metadata(
                        "real",
                        "1.0.0",
                        json!([{ "name": "serde", "version_req": "one", "kind": "normal" }]),
                    ),
                    &real,
                ),
            ),
            400,
            "dependency `serde` has an invalid version requirement `one`: unexpected character 'o' while parsing major version number",
        ),
        case(
            "metadata_dependency_of_an_unknown_kind",
            publish_frame(
                Raw(Alice),
                publish_body(
                    &metadata(
                        "real",
                        "1.0.0",
                        json!([{ "name": "serde", "version_req": "^1", "kind": "peer" }]),
                    ),
                    &real,
                ),
            ),
            400,
            "dependency `serde` has an unknown kind `peer`; cargo sends `normal`, `dev` or `build`",
        ),
        // Tarball entries.
        case(
            "entry_outside_the_top_directory",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().raw_file("elsewhere/x.rs", b"").build(),
            ),
            400,
            "`elsewhere/x.rs` is outside the `evil-1.0.0/` directory; a .crate may only contain files under it",
        ),
        case(
            "entry_with_a_parent_component",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().raw_file("evil-1.0.0/../x.rs", b"").build(),
            ),
            400,
            "`evil-1.0.0/../x.rs` leaves the `evil-1.0.0/` directory; a .crate may only contain files under it",
        ),
        case(
            "entry_with_an_absolute_path",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().raw_file("/etc/passwd", b"").build(),
            ),
            400,
            "`/etc/passwd` is an absolute path; a .crate may only contain files under the `evil-1.0.0/` directory",
        ),
        case(
            "entry_with_an_empty_component",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().raw_file("evil-1.0.0//x.rs", b"").build(),
            ),
            400,
            "`evil-1.0.0//x.rs` has an empty or `.` path component; a .crate may only contain plain relative paths",
        ),
        case(
            "entry_symlink",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().symlink("evil-1.0.0/link", "/etc/passwd").build(),
            ),
            400,
            "`evil-1.0.0/link` is a symbolic link; links are not allowed in a .crate",
        ),
        case(
            "entry_hard_link",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil()
                    .hardlink("evil-1.0.0/hard", "evil-1.0.0/Cargo.toml")
                    .build(),
            ),
            400,
            "`evil-1.0.0/hard` is a hard link; links are not allowed in a .crate",
        ),
        case(
            "entry_character_device",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().char_device("evil-1.0.0/dev").build(),
            ),
            400,
            "`evil-1.0.0/dev` is a character device; a .crate may only contain regular files and directories",
        ),
        case(
            "entry_fifo",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil().fifo("evil-1.0.0/pipe").build(),
            ),
            400,
            "`evil-1.0.0/pipe` is a named pipe; a .crate may only contain regular files and directories",
        ),
        case(
            "manifest_missing",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &TarballBuilder::new("evil-1.0.0")
                    .file("src/lib.rs", b"")
                    .build(),
            ),
            400,
            "the .crate has no `evil-1.0.0/Cargo.toml`",
        ),
        case(
            "manifest_twice",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &evil()
                    .file("CARGO.toml", manifest("evil", "1.0.0", "").as_bytes())
                    .build(),
            ),
            400,
            "the .crate has more than one `evil-1.0.0/Cargo.toml` (names compared ignoring case); it must have exactly one",
        ),
        case(
            "manifest_not_toml",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &TarballBuilder::new("evil-1.0.0")
                    .file("Cargo.toml", b"[package\n")
                    .build(),
            ),
            400,
            "the Cargo.toml in the .crate is invalid: line 1: unclosed table, expected `]`",
        ),
        case(
            "manifest_over_a_mib",
            publish_manifest("evil", &big_toml),
            400,
            "`evil-1.0.0/Cargo.toml` is larger than 1 MiB; a Cargo.toml may be at most 1 MiB",
        ),
        case(
            "not_gzip",
            publish(Raw(Alice), "evil", "1.0.0", b"definitely not gzip"),
            400,
            "the .crate is not a gzip-compressed tar archive: invalid gzip header",
        ),
        case(
            "gzip_but_not_tar",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &gzip(b"definitely not a tar archive"),
            ),
            400,
            "the .crate is not a gzip-compressed tar archive: failed to read entire block",
        ),
        case(
            "data_after_the_gzip_stream",
            publish(Raw(Alice), "evil", "1.0.0", &trailing_gzip),
            400,
            "the .crate is not a gzip-compressed tar archive: 8 bytes follow the gzip stream; a .crate is exactly one gzip stream",
        ),
        case(
            "gzip_stream_cut_short",
            publish(
                Raw(Alice),
                "evil",
                "1.0.0",
                &good_crate("evil", "1.0.0", "")[..40],
            ),
            400,
            "the .crate is not a gzip-compressed tar archive: incomplete deflate stream",
        ),
        // Sizes.
        case(
            "crate_over_10_mib",
            publish(Raw(Alice), "big", "1.0.0", &OVER_LIMIT),
            413,
            "the upload is 11012083 bytes, over the 10485760-byte limit",
        ),
        case(
            "publish_body_over_the_limit",
            publish(Raw(Alice), "huge", "1.0.0", &FAR_OVER_LIMIT),
            413,
            "the upload is 12060894 bytes, over the 11534336-byte limit",
        ),
        case(
            "direct_upload_over_10_mib",
            upload(Raw(Alice), "big/big-1.0.0.crate", OVER_LIMIT.clone()),
            413,
            "the upload is 11012083 bytes, over the 10485760-byte limit",
        ),
        case(
            "gzip_bomb",
            publish(Raw(Alice), "bomb", "1.0.0", &GZIP_BOMB),
            413,
            "the .crate unpacks to more than 512 MiB; remove large files from the package (see `cargo package --list`)",
        ),
        // Manifest bounds (functions/tarball/src/bounds.rs and the limits).
        case(
            "too_many_dependencies",
            publish_manifest("deps", &format!("[dependencies]\n{deps}")),
            400,
            "the crate declares 501 dependencies; at most 500 are allowed",
        ),
        case(
            "too_many_features",
            publish_manifest("feats", &format!("[features]\n{features}")),
            400,
            "the crate declares 301 features; at most 300 are allowed",
        ),
        case(
            "feature_with_too_many_entries",
            publish_manifest(
                "feats",
                &format!("[features]\nall = [{}]\n", strings(301, 2)),
            ),
            400,
            "feature `all` lists 301 entries; at most 300 are allowed",
        ),
        case(
            "feature_name_too_long",
            publish_manifest("feats", &format!("[features]\n{} = []\n", "f".repeat(101))),
            400,
            "a feature name in Cargo.toml is longer than 100 characters",
        ),
        case(
            "feature_entry_too_long",
            publish_manifest(
                "feats",
                &format!("[features]\nx = [\"{}\"]\n", "f".repeat(201)),
            ),
            400,
            "an entry of feature `x` in Cargo.toml is longer than 200 characters",
        ),
        case(
            "too_many_keywords",
            publish_manifest("bounded", &format!("keywords = [{}]\n", strings(6, 2))),
            400,
            "`keywords` in Cargo.toml has 6 entries; at most 5 are allowed",
        ),
        case(
            "keyword_too_long",
            publish_manifest("bounded", &format!("keywords = [{}]\n", strings(1, 21))),
            400,
            "an entry of `keywords` in Cargo.toml is longer than 20 characters",
        ),
        case(
            "too_many_categories",
            publish_manifest("bounded", &format!("categories = [{}]\n", strings(6, 2))),
            400,
            "`categories` in Cargo.toml has 6 entries; at most 5 are allowed",
        ),
        case(
            "category_too_long",
            publish_manifest("bounded", &format!("categories = [{}]\n", strings(1, 101))),
            400,
            "an entry of `categories` in Cargo.toml is longer than 100 characters",
        ),
        case(
            "too_many_authors",
            publish_manifest("bounded", &format!("authors = [{}]\n", strings(101, 2))),
            400,
            "`authors` in Cargo.toml has 101 entries; at most 100 are allowed",
        ),
        case(
            "author_too_long",
            publish_manifest("bounded", &format!("authors = [{}]\n", strings(1, 257))),
            400,
            "an entry of `authors` in Cargo.toml is longer than 256 characters",
        ),
        case(
            "links_too_long",
            publish_manifest("bounded", &format!("links = \"{}\"\n", "l".repeat(65))),
            400,
            "`links` in Cargo.toml is longer than 64 characters",
        ),
        case(
            "description_too_long",
            publish_manifest(
                "bounded",
                &format!("description = \"{}\"\n", "d".repeat(4097)),
            ),
            400,
            "`description` in Cargo.toml is longer than 4096 characters",
        ),
        case(
            "repository_url_too_long",
            publish_manifest(
                "bounded",
                &format!(
                    "repository = \"https://example.com/{}\"\n",
                    "r".repeat(1024)
                ),
            ),
            400,
            "`repository` in Cargo.toml is longer than 1024 characters",
        ),
        case(
            "dependency_without_a_version",
            publish_manifest(
                "bounded",
                "[dependencies]\nlocal = { path = \"../local\" }\n",
            ),
            400,
            "dependency `local` has no version requirement; every dependency of a published crate needs one",
        ),
        case(
            "dependency_with_a_bad_requirement",
            publish_manifest("bounded", "[dependencies]\nserde = \"one\"\n"),
            400,
            "dependency `serde` has an invalid version requirement `one`: unexpected character 'o' while parsing major version number",
        ),
        case(
            "dependency_with_a_bad_name",
            publish_manifest("bounded", "[dependencies]\n\"a.b\" = \"1\"\n"),
            400,
            "dependency `a.b`: `a.b` is not a valid crate name: `.` is not allowed; use only ASCII letters, digits, `-` and `_`",
        ),
        // Direct uploads: the path against the tarball.
        case(
            "upload_path_with_another_version",
            upload(
                Raw(Alice),
                "direct/direct-2.0.0.crate",
                good_crate("direct", "1.0.0", ""),
            ),
            400,
            "`direct-1.0.0/Cargo.toml` is outside the `direct-2.0.0/` directory; a .crate may only contain files under it",
        ),
        case(
            "upload_path_with_another_name",
            upload(
                Raw(Alice),
                "other/other-1.0.0.crate",
                good_crate("direct", "1.0.0", ""),
            ),
            400,
            "`direct-1.0.0/Cargo.toml` is outside the `other-1.0.0/` directory; a .crate may only contain files under it",
        ),
        case(
            "upload_path_not_a_crate_file",
            upload(
                Raw(Alice),
                "direct/direct.tar.gz",
                good_crate("direct", "1.0.0", ""),
            ),
            400,
            "the upload path must end in `direct/direct-<version>.crate`, not `direct/direct.tar.gz`",
        ),
        case(
            "upload_path_with_a_bad_name",
            upload(
                Raw(Alice),
                "1abc/1abc-1.0.0.crate",
                good_crate("1abc", "1.0.0", ""),
            ),
            400,
            "`1abc` is not a valid crate name: it must start with an ASCII letter",
        ),
        case(
            "upload_of_an_existing_version",
            upload(
                Bearer(Alice),
                "direct/direct-1.0.0.crate",
                good_crate("direct", "1.0.0", ""),
            ),
            409,
            "crate `direct` version 1.0.0 already exists",
        ),
        // Repositories named in URLs.
        case(
            "publish_to_an_unknown_repository",
            request(
                Method::PUT,
                Raw(Alice),
                "/nope/api/v1/crates/new",
                publish_body(&metadata("fresh", "1.0.0", json!([])), &good()),
            ),
            404,
            "repository `nope` does not exist",
        ),
        case(
            "publish_to_a_remote_repository",
            request(
                Method::PUT,
                Raw(Alice),
                "/mirror/api/v1/crates/new",
                publish_body(&metadata("fresh", "1.0.0", json!([])), &good()),
            ),
            400,
            "repository `mirror` is a read-only cache of http://127.0.0.1:9/index/; publish to a local repository",
        ),
        case(
            "publish_to_a_virtual_repository_without_a_local_member",
            request(
                Method::PUT,
                Raw(Alice),
                "/virt/api/v1/crates/new",
                publish_body(&metadata("fresh", "1.0.0", json!([])), &good()),
            ),
            400,
            "virtual repository `virt` has no local member to publish to (its members are read-only caches); publish to a local repository, or to a virtual one created with a local member (`crateyard repo create NAME --kind virtual --members LOCAL,…`)",
        ),
        case(
            "search_in_a_repository_named_with_non_ascii",
            get(Anonymous, "/caf%C3%A9/api/v1/crates?q=x"),
            404,
            "repository `café` does not exist",
        ),
        // Search parameters.
        case(
            "search_per_page_not_a_number",
            get(Anonymous, "/main/api/v1/crates?q=x&per_page=lots"),
            400,
            "`per_page` must be a whole number, not `lots`",
        ),
        case(
            "search_per_page_negative",
            get(Anonymous, "/main/api/v1/crates?q=x&per_page=-1"),
            400,
            "`per_page` must be a whole number, not `-1`",
        ),
        case(
            "search_query_given_twice",
            get(Anonymous, "/main/api/v1/crates?q=x&q=y"),
            400,
            "Failed to deserialize query string: duplicate field `q`",
        ),
        case(
            "search_in_an_unknown_repository",
            get(Anonymous, "/nope/api/v1/crates?q=x"),
            404,
            "repository `nope` does not exist",
        ),
        // Owners.
        case(
            "owners_of_a_missing_crate",
            get(Anonymous, "/main/api/v1/crates/nothing/owners"),
            404,
            "crate `nothing` does not exist in this registry",
        ),
        case(
            "owner_added_to_a_missing_crate",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/nothing/owners",
                r#"{"users":["bob"]}"#,
            ),
            404,
            "crate `nothing` does not exist in this registry",
        ),
        case(
            "owner_added_by_a_stranger",
            request(
                Method::PUT,
                Raw(Bob),
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":["bob"]}"#,
            ),
            403,
            "you (`bob`) are not an owner of crate `foo-bar`; an owner can add you with `cargo owner --add bob`",
        ),
        case(
            "owner_added_who_does_not_exist",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":["ghost"]}"#,
            ),
            404,
            "user `ghost` does not exist; create it with `crateyard user set ghost` or `crateyard token create --user ghost`",
        ),
        case(
            "owner_removed_who_does_not_own",
            request(
                Method::DELETE,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":["bob"]}"#,
            ),
            400,
            "`bob` does not own crate `foo-bar`; its owners are: alice",
        ),
        case(
            "last_owner_removed",
            request(
                Method::DELETE,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":["alice"]}"#,
            ),
            400,
            "crate `foo-bar` must keep at least one owner; add the new owner before removing the last one",
        ),
        case(
            "owners_change_naming_nobody",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":[]}"#,
            ),
            400,
            "the request names no one: list at least one login or `group:NAME` in `users`",
        ),
        case(
            "owners_change_not_json",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                "bob",
            ),
            400,
            "expected {\"users\": [\"login\", …]}: expected value at line 1 column 1",
        ),
        case(
            "owners_change_naming_too_many",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/owners",
                json!({ "users": vec!["bob"; 101] }).to_string(),
            ),
            400,
            "the request names 101 owners; change at most 100 at once",
        ),
        case(
            "owners_change_without_a_token_nor_a_valid_body",
            request(
                Method::PUT,
                Anonymous,
                "/main/api/v1/crates/foo-bar/owners",
                "bob",
            ),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        case(
            "owners_change_without_a_token",
            request(
                Method::PUT,
                Anonymous,
                "/main/api/v1/crates/foo-bar/owners",
                r#"{"users":["bob"]}"#,
            ),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        // Yank.
        case(
            "yank_of_a_missing_version",
            request(
                Method::DELETE,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/9.9.9/yank",
                Vec::new(),
            ),
            404,
            "crate `foo-bar` has no version 9.9.9",
        ),
        case(
            "unyank_of_a_missing_version",
            request(
                Method::PUT,
                Raw(Alice),
                "/main/api/v1/crates/foo-bar/9.9.9/unyank",
                Vec::new(),
            ),
            404,
            "crate `foo-bar` has no version 9.9.9",
        ),
        case(
            "yank_of_a_missing_crate",
            request(
                Method::DELETE,
                Raw(Alice),
                "/main/api/v1/crates/nothing/1.0.0/yank",
                Vec::new(),
            ),
            404,
            "crate `nothing` does not exist in this registry",
        ),
        case(
            "yank_by_a_stranger",
            request(
                Method::DELETE,
                Raw(Bob),
                "/main/api/v1/crates/foo-bar/1.0.0/yank",
                Vec::new(),
            ),
            403,
            "you (`bob`) are not an owner of crate `foo-bar`; an owner can add you with `cargo owner --add bob`",
        ),
        case(
            "yank_of_an_invalid_name",
            request(
                Method::DELETE,
                Raw(Alice),
                "/main/api/v1/crates/a.b/1.0.0/yank",
                Vec::new(),
            ),
            404,
            "crate `a.b` does not exist in this registry",
        ),
        // Routes.
        case(
            "unknown_route",
            get(Anonymous, "/main/api/v1/nothing"),
            404,
            "there is nothing at this URL; the README's URL table lists the registry's endpoints",
        ),
        case(
            "unknown_api_version",
            get(Raw(Alice), "/api/v2/tokens"),
            404,
            "there is nothing at this URL; the README's URL table lists the registry's endpoints",
        ),
        case(
            "publish_with_the_wrong_method",
            request(
                Method::POST,
                Raw(Alice),
                "/main/api/v1/crates/new",
                publish_body(&metadata("fresh", "1.0.0", json!([])), &good()),
            ),
            405,
            "this URL does not take that method; the `Allow` header and the README's URL table say which it takes",
        ),
        case(
            "path_segment_not_utf8",
            get(Anonymous, "/main/api/v1/crates/%FF/owners"),
            400,
            "Invalid URL: Invalid UTF-8 in `name`",
        ),
        // Large uploads (the serverless deployment's; not this server's).
        case(
            "large_upload_url_here",
            request(
                Method::POST,
                Raw(Alice),
                "/main/api/v1/uploads",
                r#"{"name": "big", "version": "1.0.0"}"#,
            ),
            501,
            "large uploads need the serverless deployment (S3 presigned URLs and the indexer function); here use `cargo publish`, or `PUT /main/crates/<name>/<name>-<version>.crate` with the .crate as the body",
        ),
        case(
            "large_upload_status_here",
            get(Raw(Alice), "/main/api/v1/uploads/0123abcd"),
            501,
            "large uploads need the serverless deployment (S3 presigned URLs and the indexer function); here use `cargo publish`, or `PUT /main/crates/<name>/<name>-<version>.crate` with the .crate as the body",
        ),
        case(
            "large_upload_url_without_a_token",
            request(Method::POST, Anonymous, "/main/api/v1/uploads", "{}"),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        // Tokens over the API.
        case(
            "token_request_not_json",
            request(Method::POST, Raw(Alice), "/api/v1/tokens", "{"),
            400,
            "expected {\"name\", \"user\"?, \"scopes\"?, \"crates\"?, \"repos\"?, \"expires\"?}: EOF while parsing an object at line 1 column 1",
        ),
        case(
            "token_request_with_an_unknown_field",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","admin":true}"#,
            ),
            400,
            "expected {\"name\", \"user\"?, \"scopes\"?, \"crates\"?, \"repos\"?, \"expires\"?}: unknown field `admin`, expected one of `user`, `name`, `scopes`, `crates`, `repos`, `expires` at line 1 column 20",
        ),
        case(
            "token_lifetime_unreadable",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","expires":"forever"}"#,
            ),
            400,
            "`forever` is not a lifetime: write a positive number and a unit, like `90s`, `15m`, `12h` or `30d`",
        ),
        case(
            "token_lifetime_zero",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","expires":"0d"}"#,
            ),
            400,
            "`0d` is not a lifetime: write a positive number and a unit, like `90s`, `15m`, `12h` or `30d`",
        ),
        case(
            "token_without_scopes",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","scopes":[]}"#,
            ),
            400,
            "a token needs at least one scope; leave scopes out for all of its user's",
        ),
        case(
            "token_with_an_unknown_scope",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","scopes":["publish"]}"#,
            ),
            400,
            "expected {\"name\", \"user\"?, \"scopes\"?, \"crates\"?, \"repos\"?, \"expires\"?}: unknown variant `publish`, expected one of `read`, `publish-new`, `publish-update`, `yank`, `change-owners`, `manage-owners`, `admin` at line 1 column 32",
        ),
        case(
            "token_with_a_bad_crate_pattern",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","crates":["a.b"]}"#,
            ),
            400,
            "crate patterns are crate names with `*` wildcards, at most 32: [\"a.b\"]",
        ),
        case(
            "token_for_an_unknown_repository",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","repos":["nope"]}"#,
            ),
            404,
            "repository `nope` does not exist",
        ),
        case(
            "token_for_another_user",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                r#"{"name":"ci","user":"bob"}"#,
            ),
            403,
            "you (`alice`) are not a registry admin",
        ),
        case(
            "token_wider_than_its_minter",
            request(
                Method::POST,
                Raw(AliceReadOnly),
                "/api/v1/tokens",
                r#"{"name":"ci","scopes":["read","yank"]}"#,
            ),
            403,
            "this token's scopes are `read`; a token it creates may have only those: name them with `scopes`",
        ),
        case(
            "token_for_an_invalid_user_name",
            request(
                Method::POST,
                Raw(Root),
                "/api/v1/tokens",
                r#"{"name":"ci","user":"a b"}"#,
            ),
            400,
            "`a b` is not a valid user name: use letters, digits, `-`, `_`, `.` and `@`",
        ),
        case(
            "token_request_too_large",
            request(
                Method::POST,
                Raw(Alice),
                "/api/v1/tokens",
                format!(r#"{{"name":"{}"}}"#, "n".repeat(17 * 1024)),
            ),
            413,
            "the upload is 17419 bytes, over the 16384-byte limit",
        ),
        case(
            "token_revoked_by_a_short_id",
            request(Method::DELETE, Raw(Alice), "/api/v1/tokens/abc", Vec::new()),
            400,
            "no token has the id `abc`",
        ),
        case(
            "token_of_another_user_revoked",
            request(
                Method::DELETE,
                Raw(Alice),
                &format!("/api/v1/tokens/{bob_id}"),
                Vec::new(),
            ),
            400,
            &format!("no token has the id `{bob_id}`"),
        ),
        case(
            "token_revoked_by_a_limited_token",
            request(
                Method::DELETE,
                Raw(AliceReadOnly),
                &format!("/api/v1/tokens/{alice_id}"),
                Vec::new(),
            ),
            403,
            "this token has limits (scopes, crates or repositories); list and revoke tokens with a token without limits",
        ),
        case(
            "tokens_of_another_user_listed",
            get(Raw(Alice), "/api/v1/tokens?user=bob"),
            403,
            "you (`alice`) are not a registry admin",
        ),
        case(
            "tokens_listed_by_a_limited_token",
            get(Raw(AliceReadOnly), "/api/v1/tokens"),
            403,
            "this token has limits (scopes, crates or repositories); list and revoke tokens with a token without limits",
        ),
        case(
            "me_with_a_revoked_token",
            get(Raw(Revoked), "/api/v1/me"),
            401,
            "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`",
        ),
        // Registry administration.
        case(
            "users_listed_by_a_non_admin",
            get(Raw(Alice), "/api/v1/users"),
            403,
            "you (`alice`) are not a registry admin",
        ),
        case(
            "repositories_listed_without_a_token",
            get(Anonymous, "/api/v1/repos"),
            401,
            "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`",
        ),
        case(
            "user_change_not_json",
            request(Method::PUT, Raw(Root), "/api/v1/users/dave", "{"),
            400,
            "expected {\"admin\"?: bool, \"groups\"?: [\"name\", …]}: EOF while parsing an object at line 1 column 1",
        ),
        case(
            "user_change_with_a_wrong_type",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/users/dave",
                r#"{"admin":"yes"}"#,
            ),
            400,
            "expected {\"admin\"?: bool, \"groups\"?: [\"name\", …]}: invalid type: string \"yes\", expected a boolean at line 1 column 14",
        ),
        case(
            "user_change_with_an_unknown_field",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/users/dave",
                r#"{"role":"admin"}"#,
            ),
            400,
            "expected {\"admin\"?: bool, \"groups\"?: [\"name\", …]}: unknown field `role`, expected `admin` or `groups` at line 1 column 7",
        ),
        case(
            "user_with_an_invalid_login",
            request(Method::PUT, Raw(Root), "/api/v1/users/a%20b", "{}"),
            400,
            "`a b` is not a valid user or group name: use letters, digits, `-`, `_`, `.` and `@`",
        ),
        case(
            "user_with_an_invalid_group",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/users/dave",
                r#"{"groups":["a b"]}"#,
            ),
            400,
            "`a b` is not a valid user or group name: use letters, digits, `-`, `_`, `.` and `@`",
        ),
        case(
            "user_change_too_large",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/users/dave",
                format!(r#"{{"groups":[{}]}}"#, strings(8000, 8)),
            ),
            413,
            "the upload is 96011 bytes, over the 65536-byte limit",
        ),
        case(
            "user_changed_by_a_non_admin",
            request(
                Method::PUT,
                Raw(Alice),
                "/api/v1/users/alice",
                r#"{"admin":true}"#,
            ),
            403,
            "you (`alice`) are not a registry admin",
        ),
        case(
            "repository_change_not_json",
            request(Method::PUT, Raw(Root), "/api/v1/repos/main", "public"),
            400,
            "expected {\"anonymous_read\"?: bool, \"grants\"?: [{\"to\": \"group:devs\", \"permissions\": [\"read\", …]}]}: expected value at line 1 column 1",
        ),
        case(
            "repository_grant_to_nobody",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/repos/main",
                r#"{"grants":[{"to":"nobody","permissions":["read"]}]}"#,
            ),
            400,
            "expected {\"anonymous_read\"?: bool, \"grants\"?: [{\"to\": \"group:devs\", \"permissions\": [\"read\", …]}]}: `nobody` names nobody: use `user:LOGIN`, `group:NAME` or `authenticated` at line 1 column 25",
        ),
        case(
            "repository_grant_of_an_unknown_permission",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/repos/main",
                r#"{"grants":[{"to":"user:bob","permissions":["everything"]}]}"#,
            ),
            400,
            "expected {\"anonymous_read\"?: bool, \"grants\"?: [{\"to\": \"group:devs\", \"permissions\": [\"read\", …]}]}: unknown variant `everything`, expected one of `read`, `publish-new`, `publish-update`, `yank`, `change-owners`, `manage-owners`, `admin` at line 1 column 55",
        ),
        case(
            "repository_grant_to_an_empty_group",
            request(
                Method::PUT,
                Raw(Root),
                "/api/v1/repos/main",
                r#"{"grants":[{"to":"group:ghosts","permissions":["read"]}]}"#,
            ),
            400,
            "group `ghosts` has no members; add one with `crateyard user set LOGIN --groups ghosts` first",
        ),
        case(
            "repository_named_as_a_reserved_path",
            request(Method::PUT, Raw(Root), "/api/v1/repos/ui", "{}"),
            400,
            "`ui` is reserved for the registry's own URLs; pick another repository name",
        ),
        case(
            "repository_with_an_invalid_name",
            request(Method::PUT, Raw(Root), "/api/v1/repos/a.b", "{}"),
            400,
            "`a.b` is not a valid repository name: use letters, digits, `-` and `_`",
        ),
        case(
            "repository_changed_by_a_non_admin",
            request(
                Method::PUT,
                Raw(Alice),
                "/api/v1/repos/main",
                r#"{"anonymous_read":false}"#,
            ),
            403,
            "you (`alice`) are not a registry admin",
        ),
        case(
            "reindex_by_a_non_admin",
            request(Method::POST, Raw(Alice), "/main/api/v1/reindex", Vec::new()),
            403,
            "you (`alice`) lack the `admin` permission in repository `main`",
        ),
    ]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------------------
// The warm-up: users, tokens, repositories and crates the cases refer to.

struct World {
    tokens: BTreeMap<&'static str, String>,
    bob_id: String,
    alice_id: String,
}

impl World {
    fn token(&self, who: Who) -> &str {
        let key = match who {
            Alice => "alice",
            Bob => "bob",
            Root => "root",
            AliceReadOnly => "alice-read-only",
            AliceOtherRepo => "alice-other-repo",
            AliceZzzCrates => "alice-zzz-crates",
            Revoked => "revoked",
            Expired => "expired",
        };
        &self.tokens[key]
    }
}

/// A token's id, as `crateyard token list` shows it: the start of its hash.
fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))[..16].to_string()
}

fn warm_up(server: &Server) -> World {
    let expired = server.token_with(&["--user", "alice", "--expires", "1s"]);
    let expired_from = Instant::now();
    server.admin_ok(&["user", "set", "root", "--admin", "true"]);
    // `repo create` writes config.json and the UI's repository list, which
    // name the server's URLs: the ones it would write itself.
    let public_url = [
        "--public-url",
        server.public_url.as_str(),
        "--api-url",
        server.url.as_str(),
    ];
    let repo_create = |args: &[&str]| {
        server.admin_ok(&[&["repo", "create"], args, &public_url].concat());
    };
    repo_create(&["other"]);
    repo_create(&[
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        "http://127.0.0.1:9/index/",
    ]);
    repo_create(&["virt", "--kind", "virtual", "--members", "mirror"]);
    let mut tokens = BTreeMap::new();
    tokens.insert("alice", server.token("alice"));
    tokens.insert("bob", server.token("bob"));
    tokens.insert("root", server.token("root"));
    tokens.insert(
        "alice-read-only",
        server.token_with(&["--user", "alice", "--scopes", "read"]),
    );
    tokens.insert(
        "alice-other-repo",
        server.token_with(&["--user", "alice", "--repo", "other"]),
    );
    tokens.insert(
        "alice-zzz-crates",
        server.token_with(&["--user", "alice", "--crates", "zzz-*"]),
    );
    tokens.insert("revoked", server.token("alice"));
    tokens.insert("expired", expired);
    let world = World {
        bob_id: token_id(&tokens["bob"]),
        alice_id: token_id(&tokens["alice"]),
        tokens,
    };

    // The revoked token revokes itself.
    let revoked = world.token(Revoked);
    let answer = send(
        server,
        &world,
        &request(
            Method::DELETE,
            Raw(Revoked),
            &format!("/api/v1/tokens/{}", token_id(revoked)),
            Vec::new(),
        ),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);

    // Alice's crates: one by `cargo publish` (with a README, so the UI's
    // data has one), one by a direct upload.
    let readme = TarballBuilder::new("foo-bar-1.0.0")
        .file(
            "Cargo.toml",
            manifest(
                "foo-bar",
                "1.0.0",
                "description = \"Foo, bar\"\nreadme = \"README.md\"\n",
            )
            .as_bytes(),
        )
        .file("README.md", b"# foo-bar\n")
        .file("src/lib.rs", b"")
        .build();
    let answer = send(
        server,
        &world,
        &publish(Raw(Alice), "foo-bar", "1.0.0", &readme),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = send(
        server,
        &world,
        &upload(
            Raw(Alice),
            "direct/direct-1.0.0.crate",
            good_crate("direct", "1.0.0", ""),
        ),
    );
    assert_eq!(answer.status, 201, "{}", answer.body);

    // Every live token used once, so its first use is behind us.
    for who in [
        Alice,
        Bob,
        Root,
        AliceReadOnly,
        AliceOtherRepo,
        AliceZzzCrates,
    ] {
        let answer = send(server, &world, &get(Raw(who), "/api/v1/me"));
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // The expiring token's second has passed (expiry is in whole seconds).
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(expired_from.elapsed()));
    world
}

// ---------------------------------------------------------------------------
// Sending a case.

struct Answer {
    status: u16,
    body: String,
    /// Whether a `WWW-Authenticate` header came with it.
    challenge: bool,
}

fn send(server: &Server, world: &World, req: &Request) -> Answer {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let mut builder = client
        .request(req.method.clone(), format!("{}{}", server.url, req.path))
        .body(req.body.clone());
    match req.auth {
        Anonymous => {}
        Raw(who) => builder = builder.header("Authorization", world.token(who)),
        Bearer(who) => {
            builder = builder.header("Authorization", format!("Bearer {}", world.token(who)))
        }
        Header(value) => builder = builder.header("Authorization", value),
    }
    let res = builder.send().expect("the server answers");
    let status = res.status().as_u16();
    let challenge = res.headers().contains_key("www-authenticate");
    Answer {
        status,
        challenge,
        body: res.text().unwrap_or_default(),
    }
}

/// What is wrong with an answer, if anything.
fn check_answer(case: &Case, answer: &Answer) -> Option<String> {
    let detail = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|v| v["errors"][0]["detail"].as_str().map(str::to_string));
    let Some(detail) = detail else {
        return Some(format!(
            "{}: {} is not in cargo's error shape: {:?}",
            case.name, answer.status, answer.body
        ));
    };
    if answer.status != case.status || detail != case.detail {
        // Written as the case's expectation, to compare or paste.
        return Some(format!(
            "{}: expected {} {:?}\n    got {},\n    {:?},",
            case.name, case.status, case.detail, answer.status, detail
        ));
    }
    // Every 401 says where cargo gets a token (cargo's login_url).
    if answer.status == 401 && !answer.challenge {
        return Some(format!("{}: a 401 without WWW-Authenticate", case.name));
    }
    None
}

// ---------------------------------------------------------------------------
// The runs.

fn run_catalogue(server: &Server) {
    let world = warm_up(server);
    let cases = cases(&world);
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    assert!(cases.len() >= 60, "{} cases", cases.len());

    let mut baseline = snapshot(server);
    // The snapshot sees what the warm-up wrote: its `.crate`s, the UI's
    // data, and the records of crates and tokens.
    for expected in [
        "main/crates/foo-bar/foo-bar-1.0.0.crate",
        "main/crates/direct/direct-1.0.0.crate",
        "ui/repositories.json",
        "main/ui/crates/foo_bar.json",
    ] {
        assert!(
            baseline
                .keys()
                .any(|k| k.starts_with("object/") && k.ends_with(expected)),
            "{expected} is not in the snapshot: {:?}",
            baseline.keys().collect::<Vec<_>>()
        );
    }
    let records = |what: &str| {
        baseline
            .iter()
            .filter(|(k, _)| k.starts_with("row/") || k.starts_with("item/"))
            .filter(|(k, v)| k.contains(what) || String::from_utf8_lossy(v).contains(what))
            .count()
    };
    assert!(records("foo_bar") >= 2, "the crate and its version");
    assert!(
        records("last_used_at") == 0 && records("alice") >= 6,
        "the tokens"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let answer = send(server, &world, &case.request);
        failures.extend(check_answer(case, &answer));
        let after = snapshot(server);
        let changed = differences(&baseline, &after);
        if !changed.is_empty() {
            failures.push(format!(
                "{}: the stores changed:\n    {}",
                case.name,
                changed.join("\n    ")
            ));
            // The next case is judged on its own.
            baseline = after;
        }
    }
    let backend = if server.is_aws() { "AWS" } else { "local mode" };
    println!("bad_input: {} cases on {backend}", cases.len());
    assert!(
        failures.is_empty(),
        "{} failures of {} cases on {backend}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_inputs_are_refused_and_change_nothing_in_local_mode() {
    let server = Server::start();
    run_catalogue(&server);
}

#[test]
fn bad_inputs_are_refused_and_change_nothing_on_aws() {
    let server = Server::start_aws();
    run_catalogue(&server);
}
