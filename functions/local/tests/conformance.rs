//! The shared port conformance suite against the local adapters.

use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use std::path::Path;

mod blob {
    use super::*;
    crateyard_conformance::blob_suite!(|dir: &Path| FsBlobStore::new(DataDir::new(dir)).unwrap());
}

mod metadata {
    use super::*;
    crateyard_conformance::metadata_suite!(|dir: &Path| SqliteStore::open(
        &DataDir::new(dir).database()
    )
    .unwrap());
}
