//! A registry grown without publishing: crate and version records written
//! straight into a metadata store (SQLite or DynamoDB, through the port the
//! services use), for benchmarks and tests that need thousands of crates.
//! No `.crate` or derived file is written: a reindex derives those.

use crateyard_core::{
    CrateRecord, CrateWrite, IndexLine, MetadataStore, PackageInfo, VersionRecord, VersionWrite,
};
use futures_util::{StreamExt, stream};

/// `gen{i}` 1.0.0 in repository `main`, with a description that a search
/// for `needle` matches in one crate of 1,000.
pub fn generated_crate(i: usize) -> CrateWrite {
    let name = format!("gen{i}");
    let description = if i % 1000 == 7 {
        format!("generated crate {i}, a needle")
    } else {
        format!("generated crate {i}")
    };
    let line = IndexLine {
        name: name.clone(),
        vers: "1.0.0".into(),
        deps: vec![],
        cksum: "0".repeat(64),
        features: Default::default(),
        features2: None,
        yanked: false,
        links: None,
        rust_version: None,
        pubtime: Some("2026-12-01T00:00:00Z".into()),
        v: None,
    };
    let krate = CrateRecord {
        name: name.clone(),
        canonical: name,
        revision: 1,
        max_version: "1.0.0".into(),
        description: Some(description.clone()),
        keywords: vec!["generated".into()],
        owners: vec!["bench".into()],
        created_at: "2026-12-01T00:00:00Z".into(),
        updated_at: "2026-12-01T00:00:00Z".into(),
        deleted: vec![],
    };
    let version = VersionRecord {
        line,
        version_key: "1.0.0".into(),
        seq: 1,
        package: PackageInfo {
            description: Some(description),
            ..Default::default()
        },
        size: 1000,
        published_by: "bench".into(),
        has_readme: false,
        archived_at: None,
    };
    CrateWrite {
        krate,
        expected_revision: None,
        repository_revision: None,
        version: Some(VersionWrite::Insert(version)),
        audit: None,
    }
}

/// Adds crates `from..to` ([`generated_crate`]) to repository `main`,
/// `at_once` commits in flight.
pub async fn generate(store: &dyn MetadataStore, from: usize, to: usize, at_once: usize) {
    stream::iter(from..to)
        .for_each_concurrent(at_once, |i| async move {
            store.commit("main", generated_crate(i)).await.unwrap();
        })
        .await;
}
