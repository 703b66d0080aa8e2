//! Port faults beyond `faults.rs`, on the real local adapters: a `.crate`
//! write that fails, an index write that fails for a crate's first version,
//! and a metadata commit the database rejects (a real SQLite error, raised
//! by a trigger). After each, nothing is half-visible (no index line without
//! its committed version and `.crate`), and a retry or `reindex` converges
//! with nothing lost.

use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, KeyPrefix, ObjectKey, ObjectMeta, Principal, PutMode, PutOptions,
    Registry, RegistryConfig, RegistryError, StoreError, Upload,
};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use crateyard_tarball::TarballBuilder;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The real file store; puts to keys containing `failing` fail while set.
struct FaultyPuts {
    inner: FsBlobStore,
    failing: Mutex<Option<&'static str>>,
    /// Creates of keys containing this answer only after the delay, as a
    /// slow S3 response: the object is there, its writer does not know yet.
    slow_creates: Mutex<Option<(&'static str, Duration)>>,
}

impl FaultyPuts {
    fn fail_puts_to(&self, part: Option<&'static str>) {
        *self.failing.lock().unwrap() = part;
    }

    fn slow_creates_of(&self, part: &'static str, delay: Duration) {
        *self.slow_creates.lock().unwrap() = Some((part, delay));
    }
}

#[async_trait]
impl BlobStore for FaultyPuts {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        if let Some(part) = *self.failing.lock().unwrap()
            && key.to_string().contains(part)
        {
            return Err(BlobError::Backend(format!("injected: put of {key} failed")));
        }
        let create = mode == PutMode::Create;
        let put = self.inner.put(key, body, mode, options).await;
        let slow = *self.slow_creates.lock().unwrap();
        if let (Ok(_), true, Some((part, delay))) = (&put, create, slow)
            && key.to_string().contains(part)
        {
            tokio::time::sleep(delay).await;
        }
        put
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
        self.inner.list(prefix).await
    }
}

fn crate_bytes(name: &str, version: &str, marker: &str) -> Bytes {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", marker.as_bytes())
        .build()
        .into()
}

fn upload(name: &str, version: &str, tarball: Bytes) -> Upload {
    Upload::Direct {
        name: name.into(),
        file_name: format!("{name}-{version}.crate"),
        tarball,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    dirs: DataDir,
    registry: Registry,
    blobs: Arc<FaultyPuts>,
    alice: Principal,
}

impl Fixture {
    /// A registry where alice has published `sturdy` 1.0.0.
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dirs = DataDir::new(dir.path());
        let blobs = Arc::new(FaultyPuts {
            inner: FsBlobStore::new(dirs.clone()).unwrap(),
            failing: Mutex::new(None),
            slow_creates: Mutex::new(None),
        });
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
        let alice = registry.acting_as("alice").await.unwrap();
        let fixture = Self {
            _dir: dir,
            dirs,
            registry,
            blobs,
            alice,
        };
        fixture.publish("sturdy", "1.0.0", "").await.unwrap();
        fixture
    }

    async fn publish(&self, name: &str, version: &str, marker: &str) -> Result<(), RegistryError> {
        let tarball = crate_bytes(name, version, marker);
        self.registry
            .publish("main", &self.alice, upload(name, version, tarball))
            .await
            .map(|_| ())
    }

    /// The committed versions, as search and the metadata store see them.
    async fn max_version(&self, name: &str) -> Option<String> {
        let hits = self.registry.search(None, "main", name, 10).await.unwrap();
        hits.crates
            .into_iter()
            .find(|h| h.name == name)
            .map(|h| h.max_version)
    }

    /// The versions in the index file, each checked against its `.crate`.
    async fn indexed(&self, name: &str) -> Vec<String> {
        let Some((index, _)) = self
            .blobs
            .get(&ObjectKey::index_file("main", name).unwrap())
            .await
            .unwrap()
        else {
            return vec![];
        };
        let mut versions = Vec::new();
        for line in std::str::from_utf8(&index).unwrap().lines() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let version = line["vers"].as_str().unwrap().to_string();
            let (bytes, _) = self
                .blobs
                .get(&ObjectKey::crate_file("main", name, &version).unwrap())
                .await
                .unwrap()
                .expect("an indexed .crate exists");
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                line["cksum"].as_str().unwrap()
            );
            versions.push(version);
        }
        versions
    }

    async fn crate_file_exists(&self, name: &str, version: &str) -> bool {
        let key = ObjectKey::crate_file("main", name, version).unwrap();
        self.blobs.head(&key).await.unwrap().is_some()
    }

    /// Makes SQLite itself refuse every change to crate rows, from another
    /// connection, as a full disk or an I/O error would.
    fn reject_commits(&self, rejected: bool) {
        let conn = rusqlite::Connection::open(self.dirs.database()).unwrap();
        let sql = if rejected {
            "CREATE TRIGGER reject_insert BEFORE INSERT ON crates BEGIN SELECT RAISE(ABORT, 'injected: commit failed'); END;
             CREATE TRIGGER reject_update BEFORE UPDATE ON crates BEGIN SELECT RAISE(ABORT, 'injected: commit failed'); END;"
        } else {
            "DROP TRIGGER reject_insert; DROP TRIGGER reject_update;"
        };
        conn.execute_batch(sql).unwrap();
    }

    async fn reindex(&self) {
        self.registry.reindex("main", &|_, _| {}).await.unwrap();
    }
}

#[tokio::test]
async fn failed_crate_write_leaves_nothing_and_a_retry_succeeds() {
    let f = Fixture::new().await;

    f.blobs.fail_puts_to(Some("/crates/"));
    let err = f.publish("sturdy", "1.1.0", "").await.unwrap_err();
    assert!(matches!(err, RegistryError::Blob(_)), "{err}");
    let err = f.publish("fresh", "0.1.0", "").await.unwrap_err();
    assert!(matches!(err, RegistryError::Blob(_)), "{err}");
    assert_eq!(f.max_version("sturdy").await.as_deref(), Some("1.0.0"));
    assert_eq!(f.max_version("fresh").await, None, "no crate row");
    assert_eq!(f.indexed("sturdy").await, ["1.0.0"]);
    assert!(f.indexed("fresh").await.is_empty(), "no index file");
    assert!(!f.crate_file_exists("sturdy", "1.1.0").await);

    f.blobs.fail_puts_to(None);
    f.publish("sturdy", "1.1.0", "").await.unwrap();
    f.publish("fresh", "0.1.0", "").await.unwrap();
    assert_eq!(f.indexed("sturdy").await, ["1.0.0", "1.1.0"]);
    assert_eq!(f.indexed("fresh").await, ["0.1.0"]);
}

#[tokio::test]
async fn rejected_commit_is_invisible_and_a_retry_completes_it() {
    let f = Fixture::new().await;

    f.reject_commits(true);
    for (name, version) in [("sturdy", "1.1.0"), ("fresh", "0.1.0")] {
        let err = f.publish(name, version, "").await.unwrap_err();
        assert!(
            matches!(err, RegistryError::Store(StoreError::Backend(_))),
            "{name}: {err}"
        );
    }
    f.reject_commits(false);
    // Whether a failed commit went through is unknown to the writer, so the
    // .crate stays; it is not indexed, even by a reindex.
    assert!(f.crate_file_exists("sturdy", "1.1.0").await);
    f.reindex().await;
    assert_eq!(f.indexed("sturdy").await, ["1.0.0"]);
    assert!(f.indexed("fresh").await.is_empty());
    assert_eq!(f.max_version("sturdy").await.as_deref(), Some("1.0.0"));
    assert_eq!(f.max_version("fresh").await, None);

    // Other bytes under that version are refused while the orphan stands;
    // the retry of the same bytes completes the publish.
    let err = f.publish("sturdy", "1.1.0", "// other").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::UploadInProgress { .. }),
        "{err}"
    );
    f.publish("sturdy", "1.1.0", "").await.unwrap();
    f.publish("fresh", "0.1.0", "").await.unwrap();
    assert_eq!(f.indexed("sturdy").await, ["1.0.0", "1.1.0"]);
    assert_eq!(f.indexed("fresh").await, ["0.1.0"]);
    assert_eq!(f.max_version("sturdy").await.as_deref(), Some("1.1.0"));
}

#[tokio::test]
async fn committed_but_unindexed_first_version_is_repaired_by_a_retry() {
    let f = Fixture::new().await;

    // The commit lands, the index write fails: what a lost answer after a
    // commit, or a crash right after it, also leaves.
    f.blobs.fail_puts_to(Some("/index/"));
    f.publish("fresh", "0.1.0", "").await.unwrap();
    assert_eq!(f.max_version("fresh").await.as_deref(), Some("0.1.0"));
    assert!(f.indexed("fresh").await.is_empty(), "no index file: a 404");
    f.blobs.fail_puts_to(None);

    // cargo's retry is told the version exists, and the index catches up.
    let err = f.publish("fresh", "0.1.0", "").await.unwrap_err();
    assert!(matches!(err, RegistryError::VersionExists { .. }), "{err}");
    assert_eq!(f.indexed("fresh").await, ["0.1.0"]);
    f.reindex().await;
    assert_eq!(f.indexed("fresh").await, ["0.1.0"]);
}

/// The yank commits, its index write fails: the index still offers the
/// version. cargo's repeated `yank` finds it yanked already, and must repair
/// the index rather than answer "ok" over it.
#[tokio::test]
async fn a_repeated_yank_repairs_an_index_write_that_failed() {
    let f = Fixture::new().await;
    let yanked = || async {
        let (index, _) = f
            .blobs
            .get(&ObjectKey::index_file("main", "sturdy").unwrap())
            .await
            .unwrap()
            .unwrap();
        let line: serde_json::Value =
            serde_json::from_slice(index.split(|b| *b == b'\n').next().unwrap()).unwrap();
        line["yanked"].as_bool().unwrap()
    };
    let yank = || {
        f.registry.set_yanked(
            "main",
            async { Ok(f.alice.clone()) },
            "sturdy",
            "1.0.0",
            true,
        )
    };

    f.blobs.fail_puts_to(Some("/index/"));
    assert!(yank().await.is_err(), "the failed index write is reported");
    f.blobs.fail_puts_to(None);
    assert!(!yanked().await, "the index still offers 1.0.0");

    yank().await.unwrap();
    assert!(yanked().await, "the repeat wrote the index");
}

/// The red team's data loss, made deterministic: writer A creates the
/// `.crate` but hears so late; writer B, publishing the same bytes, reuses
/// it and wins the commit; A's commit is then refused. A must not delete the
/// bytes B's committed version points to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_writer_never_deletes_the_bytes_of_a_committed_version() {
    let fixture = Fixture::new().await;
    fixture
        .blobs
        .slow_creates_of("/crates/twin/", Duration::from_millis(400));
    let late_twin = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fixture.publish("twin", "1.0.0", "").await
    };
    let (a, b) = tokio::join!(fixture.publish("twin", "1.0.0", ""), late_twin);
    assert!(b.is_ok(), "the reusing writer wins: {b:?}");
    assert!(
        matches!(a, Err(RegistryError::VersionExists { .. })),
        "the slow creator is refused: {a:?}"
    );
    assert!(fixture.crate_file_exists("twin", "1.0.0").await);
    // The committed version's index line, checked against its bytes.
    assert_eq!(fixture.indexed("twin").await, ["1.0.0"]);
}
