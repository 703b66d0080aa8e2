//! Faults between the steps of a publish, on the real local adapters: what a
//! crash or a failed write leaves behind is repaired by a retry or by
//! `reindex`, and the index never shows a version whose `.crate` is missing
//! or has another checksum.

use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, CommittedChange, KeyPrefix, ObjectKey, ObjectMeta, Principal, PutMode,
    PutOptions, Registry, RegistryConfig, RegistryError, Upload, UserChange,
};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use crateyard_tarball::TarballBuilder;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The real file store, with puts to index files failing while `broken`,
/// and reads of `.crate` files waiting for an index file's write while
/// `crate_reads_wait` (an index file written only after them never is).
/// The first `.crate` read after `readme_meanwhile` is set first writes
/// that README, as a publish or another reindex would.
struct FlakyIndexWrites {
    inner: FsBlobStore,
    broken: AtomicBool,
    crate_reads_wait: AtomicBool,
    index_written: tokio::sync::watch::Sender<bool>,
    readme_meanwhile: std::sync::Mutex<Option<ObjectKey>>,
}

#[async_trait]
impl BlobStore for FlakyIndexWrites {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        let index_file = matches!(key, ObjectKey::IndexFile { .. });
        if self.broken.load(Ordering::SeqCst) && index_file {
            return Err(BlobError::Backend("injected: S3 PutObject failed".into()));
        }
        let written = self.inner.put(key, body, mode, options).await;
        if index_file && written.is_ok() {
            self.index_written.send_replace(true);
        }
        written
    }
    async fn get(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError> {
        if !matches!(key, ObjectKey::CrateFile { .. }) {
            return self.inner.get(key).await;
        }
        if self.crate_reads_wait.load(Ordering::SeqCst) {
            let mut written = self.index_written.subscribe();
            let _ = written.wait_for(|written| *written).await;
        }
        let readme = self.readme_meanwhile.lock().unwrap().take();
        if let Some(readme) = readme {
            let body = Bytes::from_static(b"<p>restored meanwhile</p>");
            let options = PutOptions::default();
            (self
                .inner
                .put(&readme, body, PutMode::Create, options)
                .await)
                .unwrap();
        }
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
        self.inner.list(prefix).await
    }
}

fn named_crate_bytes(name: &str, version: &str, marker: &str) -> Bytes {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", marker.as_bytes())
        .build()
        .into()
}

fn named_upload(name: &str, version: &str, tarball: Bytes) -> Upload {
    Upload::Direct {
        name: name.into(),
        file_name: format!("{name}-{version}.crate"),
        tarball,
    }
}

fn crate_bytes(version: &str, marker: &str) -> Bytes {
    named_crate_bytes("sturdy", version, marker)
}

fn upload(version: &str, tarball: Bytes) -> Upload {
    named_upload("sturdy", version, tarball)
}

/// What a commit to `sturdy` reports to the change stream's consumer,
/// whose rebuild is the per-crate path (as a reindex job's batch).
fn sturdy_rebuilt() -> CommittedChange {
    CommittedChange {
        repo: "main".into(),
        canonical: "sturdy".into(),
        new_version: None,
    }
}

/// A registry on `dir` where alice has published `sturdy` 1.0.0.
async fn setup(dir: &std::path::Path) -> (Registry, Arc<FlakyIndexWrites>, Principal) {
    let dirs = DataDir::new(dir);
    let blobs = Arc::new(FlakyIndexWrites {
        inner: FsBlobStore::new(dirs.clone()).unwrap(),
        broken: AtomicBool::new(false),
        crate_reads_wait: AtomicBool::new(false),
        index_written: tokio::sync::watch::Sender::new(false),
        readme_meanwhile: std::sync::Mutex::default(),
    });
    let store = SqliteStore::open(&dirs.database()).unwrap();
    let registry = Registry::new(
        blobs.clone(),
        Arc::new(store),
        RegistryConfig::new("http://127.0.0.1:1", None),
    );
    registry.ensure_repository("main").await.unwrap();
    registry
        .put_user(
            "alice",
            UserChange::default(),
            &crateyard_core::Actor::operator(),
        )
        .await
        .unwrap();
    let alice = registry.acting_as("alice").await.unwrap();
    registry
        .publish("main", &alice, upload("1.0.0", crate_bytes("1.0.0", "")))
        .await
        .unwrap();
    (registry, blobs, alice)
}

/// Every line of the index file points at a `.crate` with its checksum.
async fn assert_index_consistent(blobs: &FlakyIndexWrites) -> Vec<String> {
    let Some((index, _)) = blobs
        .get(&ObjectKey::index_file("main", "sturdy").unwrap())
        .await
        .unwrap()
    else {
        return vec![];
    };
    let mut versions = Vec::new();
    for line in std::str::from_utf8(&index).unwrap().lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let version = line["vers"].as_str().unwrap().to_string();
        let (bytes, _) = blobs
            .get(&ObjectKey::crate_file("main", "sturdy", &version).unwrap())
            .await
            .unwrap()
            .expect("indexed .crate exists");
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            line["cksum"].as_str().unwrap()
        );
        versions.push(version);
    }
    versions
}

#[tokio::test]
async fn failed_index_write_is_repaired_by_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;

    blobs.broken.store(true, Ordering::SeqCst);
    let outcome = registry
        .publish("main", &alice, upload("1.1.0", crate_bytes("1.1.0", "")))
        .await
        .unwrap();
    assert!(
        outcome.warnings[0].contains("run `crateyard reindex`"),
        "{:?}",
        outcome.warnings
    );
    assert_eq!(
        assert_index_consistent(&blobs).await,
        ["1.0.0"],
        "the index lags but stays consistent"
    );

    blobs.broken.store(false, Ordering::SeqCst);
    registry.reindex("main", &|_, _| {}).await.unwrap();
    assert_eq!(assert_index_consistent(&blobs).await, ["1.0.0", "1.1.0"]);
}

#[tokio::test]
async fn interrupted_publish_is_completed_by_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;

    // A writer died after storing the .crate, before committing the version.
    let orphan = crate_bytes("2.0.0", "");
    let key = ObjectKey::crate_file("main", "sturdy", "2.0.0").unwrap();
    blobs
        .put(&key, orphan.clone(), PutMode::Create, PutOptions::default())
        .await
        .unwrap();
    registry.reindex("main", &|_, _| {}).await.unwrap();
    assert_eq!(
        assert_index_consistent(&blobs).await,
        ["1.0.0"],
        "an uncommitted version is never indexed"
    );

    // Other bytes for that version are refused while the orphan stands...
    let err = registry
        .publish(
            "main",
            &alice,
            upload("2.0.0", crate_bytes("2.0.0", "// other")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::UploadInProgress { .. }),
        "{err}"
    );
    assert_eq!(assert_index_consistent(&blobs).await, ["1.0.0"]);
    // ...and the retry of the interrupted upload completes it.
    registry
        .publish("main", &alice, upload("2.0.0", orphan))
        .await
        .unwrap();
    assert_eq!(assert_index_consistent(&blobs).await, ["1.0.0", "2.0.0"]);
}

/// A deletion (or the check after a page restore) that stopped half-way
/// leaves a deleted version's page and README: a reindex removes them, and
/// only them.
#[tokio::test]
async fn files_left_for_a_deleted_version_are_removed_by_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;
    registry
        .publish("main", &alice, upload("1.1.0", crate_bytes("1.1.0", "")))
        .await
        .unwrap();
    let deleted = registry
        .delete_versions("main", None, "sturdy", Some("1.1.0"), "leaked secret")
        .await
        .unwrap();
    assert_eq!(deleted, ["1.1.0"]);
    let page = |v| ObjectKey::version_page("main", "sturdy", v).unwrap();
    let readme = ObjectKey::readme("main", "sturdy", "1.1.0").unwrap();
    let left = || async {
        let body = Bytes::from_static(b"left behind");
        for key in [page("1.1.0"), readme.clone()] {
            let put = blobs.put(&key, body.clone(), PutMode::Create, PutOptions::default());
            put.await.unwrap();
        }
    };
    let removed = || async {
        assert!(blobs.get(&page("1.1.0")).await.unwrap().is_none());
        assert!(blobs.get(&readme).await.unwrap().is_none());
        assert!(blobs.get(&page("1.0.0")).await.unwrap().is_some());
        assert_eq!(assert_index_consistent(&blobs).await, ["1.0.0"]);
    };
    // A whole reindex.
    left().await;
    registry.reindex("main", &|_, _| {}).await.unwrap();
    removed().await;
    // One crate's rebuild (a reindex job's batch, the change stream), for
    // a crate none of whose live versions has a README.
    left().await;
    registry
        .write_changed_crates(&[sturdy_rebuilt()])
        .await
        .unwrap();
    removed().await;
}

/// `rebuild`'s outcome; it fails the test if it never finishes (only a
/// deadlock takes this long: the rebuild is milliseconds).
async fn within<T>(rebuild: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(60), rebuild)
        .await
        .expect("the rebuild waited for its README before its index file")
}

/// On AWS the change stream's rebuild after a publish writes the README
/// (the publish answers first), so it always finds the README missing:
/// the index file, which `cargo publish` polls for, must not wait for the
/// `.crate` to be read and its README rendered. Here each `.crate` read
/// waits for an index file's write; a rebuild that wrote the index file
/// only after its READMEs would never finish.
#[tokio::test]
async fn an_index_file_does_not_wait_for_a_readme_to_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;
    publish_with_readme(&registry, &alice).await;
    let index = ObjectKey::index_file("main", "sturdy").unwrap();
    let readme = ObjectKey::readme("main", "sturdy", "1.1.0").unwrap();
    let lose_both = || async {
        blobs.delete(&index).await.unwrap();
        blobs.delete(&readme).await.unwrap();
        blobs.index_written.send_replace(false);
    };
    let restored = || async {
        assert_eq!(assert_index_consistent(&blobs).await, ["1.0.0", "1.1.0"]);
        let (html, _) = blobs.get(&readme).await.unwrap().expect("README restored");
        assert!(String::from_utf8_lossy(&html).contains("Holds up."));
    };
    blobs.crate_reads_wait.store(true, Ordering::SeqCst);

    // One crate's rebuild (the change stream, a reindex job's batch).
    lose_both().await;
    within(registry.write_changed_crates(&[sturdy_rebuilt()]))
        .await
        .unwrap();
    restored().await;
    // A whole reindex.
    lose_both().await;
    within(registry.reindex("main", &|_, _| {})).await.unwrap();
    restored().await;
}

/// Publishes `sturdy` 1.1.0, whose README says "Holds up."
async fn publish_with_readme(registry: &Registry, alice: &Principal) {
    let manifest = "[package]\nname = \"sturdy\"\nversion = \"1.1.0\"\nedition = \"2021\"\n\
                    readme = \"README.md\"\n";
    let tarball = TarballBuilder::new("sturdy-1.1.0")
        .file("Cargo.toml", manifest.as_bytes())
        .file("README.md", b"# Sturdy\n\nHolds up.\n")
        .file("src/lib.rs", b"")
        .build();
    registry
        .publish("main", alice, upload("1.1.0", tarball.into()))
        .await
        .unwrap();
}

/// A lost README that another writer restores while a reindex renders it
/// is the other writer's: the reindex finishes without an error and
/// keeps it, whichever path found it lost.
#[tokio::test]
async fn a_readme_restored_meanwhile_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;
    publish_with_readme(&registry, &alice).await;
    let readme = ObjectKey::readme("main", "sturdy", "1.1.0").unwrap();
    let html = || async {
        let (html, _) = blobs.get(&readme).await.unwrap().expect("a README");
        String::from_utf8(html.to_vec()).unwrap()
    };
    assert!(html().await.contains("Holds up."));
    for whole in [true, false] {
        blobs.delete(&readme).await.unwrap();
        *blobs.readme_meanwhile.lock().unwrap() = Some(readme.clone());
        if whole {
            registry.reindex("main", &|_, _| {}).await.unwrap();
        } else {
            (registry.write_changed_crates(&[sturdy_rebuilt()]).await).unwrap();
        }
        assert!(blobs.readme_meanwhile.lock().unwrap().is_none());
        assert_eq!(html().await, "<p>restored meanwhile</p>");
    }
}

fn named_crate(name: &str, version: &str) -> Upload {
    named_upload(name, version, named_crate_bytes(name, version, ""))
}

/// A whole reindex reads only the files its listings found: with one
/// crate's page lost, every other file must still be compared with its own
/// stored copy, not its neighbour's (a neighbour with a newer revision
/// would make a stale page look newer than it is, and keep it).
#[tokio::test]
async fn a_reindex_with_some_files_lost_compares_each_file_with_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, blobs, alice) = setup(dir.path()).await;
    registry
        .publish("main", &alice, named_crate("apple", "1.0.0"))
        .await
        .unwrap();
    for minor in 0..5 {
        let version = format!("1.{minor}.0");
        registry
            .publish("main", &alice, named_crate("zebra", &version))
            .await
            .unwrap();
    }
    let page = |name| ObjectKey::crate_page("main", name).unwrap();
    let (sturdy_page, meta) = blobs.get(&page("sturdy")).await.unwrap().unwrap();
    // apple's page lost; sturdy's stale, as its revision's (a write that
    // stopped half-way), with zebra's files after it in the same chunk.
    blobs.delete(&page("apple")).await.unwrap();
    let stale = PutOptions {
        metadata: meta.metadata.clone(),
        ..PutOptions::default()
    };
    blobs
        .put(
            &page("sturdy"),
            Bytes::from_static(b"{\"stale\": true}"),
            PutMode::Overwrite,
            stale,
        )
        .await
        .unwrap();

    registry.reindex("main", &|_, _| {}).await.unwrap();
    let (rebuilt, _) = blobs.get(&page("sturdy")).await.unwrap().unwrap();
    assert_eq!(rebuilt, sturdy_page, "the stale page was kept");
    assert!(blobs.get(&page("apple")).await.unwrap().is_some());
}
