//! The shared port conformance suite against the local adapters.

use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use std::path::Path;

async fn fs_store(dir: &Path) -> FsBlobStore {
    FsBlobStore::new(DataDir::new(dir)).unwrap()
}

async fn sqlite_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&DataDir::new(dir).database()).unwrap()
}

mod blob {
    use super::*;
    crateyard_conformance::blob_suite!(fs_store);
}

mod metadata {
    use super::*;
    crateyard_conformance::metadata_suite!(sqlite_store);
}

/// A database made before search had its index gets one, filled from the
/// crates already there, when it is next opened.
#[tokio::test]
async fn an_older_database_gains_the_search_index_with_its_crates() {
    use crateyard_core::{CrateRecord, CrateWrite, MetadataStore};
    let dir = tempfile::tempdir().unwrap();
    let path = DataDir::new(dir.path()).database();
    let store = SqliteStore::open(&path).unwrap();
    let krate = CrateRecord {
        name: "serde_yaml".into(),
        canonical: "serde_yaml".into(),
        revision: 1,
        max_version: "1.0.0".into(),
        description: Some("YAML support".into()),
        keywords: vec![],
        owners: vec!["alice".into()],
        created_at: "2026-01-01T00:00:00Z".into(),
        updated_at: "2026-01-01T00:00:00Z".into(),
        deleted: vec![],
    };
    let write = CrateWrite {
        krate,
        expected_revision: None,
        repository_revision: None,
        version: None,
        audit: None,
    };
    store.commit("r", write).await.unwrap();
    drop(store);
    // What such a database looks like: no search table, no triggers.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TRIGGER crate_search_insert; DROP TRIGGER crate_search_update;
         DROP TRIGGER crate_search_delete; DROP TABLE crate_search; DROP TABLE crate_search_ids;",
    )
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    let (hits, total) = store.search("r", "yaml", 10).await.unwrap();
    assert_eq!((hits[0].canonical.as_str(), total), ("serde_yaml", 1));
}
