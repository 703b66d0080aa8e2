//! Archiving older versions by a repository's retention policy, on both
//! backends, with the real cargo and `crateyard retention`/`restore`:
//! the dry run lists and changes nothing, pins hold, an archived version
//! still downloads for an existing lockfile (byte for byte) and is marked
//! on its page, and restore undoes it. Locally the bytes move to
//! `DATA/archive/`; on S3 the object is tagged for the lifecycle rule,
//! and a restore of one the rule has moved copies it back to Standard.

use crateyard_e2e::edge::stack::template;
use crateyard_e2e::{Cargo, Project, REGISTRY, Server, crate_bytes, publish};
use serde_json::Value;

const KEY: &str = "main/crates/keepsake/keepsake-1.0.0.crate";

fn run(server: &Server, args: &[&str]) -> (bool, String) {
    let out = server.admin(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn run_ok(server: &Server, args: &[&str]) -> String {
    let (ok, text) = run(server, args);
    assert!(ok, "crateyard {args:?}: {text}");
    text
}

/// Each version on the crate page, with when it was archived.
fn page_archived(server: &Server) -> Vec<(String, bool)> {
    let page: Value = server.get("main/ui/crates/keepsake.json").json().unwrap();
    page["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let vers = v["vers"].as_str().unwrap().to_string();
            (vers, v["archived_at"].is_string())
        })
        .collect()
}

/// Where the archived `.crate` is, as its store keeps it: locally whether
/// the key is a link into `DATA/archive/`; on S3 its tags and storage
/// class, read from moto.
fn stored_as(server: &Server) -> String {
    match server.aws_storage() {
        None => {
            let path = server.object(KEY);
            let link = std::fs::symlink_metadata(&path).unwrap().is_symlink();
            let archived = server.data().join("archive").join(KEY).is_file();
            format!("link={link} archive-file={archived}")
        }
        Some((bucket, _)) => {
            let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
            let tags = server
                .http()
                .get(format!("{moto}/{bucket}/{KEY}?tagging"))
                .send()
                .unwrap()
                .text()
                .unwrap();
            // A GET: moto's bucket policy check refuses anonymous HEADs.
            let head = server
                .http()
                .get(format!("{moto}/{bucket}/{KEY}"))
                .send()
                .unwrap();
            let class = head
                .headers()
                .get("x-amz-storage-class")
                .map_or("STANDARD", |c| c.to_str().unwrap())
                .to_string();
            let archive_tag = tags.contains("<Key>crateyard-storage</Key>")
                && tags.contains("<Value>archive</Value>");
            format!("tagged={archive_tag} class={class}")
        }
    }
}

/// What the lifecycle rule does to the archived `.crate`: a copy onto
/// itself in Glacier Instant Retrieval, tags and metadata kept.
fn lifecycle_transition(bucket: &str) {
    let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let s3 = crateyard_aws::AwsClients::for_emulator(&moto).s3;
        s3.copy_object()
            .bucket(bucket)
            .key(KEY)
            .copy_source(format!("{bucket}/{KEY}"))
            .storage_class(aws_sdk_s3::types::StorageClass::GlacierIr)
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Copy)
            .tagging_directive(aws_sdk_s3::types::TaggingDirective::Copy)
            .send()
            .await
            .unwrap();
    });
}

fn archiving_keeps_lockfiles_working(server: Server) {
    let alice = server.token("alice");
    let cargo = Cargo::new(&server, Some(&alice));
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        publish(&cargo, "keepsake", version, "");
    }
    let before = server.get(KEY).bytes().unwrap();
    let index_before = server.get("main/index/ke/ep/keepsake").bytes().unwrap();
    // A consumer whose lockfile pins the oldest version.
    let app = Project::new(
        "app",
        "0.1.0",
        &format!(
            "[dependencies]\nkeepsake = {{ version = \"=1.0.0\", registry = \"{REGISTRY}\" }}\n"
        ),
    );
    cargo.ok(app.path(), &["generate-lockfile"]);

    // Bad input: said plainly, nothing changes.
    for (args, says) in [
        (
            &["retention", "run", "main", "--dry-run"][..],
            "has no retention policy",
        ),
        (
            &["retention", "set", "main", "--keep-latest", "0"][..],
            "at least 1",
        ),
        (
            &[
                "retention",
                "set",
                "main",
                "--keep-latest",
                "1",
                "--archive-after",
                "a year",
            ][..],
            "is not a lifetime",
        ),
        (
            &["retention", "pin", "main", "keepsake@1.0.0"][..],
            "set one first",
        ),
        (
            &["retention", "set", "nowhere", "--keep-latest", "1"][..],
            "nowhere",
        ),
        (
            &["restore", "keepsake@9.9.9", "--repo", "main"][..],
            "9.9.9",
        ),
    ] {
        let (ok, text) = run(&server, args);
        assert!(!ok, "{args:?} succeeded: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
    }

    // Nothing is a year old yet.
    run_ok(
        &server,
        &[
            "retention",
            "set",
            "main",
            "--keep-latest",
            "1",
            "--archive-after",
            "365d",
        ],
    );
    let dry = run_ok(&server, &["retention", "run", "main", "--dry-run"]);
    assert!(dry.contains("would archive 0 versions"), "{dry}");

    // Keep the newest, pin 1.1.0: only 1.0.0 goes, and a dry run says so
    // without moving it.
    run_ok(&server, &["retention", "set", "main", "--keep-latest", "1"]);
    let pinned = run_ok(&server, &["retention", "pin", "main", "keepsake@1.1.0"]);
    assert!(pinned.contains("pinned: keepsake@1.1.0"), "{pinned}");
    let dry = run_ok(&server, &["retention", "run", "main", "--dry-run"]);
    assert!(dry.contains("would archive keepsake 1.0.0"), "{dry}");
    assert!(
        !dry.contains("keepsake 1.1.0") && !dry.contains("keepsake 1.2.0"),
        "{dry}"
    );
    let unmoved = match server.is_aws() {
        true => "tagged=false class=STANDARD",
        false => "link=false archive-file=false",
    };
    assert_eq!(stored_as(&server), unmoved);
    assert!(page_archived(&server).iter().all(|(_, archived)| !archived));

    let done = run_ok(&server, &["retention", "run", "main"]);
    assert!(done.contains("archived keepsake 1.0.0"), "{done}");
    let moved = match server.is_aws() {
        true => "tagged=true class=STANDARD",
        false => "link=true archive-file=true",
    };
    assert_eq!(stored_as(&server), moved);
    assert_eq!(
        page_archived(&server),
        [
            ("1.2.0".to_string(), false),
            ("1.1.0".to_string(), false),
            ("1.0.0".to_string(), true)
        ]
    );
    // Same index file, same bytes at the same URL.
    assert_eq!(
        server.get("main/index/ke/ep/keepsake").bytes().unwrap(),
        index_before
    );
    assert_eq!(server.get(KEY).bytes().unwrap(), before);
    // The lockfile still builds, downloading the archived version afresh.
    let fresh = Cargo::new(&server, Some(&alice));
    let out = fresh.ok(app.path(), &["build", "--locked"]);
    assert!(out.contains("Downloaded keepsake v1.0.0"), "{out}");
    assert!(out.contains("Compiling keepsake v1.0.0"), "{out}");
    // A second run finds nothing left to do.
    let again = run_ok(&server, &["retention", "run", "main"]);
    assert!(again.contains("archived 0 versions"), "{again}");
    let audit = run_ok(&server, &["audit", "--crate", "keepsake", "--json"]);
    let archive_entry = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["action"] == "archive")
        .expect("an archive entry");
    assert_eq!(archive_entry["version"], "1.0.0");
    assert_eq!(archive_entry["actor"], "(operator)");

    // On S3 the lifecycle rule moves it within a day; do what it does.
    if let Some((bucket, _)) = server.aws_storage() {
        lifecycle_transition(bucket);
        assert_eq!(stored_as(&server), "tagged=true class=GLACIER_IR");
        assert_eq!(server.get(KEY).bytes().unwrap(), before);
    }

    let restored = run_ok(&server, &["restore", "keepsake@1.0.0", "--repo", "main"]);
    assert!(restored.contains("restored keepsake 1.0.0"), "{restored}");
    // Pinned, so that the next run leaves it restored.
    assert!(
        restored.contains("pinned in the retention policy"),
        "{restored}"
    );
    let shown = run_ok(&server, &["retention", "show", "main"]);
    assert!(shown.contains("keepsake@1.0.0"), "{shown}");
    let after = run_ok(&server, &["retention", "run", "main"]);
    assert!(after.contains("archived 0 versions"), "{after}");
    assert_eq!(stored_as(&server), unmoved);
    assert!(page_archived(&server).iter().all(|(_, archived)| !archived));
    assert_eq!(server.get(KEY).bytes().unwrap(), before);
    let twice = run_ok(&server, &["restore", "keepsake@1.0.0", "--repo", "main"]);
    assert!(twice.contains("is not archived"), "{twice}");
}

#[test]
fn retention_locally() {
    archiving_keeps_lockfiles_working(Server::start());
}

#[test]
fn retention_on_aws() {
    archiving_keeps_lockfiles_working(Server::start_aws());
}

/// The stack's lifecycle rule moves exactly what the code tags, from the
/// size the saving is computed for, to a class read at once; `crateyard
/// setup` (emulators, buckets of your own) installs the same rule (moto
/// keeps all of it but the size, which `setup.rs`'s own test checks); the
/// schedule invokes the retention binary with an event it accepts.
#[test]
fn the_stacks_lifecycle_rule_and_schedule_match_the_code() {
    let template = template();
    let resources = &template["Resources"];
    let rules = resources["RegistryBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .unwrap();
    let rule = rules
        .iter()
        .find(|r| r["Id"] == "ArchiveTaggedCrates")
        .expect("the archive rule");
    assert_eq!(rule["Status"], "Enabled");
    assert_eq!(
        rule["TagFilters"],
        serde_json::json!([{
            "Key": crateyard_aws::STORAGE_TAG,
            "Value": crateyard_aws::ARCHIVE_TAG_VALUE,
        }])
    );
    let over: u64 = rule["ObjectSizeGreaterThan"]
        .to_string()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert_eq!(over + 1, crateyard_core::ARCHIVE_MIN_OBJECT_SIZE);
    assert_eq!(rule["Transitions"][0]["StorageClass"], "GLACIER_IR");
    assert_eq!(rule["Transitions"][0]["TransitionInDays"], 0);

    let function = &resources["RetentionFunction"];
    assert_eq!(
        function["Metadata"]["BuildProperties"]["Binary"],
        "retention"
    );
    let schedule = &function["Properties"]["Events"]["Daily"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert_eq!(schedule["Properties"]["Input"], "{}");
    let policies = function["Properties"]["Policies"].to_string();
    for action in ["s3:PutObjectTagging", "s3:GetObjectTagging", "s3:PutObject"] {
        assert!(policies.contains(action), "{action}: {policies}");
    }

    // setup's rule, as moto stores it.
    let server = Server::start_aws();
    let (bucket, _) = server.aws_storage().unwrap();
    let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
    let lifecycle = server
        .http()
        .get(format!("{moto}/{bucket}?lifecycle"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for part in [
        "<ID>ArchiveTaggedCrates</ID>",
        "<Key>crateyard-storage</Key>",
        "<Value>archive</Value>",
        "<StorageClass>GLACIER_IR</StorageClass>",
    ] {
        assert!(lifecycle.contains(part), "{part}: {lifecycle}");
    }
}

/// Two retention runs at once (two scheduled invocations, or an operator's
/// run beside the schedule), in two processes: each version is archived
/// once, neither run fails, and every `.crate` still reads the same.
fn racing_runs_archive_each_version_once(server: Server) {
    let alice = server.token("alice");
    let cargo = Cargo::new(&server, Some(&alice));
    let versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"];
    for name in ["race-a", "race-b"] {
        for version in versions {
            publish(&cargo, name, version, "");
        }
    }
    run_ok(&server, &["retention", "set", "main", "--keep-latest", "1"]);
    let outputs: Vec<(bool, String)> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| run(&server, &["retention", "run", "main", "--json"])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut archived = Vec::new();
    for (ok, text) in &outputs {
        assert!(ok, "{text}");
        let report: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(report["errors"], serde_json::json!([]), "{text}");
        for v in report["versions"].as_array().unwrap() {
            archived.push(format!("{} {}", v["name"], v["version"]));
        }
    }
    archived.sort();
    // Eight versions, each reported by exactly one of the two runs.
    assert_eq!(archived.len(), 8, "{archived:?}");
    archived.dedup();
    assert_eq!(archived.len(), 8, "{archived:?}");
    let audit = run_ok(&server, &["audit", "--json"]);
    let entries = audit.lines().filter(|l| l.contains("\"archive\"")).count();
    assert_eq!(entries, 8, "{audit}");
    for name in ["race-a", "race-b"] {
        for version in versions {
            let key = format!("main/crates/{name}/{name}-{version}.crate");
            assert_eq!(server.get(&key).status(), 200, "{key}");
        }
    }
}

#[test]
fn racing_retention_runs_locally() {
    racing_runs_archive_each_version_once(Server::start());
}

#[test]
fn racing_retention_runs_on_aws() {
    racing_runs_archive_each_version_once(Server::start_aws());
}

/// A private repository's archived `.crate` stays off the public read
/// path (the bucket policy refuses objects tagged private) through the
/// archive and the restore, and its owner still downloads it.
#[test]
fn private_archives_stay_private_on_aws() {
    let server = Server::start_aws();
    let alice = server.token("alice");
    let urls = ["--public-url", &server.public_url, "--api-url", &server.url];
    run_ok(
        &server,
        &[&["repo", "create", "vault", "--private"][..], &urls].concat(),
    );
    for version in ["1.0.0", "1.1.0"] {
        let put = server
            .http()
            .put(format!(
                "{}/vault/crates/secretive/secretive-{version}.crate",
                server.url
            ))
            .header("Authorization", &alice)
            .body(crate_bytes("secretive", version, "// secret\n"))
            .send()
            .unwrap();
        assert!(put.status().is_success(), "{:?}", put.text());
    }
    let key = "vault/crates/secretive/secretive-1.0.0.crate";
    // moto does not apply bucket policies to anonymous reads: the tag the
    // stack's policy (and the test edge's) refuses is what is checked.
    let (bucket, _) = server.aws_storage().unwrap();
    let moto = std::env::var("CRATEYARD_TEST_MOTO").unwrap();
    let tags = || {
        server
            .http()
            .get(format!("{moto}/{bucket}/{key}?tagging"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    };
    let private_only = |tags: &str| tags.contains("<Key>crateyard-private</Key>");
    let owner = || {
        let path = "vault/api/private/crates/secretive/secretive-1.0.0.crate";
        server
            .http()
            .get(format!("{}/{path}", server.url))
            .header("Authorization", &alice)
            .send()
            .unwrap()
            .bytes()
            .unwrap()
    };
    let bytes = owner();
    assert!(bytes.starts_with(&[0x1f, 0x8b]), "not a .crate: {bytes:?}");
    assert!(private_only(&tags()));
    run_ok(
        &server,
        &["retention", "set", "vault", "--keep-latest", "1"],
    );
    let done = run_ok(&server, &["retention", "run", "vault"]);
    assert!(done.contains("archived secretive 1.0.0"), "{done}");
    let archived = tags();
    assert!(
        private_only(&archived) && archived.contains("<Value>archive</Value>"),
        "{archived}"
    );
    assert_eq!(owner(), bytes);
    run_ok(&server, &["restore", "secretive@1.0.0", "--repo", "vault"]);
    let restored = tags();
    assert!(
        private_only(&restored) && !restored.contains("archive"),
        "{restored}"
    );
    assert_eq!(owner(), bytes);
}
