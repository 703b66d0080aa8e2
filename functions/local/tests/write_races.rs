//! Changes racing writers, on the real local adapters, each run at the
//! worst moment by a second registry on the same stores: a writer that read
//! a crate's versions just before a deletion committed must not bring back
//! the deleted version's page after the purge; a publish that read the
//! repository's settings just before it turned private must not leave a
//! public `.crate` behind, nor files written after it public.

use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    Actor, BlobError, BlobStore, IndexMirror, KeyPrefix, MetadataStore, ObjectKey, ObjectMeta,
    Principal, PutMode, PutOptions, Registry, RegistryConfig, RegistryError, ReindexTask,
    RepositoryChange, Upload, UserChange, parse_grant,
};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use crateyard_tarball::TarballBuilder;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where the writer is when the other registry makes its change.
#[derive(PartialEq)]
enum Step {
    /// Before a `.crate` is stored: after the publish read the settings.
    StoreCrate,
    /// Before a crate's version pages are listed: after the writer read
    /// the crate's versions and the settings, before it writes.
    ListVersionPages,
    /// Before a version page is written: the writer has decided to create
    /// it from what it read.
    PutVersionPage,
    /// Before a README is written: the writer has rendered it from the
    /// version's `.crate`.
    PutReadme,
    /// Before an index file is written: the writer has read the settings
    /// it tags the file with.
    PutIndexFile,
    /// Before a file of the git index is written.
    PutGitFile,
    /// Before the git index's files are listed: a rebuild has built its
    /// tree and checks it against the tip.
    ListGitFiles,
    /// Before an object is tagged with its repository's visibility.
    SetPrivate,
    /// Before a repository's `config.json` is written.
    PutIndexConfig,
}

/// What the other registry changes.
enum Change {
    DeleteVersion(&'static str),
    MakePrivate,
    Publish(&'static str),
    /// A grant (`parse_grant`'s form) replacing its subject's.
    Grant(&'static str),
}

/// The change the other registry makes, once, when the writer reaches `at`.
struct Race {
    at: Step,
    change: Change,
    by: Registry,
}

/// The real file store, running the armed race at its step. It also keeps
/// what S3's tags would say of each object written through it (the local
/// store has no static read path, so it keeps no visibility of its own).
struct Racy {
    inner: FsBlobStore,
    race: Mutex<Option<Race>>,
    private: Mutex<HashMap<ObjectKey, bool>>,
    /// Each visibility tag set, in order (`true`: private).
    tags_set: Mutex<Vec<bool>>,
}

impl Racy {
    fn arm(&self, at: Step, change: Change, by: Registry) {
        *self.race.lock().unwrap() = Some(Race { at, change, by });
    }

    fn ran(&self) -> bool {
        self.race.lock().unwrap().is_none()
    }

    async fn reach(&self, step: Step) {
        let race = {
            let mut race = self.race.lock().unwrap();
            match race.as_ref() {
                Some(armed) if armed.at == step => race.take(),
                _ => None,
            }
        };
        let Some(Race { change, by, .. }) = race else {
            return;
        };
        match change {
            Change::DeleteVersion(version) => {
                let deleted = by
                    .delete_versions("main", None, "racy", Some(version), "leaked secret")
                    .await
                    .unwrap();
                assert_eq!(deleted, [version]);
            }
            Change::Publish(version) => {
                let alice = by.acting_as("alice").await.unwrap();
                by.publish("main", &alice, upload(version)).await.unwrap();
            }
            Change::Grant(grant) => {
                let grant = RepositoryChange {
                    grants: vec![parse_grant(grant).unwrap()],
                    ..RepositoryChange::default()
                };
                by.update_repository("main", grant, &Actor::operator())
                    .await
                    .unwrap();
            }
            Change::MakePrivate => {
                let private = RepositoryChange {
                    anonymous_read: Some(false),
                    ..RepositoryChange::default()
                };
                by.update_repository("main", private, &Actor::operator())
                    .await
                    .unwrap();
            }
        }
    }
}

#[async_trait]
impl BlobStore for Racy {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        match key {
            ObjectKey::CrateFile { .. } => self.reach(Step::StoreCrate).await,
            ObjectKey::VersionPage { .. } => self.reach(Step::PutVersionPage).await,
            ObjectKey::Readme { .. } => self.reach(Step::PutReadme).await,
            ObjectKey::IndexFile { .. } => self.reach(Step::PutIndexFile).await,
            ObjectKey::Git { .. } => self.reach(Step::PutGitFile).await,
            ObjectKey::IndexConfig { .. } => self.reach(Step::PutIndexConfig).await,
            _ => {}
        }
        let private = options.private;
        let stored = self.inner.put(key, body, mode, options).await?;
        self.private.lock().unwrap().insert(key.clone(), private);
        Ok(stored)
    }
    async fn set_private(&self, key: &ObjectKey, private: bool) -> Result<(), BlobError> {
        self.reach(Step::SetPrivate).await;
        self.tags_set.lock().unwrap().push(private);
        self.private.lock().unwrap().insert(key.clone(), private);
        Ok(())
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
        match prefix {
            KeyPrefix::CrateVersionPages { .. } => self.reach(Step::ListVersionPages).await,
            KeyPrefix::Git(_) => self.reach(Step::ListGitFiles).await,
            _ => {}
        }
        self.inner.list(prefix).await
    }
}

fn upload(version: &str) -> Upload {
    let manifest = format!(
        "[package]\nname = \"racy\"\nversion = \"{version}\"\nedition = \"2021\"\nreadme = \"README.md\"\n"
    );
    Upload::Direct {
        name: "racy".into(),
        file_name: format!("racy-{version}.crate"),
        tarball: TarballBuilder::new(&format!("racy-{version}"))
            .file("Cargo.toml", manifest.as_bytes())
            .file("README.md", b"# racy\n")
            .file("src/lib.rs", b"")
            .build()
            .into(),
    }
}

/// The writer's registry on a fresh data directory with user alice and
/// repository `main`, and a maker of the racing registry.
struct Setup {
    _dir: tempfile::TempDir,
    blobs: Arc<Racy>,
    registry: Registry,
    other: Box<dyn Fn() -> Registry>,
    /// A registry on the writer's store that also writes the git index.
    with_git_index: Box<dyn Fn() -> Registry>,
    alice: Principal,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let dirs = DataDir::new(dir.path());
    let store: Arc<dyn MetadataStore> = Arc::new(SqliteStore::open(&dirs.database()).unwrap());
    let blobs = Arc::new(Racy {
        inner: FsBlobStore::new(dirs.clone()).unwrap(),
        race: Mutex::default(),
        private: Mutex::default(),
        tags_set: Mutex::default(),
    });
    let config = || RegistryConfig::new("http://127.0.0.1:1", None);
    let registry = Registry::new(blobs.clone(), store.clone(), config());
    registry.ensure_repository("main").await.unwrap();
    registry
        .put_user("alice", UserChange::default(), &Actor::operator())
        .await
        .unwrap();
    let alice = registry.acting_as("alice").await.unwrap();
    let (racy, git_store) = (blobs.clone(), store.clone());
    let with_git_index = Box::new(move || {
        Registry::new(racy.clone(), git_store.clone(), config()).with_index_mirror(|blobs| {
            Arc::new(crateyard_git::GitIndex::new(blobs)) as Arc<dyn IndexMirror>
        })
    });
    let other = Box::new(move || {
        let blobs = Arc::new(FsBlobStore::new(dirs.clone()).unwrap());
        Registry::new(blobs, store.clone(), config())
    });
    Setup {
        _dir: dir,
        blobs,
        registry,
        other,
        with_git_index,
        alice,
    }
}

async fn publish(registry: &Registry, alice: &Principal, versions: &[&str]) {
    for version in versions {
        registry
            .publish("main", alice, upload(version))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_version_deleted_while_its_page_is_restored_stays_deleted() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0", "1.1.0"]).await;
    let page = |v| ObjectKey::version_page("main", "racy", v).unwrap();
    // 1.0.0's page lost, so the next writer of the crate's page restores it.
    blobs.inner.delete(&page("1.0.0")).await.unwrap();

    blobs.arm(
        Step::ListVersionPages,
        Change::DeleteVersion("1.0.0"),
        other(),
    );
    registry.rebuild_crate_files("main", "racy").await.unwrap();
    assert!(blobs.ran());

    assert_eq!(blobs.head(&page("1.0.0")).await.unwrap(), None);
    assert!(blobs.head(&page("1.1.0")).await.unwrap().is_some());
    let crate_file = ObjectKey::crate_file("main", "racy", "1.0.0").unwrap();
    assert_eq!(blobs.head(&crate_file).await.unwrap(), None);
}

#[tokio::test]
async fn a_whole_reindex_racing_a_deletion_leaves_no_page_of_it() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0", "1.1.0"]).await;
    let page = |v| ObjectKey::version_page("main", "racy", v).unwrap();
    for version in ["1.0.0", "1.1.0"] {
        blobs.inner.delete(&page(version)).await.unwrap();
    }
    // The bulk read has both versions; 1.0.0 is deleted as its page is
    // about to be written again.
    blobs.arm(
        Step::PutVersionPage,
        Change::DeleteVersion("1.0.0"),
        other(),
    );
    registry.reindex("main", &|_, _| {}).await.unwrap();
    assert!(blobs.ran());
    assert_eq!(blobs.head(&page("1.0.0")).await.unwrap(), None);
    assert!(blobs.head(&page("1.1.0")).await.unwrap().is_some());
}

#[tokio::test]
async fn a_publish_racing_a_turn_to_private_stores_nothing_public() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0"]).await;

    blobs.arm(Step::StoreCrate, Change::MakePrivate, other());
    let raced = registry.publish("main", &alice, upload("1.1.0")).await;
    assert!(blobs.ran());
    let Err(err) = raced else {
        panic!("a publish decided on public settings went through: {raced:?}")
    };
    assert!(
        matches!(err, RegistryError::RepositoryChanged(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("publish again"), "{err}");
    // The object stays (an identical publish may share it), private now.
    let crate_file = |v| ObjectKey::crate_file("main", "racy", v).unwrap();
    let private = |v| blobs.private.lock().unwrap()[&crate_file(v)];
    assert!(private("1.1.0"), "re-tagged private");
    let index = ObjectKey::index_file("main", "racy").unwrap();
    let (lines, _) = blobs.get(&index).await.unwrap().unwrap();
    assert_eq!(std::str::from_utf8(&lines).unwrap().lines().count(), 1);

    // Published again, on the settings as they are now.
    registry
        .publish("main", &alice, upload("1.1.0"))
        .await
        .unwrap();
    assert!(blobs.head(&crate_file("1.1.0")).await.unwrap().is_some());
    assert!(private("1.1.0"));
}

/// A turn to public overtaken by a turn back to private, re-tag and
/// `config.json` and all, at `step` of the first: its re-tag, or its
/// `config.json` written after the newer one's. Nothing may stay public.
async fn a_turn_to_public_overtaken_at(step: Step, versions: &[&str]) -> Arc<Racy> {
    let Setup {
        _dir,
        blobs,
        registry,
        with_git_index,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, versions).await;
    let visibility = |public| RepositoryChange {
        anonymous_read: Some(public),
        ..RepositoryChange::default()
    };
    let operator = Actor::operator();
    registry
        .update_repository("main", visibility(false), &operator)
        .await
        .unwrap();

    // The racer shares the tag-keeping store, so its re-tag is recorded.
    blobs.arm(step, Change::MakePrivate, with_git_index());
    registry
        .update_repository("main", visibility(true), &operator)
        .await
        .unwrap();
    assert!(blobs.ran());
    let tags = blobs.private.lock().unwrap().clone();
    let public: Vec<_> = tags
        .iter()
        .filter(|(key, private)| key.to_string().starts_with("main/") && !**private)
        .collect();
    assert!(public.is_empty(), "left public: {public:?}");
    assert!(tags.contains_key(&ObjectKey::crate_file("main", "racy", "1.1.0").unwrap()));
    let config = ObjectKey::index_config("main").unwrap();
    let (config, _) = blobs.get(&config).await.unwrap().unwrap();
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auth-required"], true);
    blobs
}

#[tokio::test]
async fn a_re_tag_overtaken_by_a_newer_change_follows_it() {
    a_turn_to_public_overtaken_at(Step::SetPrivate, &["1.0.0", "1.1.0"]).await;
}

/// Overtaken early in a long re-tag, it stops tagging with the older
/// setting within 256 objects, not at its end.
#[tokio::test]
async fn a_long_re_tag_follows_a_newer_change_within_256_objects() {
    let versions: Vec<String> = (0..200).map(|minor| format!("1.{minor}.0")).collect();
    let versions: Vec<&str> = versions.iter().map(String::as_str).collect();
    let blobs = a_turn_to_public_overtaken_at(Step::SetPrivate, &versions).await;
    let objects = blobs.private.lock().unwrap().len();
    assert!(objects > 2 * 256, "only {objects} objects: too few to tell");
    let tags = blobs.tags_set.lock().unwrap();
    let stale = tags.iter().filter(|private| !**private).count();
    assert!(
        (1..=256).contains(&stale),
        "{stale} tags with the older setting"
    );
}

#[tokio::test]
async fn a_config_json_overtaken_by_a_newer_change_is_written_again() {
    a_turn_to_public_overtaken_at(Step::PutIndexConfig, &["1.0.0", "1.1.0"]).await;
}

#[tokio::test]
async fn files_written_on_settings_changed_meanwhile_follow_the_change() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0"]).await;
    let index = ObjectKey::index_file("main", "racy").unwrap();
    blobs.inner.delete(&index).await.unwrap();

    // The repair read the settings (public), then the repository turned
    // private, and its re-tag (through the other registry) listed before
    // the index file was written again, public.
    blobs.arm(Step::PutIndexFile, Change::MakePrivate, other());
    registry.rebuild_crate_files("main", "racy").await.unwrap();
    assert!(blobs.ran());
    assert!(blobs.private.lock().unwrap()[&index]);
}

#[tokio::test]
async fn a_publish_reusing_its_crate_file_tags_it_as_the_repository_is_now() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    let Upload::Direct { tarball, .. } = upload("1.0.0") else {
        unreachable!()
    };
    let key = ObjectKey::crate_file("main", "racy", "1.0.0").unwrap();
    // An attempt stored its `.crate` while the repository was public, and
    // stopped before its commit (a crash, a lost answer).
    let public = key.put_options(false);
    blobs
        .put(&key, tarball.clone(), PutMode::Create, public)
        .await
        .unwrap();
    let private = RepositoryChange {
        anonymous_read: Some(false),
        ..RepositoryChange::default()
    };
    other()
        .update_repository("main", private, &Actor::operator())
        .await
        .unwrap();

    // The retry finds the same bytes there and commits on the new settings.
    let retry = Upload::Direct {
        name: "racy".into(),
        file_name: "racy-1.0.0.crate".into(),
        tarball,
    };
    registry.publish("main", &alice, retry).await.unwrap();
    assert!(blobs.private.lock().unwrap()[&key]);
}

#[tokio::test]
async fn a_git_index_update_racing_a_turn_to_private_follows_it() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        with_git_index,
        alice,
    } = setup().await;
    publish(&registry, &alice, &["1.0.0"]).await;

    // The task (a rebuild of the repository's git index) read the public
    // settings; the repository turns private as its first file is written.
    blobs.arm(Step::PutGitFile, Change::MakePrivate, other());
    let mirror = ReindexTask::Mirror {
        repo: "main".into(),
        crates: None,
    };
    with_git_index().run_reindex_task(mirror).await.unwrap();
    assert!(blobs.ran());
    let tags = blobs.private.lock().unwrap();
    let git: Vec<_> = tags
        .iter()
        .filter(|(key, _)| matches!(key, ObjectKey::Git { .. }))
        .collect();
    assert!(!git.is_empty(), "the git index was written");
    for (key, private) in git {
        assert!(private, "{key} left public");
    }
}

#[tokio::test]
async fn a_publish_racing_a_reindex_reaches_its_git_index() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        with_git_index,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0"]).await;
    let reindexer = with_git_index();
    reindexer.reindex("main", &|_, _| {}).await.unwrap();

    // The next reindex finds every file right and builds, from the index
    // files it holds in memory, the tree the tip has; 1.1.0 is published
    // as it checks that tree against the tip.
    blobs.arm(Step::ListGitFiles, Change::Publish("1.1.0"), other());
    reindexer.reindex("main", &|_, _| {}).await.unwrap();
    assert!(blobs.ran());
    let git = crateyard_git::GitIndex::new(blobs.clone());
    let files = git
        .files(&crateyard_core::Repository::new_local("main"))
        .await
        .unwrap();
    let (_, racy) = files.iter().find(|(path, _)| path == "ra/cy/racy").unwrap();
    let versions: Vec<&str> = std::str::from_utf8(racy)
        .unwrap()
        .lines()
        .map(|line| {
            if line.contains("\"1.1.0\"") {
                "1.1.0"
            } else {
                "other"
            }
        })
        .collect();
    assert_eq!(versions, ["other", "1.1.0"], "the git index lacks 1.1.0");
}

#[tokio::test]
async fn a_publish_racing_a_change_of_grants_is_decided_on_the_new_grants() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0"]).await;
    let index = ObjectKey::index_file("main", "racy").unwrap();
    let lines = || async {
        let (lines, _) = blobs.get(&index).await.unwrap().unwrap();
        std::str::from_utf8(&lines).unwrap().lines().count()
    };

    // A grant to someone else: the publish goes through, no "publish again".
    blobs.arm(Step::StoreCrate, Change::Grant("user:bob=read"), other());
    registry
        .publish("main", &alice, upload("1.1.0"))
        .await
        .unwrap();
    assert!(blobs.ran());
    assert_eq!(lines().await, 2);

    // Publishing taken from everyone signed in meanwhile: refused, as it
    // would be after the change, and nothing is published.
    blobs.arm(
        Step::StoreCrate,
        Change::Grant("authenticated=read"),
        other(),
    );
    let refused = registry.publish("main", &alice, upload("1.2.0")).await;
    assert!(blobs.ran());
    let err = refused.unwrap_err();
    assert!(matches!(err, RegistryError::Forbidden(_)), "{err:?}");
    assert_eq!(lines().await, 2);
}

#[tokio::test]
async fn a_whole_reindex_racing_a_deletion_leaves_no_readme_of_it() {
    let Setup {
        _dir,
        blobs,
        registry,
        other,
        alice,
        ..
    } = setup().await;
    publish(&registry, &alice, &["1.0.0", "1.1.0"]).await;
    let readme = |v| ObjectKey::readme("main", "racy", v).unwrap();
    for version in ["1.0.0", "1.1.0"] {
        blobs.inner.delete(&readme(version)).await.unwrap();
    }
    // The bulk read has both versions; 1.0.0 is deleted (its `.crate`
    // and README purged) as its README, rendered from the `.crate` read
    // before, is about to be written again.
    blobs.arm(Step::PutReadme, Change::DeleteVersion("1.0.0"), other());
    registry.reindex("main", &|_, _| {}).await.unwrap();
    assert!(blobs.ran());
    assert_eq!(blobs.head(&readme("1.0.0")).await.unwrap(), None);
    assert!(blobs.head(&readme("1.1.0")).await.unwrap().is_some());
}
