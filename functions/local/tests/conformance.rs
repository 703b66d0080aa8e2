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
