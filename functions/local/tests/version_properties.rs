//! Version identity and order through the real registry (files + SQLite):
//! for any sequence of publishes and yanks, a version is accepted exactly
//! when no version of equal semver precedence exists (build metadata is
//! ignored), the index lists accepted versions in publish order, and the
//! crate's max version is semver's maximum of the live versions.

use crateyard_core::{
    IndexLine, ObjectKey, Principal, Registry, RegistryConfig, RegistryError, Upload,
};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use crateyard_tarball::TarballBuilder;
use proptest::prelude::*;
use semver::Version;
use std::cmp::Ordering;
use std::sync::Arc;

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..2,
        0u64..3,
        prop::option::of(prop_oneof![Just("alpha"), Just("rc.1"), Just("rc.2")]),
        prop::option::of(prop_oneof![Just("b1"), Just("b2")]),
    )
        .prop_map(|(major, minor, pre, build)| {
            let mut text = format!("{major}.{minor}.0");
            if let Some(pre) = pre {
                text += &format!("-{pre}");
            }
            if let Some(build) = build {
                text += &format!("+{build}");
            }
            Version::parse(&text).unwrap()
        })
}

fn upload(version: &Version) -> Upload {
    let manifest =
        format!("[package]\nname = \"ordered\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    let tarball = TarballBuilder::new(&format!("ordered-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", b"")
        .build();
    Upload::Direct {
        name: "ordered".into(),
        file_name: format!("ordered-{version}.crate"),
        tarball: tarball.into(),
    }
}

/// Publishes `versions` in order, yanking those flagged; returns what the
/// model expects to be accepted, in order, with their yank flags.
async fn run(versions: &[(Version, bool)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let dirs = DataDir::new(dir.path());
    let blobs = Arc::new(FsBlobStore::new(dirs.clone()).unwrap());
    let registry = Registry::new(
        blobs.clone(),
        Arc::new(SqliteStore::open(&dirs.database()).unwrap()),
        RegistryConfig::new("http://127.0.0.1:1", None),
    );
    registry.ensure_repository("main").await.unwrap();
    registry
        .put_user(
            "alice",
            crateyard_core::UserChange::default(),
            &crateyard_core::Actor::operator(),
        )
        .await
        .unwrap();
    let alice: Principal = registry.acting_as("alice").await.unwrap();

    let mut accepted: Vec<(Version, bool)> = Vec::new();
    for (version, yank) in versions {
        let taken = accepted
            .iter()
            .any(|(v, _)| v.cmp_precedence(version) == Ordering::Equal);
        let result = registry.publish("main", &alice, upload(version)).await;
        match (taken, result) {
            (false, Ok(_)) => {
                if *yank {
                    let text = version.to_string();
                    registry
                        .set_yanked("main", async { Ok(alice.clone()) }, "ordered", &text, true)
                        .await
                        .unwrap();
                }
                accepted.push((version.clone(), *yank));
            }
            (true, Err(RegistryError::VersionExists { .. })) => {}
            (taken, result) => prop_assert!(
                false,
                "{version}: taken by an equal version = {taken}, but got {result:?}"
            ),
        }
    }

    let index = std::fs::read_to_string(
        blobs
            .path_for(&ObjectKey::index_file("main", "ordered").unwrap())
            .expect("a safe key"),
    )
    .unwrap();
    let lines: Vec<IndexLine> = index
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listed: Vec<(String, bool)> = lines.iter().map(|l| (l.vers.clone(), l.yanked)).collect();
    let expected: Vec<(String, bool)> = accepted.iter().map(|(v, y)| (v.to_string(), *y)).collect();
    prop_assert_eq!(listed, expected, "publish order, yank flags kept");

    let live_max = accepted.iter().filter(|(_, y)| !y).map(|(v, _)| v).max();
    let any_max = accepted.iter().map(|(v, _)| v).max();
    let expected_max = live_max.or(any_max).map(Version::to_string);
    let hits = registry
        .search(None, "main", "ordered", 10)
        .await
        .unwrap()
        .crates;
    prop_assert_eq!(hits.first().map(|h| h.max_version.clone()), expected_max);
    Ok(())
}

proptest! {
    // Each case publishes through SQLite and the file store: few cases, short runs.
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn versions_are_unique_by_precedence_and_indexed_in_publish_order(
        versions in prop::collection::vec((version(), prop::bool::weighted(0.2)), 1..8),
    ) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(&versions))?;
    }
}
