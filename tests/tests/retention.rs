//! Archiving older versions by a repository's retention policy, on both
//! backends, with the real cargo and `crateyard retention`/`restore`:
//! the dry run lists and changes nothing, pins hold, an archived version
//! still downloads for an existing lockfile (byte for byte) and is marked
//! on its page, and restore undoes it. Locally the bytes move to
//! `DATA/archive/`; on S3 the object is tagged for the lifecycle rule,
//! and a restore of one the rule has moved copies it back to Standard.

use crateyard_e2e::edge::stack::template;
use crateyard_e2e::{Cargo, Project, REGISTRY, Server, publish};
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
            let vers = v["line"]["vers"].as_str().unwrap().to_string();
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
