//! A deletion racing a writer of derived files, on the real local adapters:
//! a writer that read a crate's versions just before a deletion committed
//! must not bring back the deleted version's page after the purge.

use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    Actor, BlobError, BlobStore, KeyPrefix, MetadataStore, ObjectKey, ObjectMeta, PutMode,
    PutOptions, Registry, RegistryConfig, Upload, UserChange,
};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use crateyard_tarball::TarballBuilder;
use std::sync::{Arc, Mutex};

/// The real file store; the first listing of a crate's version pages after
/// `arm` runs a deletion first, through another registry on the same
/// stores: the deletion lands between the writer's read of the versions
/// and its writes.
struct DeleteOnListing {
    inner: FsBlobStore,
    deleter: Mutex<Option<(Registry, &'static str)>>,
}

#[async_trait]
impl BlobStore for DeleteOnListing {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        self.inner.put(key, body, mode, options).await
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError> {
        self.inner.get(key).await
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
    async fn delete_if(&self, key: &ObjectKey, etag: &str) -> Result<(), BlobError> {
        self.inner.delete_if(key, etag).await
    }
    async fn list(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, BlobError> {
        if matches!(prefix, KeyPrefix::CrateVersionPages { .. }) {
            let armed = self.deleter.lock().unwrap().take();
            if let Some((registry, version)) = armed {
                let deleted = registry
                    .delete_versions("main", None, "racy", Some(version), "leaked secret")
                    .await
                    .unwrap();
                assert_eq!(deleted, [version]);
            }
        }
        self.inner.list(prefix).await
    }
}

fn upload(version: &str) -> Upload {
    let manifest =
        format!("[package]\nname = \"racy\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    Upload::Direct {
        name: "racy".into(),
        file_name: format!("racy-{version}.crate"),
        tarball: TarballBuilder::new(&format!("racy-{version}"))
            .file("Cargo.toml", manifest.as_bytes())
            .file("src/lib.rs", b"")
            .build()
            .into(),
    }
}

#[tokio::test]
async fn a_version_deleted_while_its_page_is_restored_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = DataDir::new(dir.path());
    let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::open(&dirs.database()).unwrap());
    let blobs = Arc::new(DeleteOnListing {
        inner: FsBlobStore::new(dirs.clone()).unwrap(),
        deleter: Mutex::default(),
    });
    let config = || RegistryConfig::new("http://127.0.0.1:1", None);
    let registry = Registry::new(blobs.clone(), store.clone(), config());
    registry.ensure_repository("main").await.unwrap();
    registry
        .put_user("alice", UserChange::default(), &Actor::operator())
        .await
        .unwrap();
    let alice = registry.acting_as("alice").await.unwrap();
    for version in ["1.0.0", "1.1.0"] {
        registry
            .publish("main", &alice, upload(version))
            .await
            .unwrap();
    }
    let page = |v| ObjectKey::version_page("main", "racy", v).unwrap();
    // 1.0.0's page lost, so the next writer of the crate's page restores it.
    blobs.inner.delete(&page("1.0.0")).await.unwrap();

    let deleter = Registry::new(
        Arc::new(FsBlobStore::new(dirs.clone()).unwrap()),
        store,
        config(),
    );
    *blobs.deleter.lock().unwrap() = Some((deleter, "1.0.0"));
    registry.rebuild_crate_files("main", "racy").await.unwrap();
    assert!(blobs.deleter.lock().unwrap().is_none(), "the race was run");

    assert_eq!(blobs.head(&page("1.0.0")).await.unwrap(), None);
    assert!(blobs.head(&page("1.1.0")).await.unwrap().is_some());
    let crate_file = ObjectKey::crate_file("main", "racy", "1.0.0").unwrap();
    assert_eq!(blobs.head(&crate_file).await.unwrap(), None);
}
