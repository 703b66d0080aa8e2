//! The git index writer over a real blob store (local mode's directory):
//! what its tree holds after updates, removals, rebuilds and races.

use bytes::Bytes;
use crateyard_core::{
    BlobStore, CrateName, GitFile, KeyPrefix, ObjectKey, PutMode, RepoName, Repository,
};
use crateyard_git::{EncodedObject, GitIndex, Outcome};
use crateyard_local::{DataDir, FsBlobStore};
use std::sync::Arc;

struct Fixture {
    _dir: tempfile::TempDir,
    blobs: Arc<dyn BlobStore>,
    git: Arc<GitIndex>,
    repo: Repository,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(DataDir::new(dir.path())).unwrap());
    Fixture {
        git: Arc::new(GitIndex::new(blobs.clone())),
        blobs,
        repo: Repository::new_local("main"),
        _dir: dir,
    }
}

impl Fixture {
    async fn write_index_file(&self, name: &str, content: &str) {
        let key = ObjectKey::index_file("main", name).unwrap();
        self.blobs
            .put(
                &key,
                Bytes::from(content.to_string()),
                PutMode::Overwrite,
                key.put_options(false),
            )
            .await
            .unwrap();
    }

    async fn write_config(&self) {
        let key = ObjectKey::index_config("main").unwrap();
        self.blobs
            .put(
                &key,
                Bytes::from_static(b"{\"dl\":\"x\"}"),
                PutMode::Overwrite,
                key.put_options(false),
            )
            .await
            .unwrap();
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let key = ObjectKey::parse(key).unwrap();
        self.blobs.get(&key).await.unwrap().map(|(b, _)| b.to_vec())
    }

    /// The loose objects of repository `main`'s git index.
    async fn loose_objects(&self) -> Vec<String> {
        let prefix = KeyPrefix::Git(RepoName::new("main").unwrap());
        self.blobs
            .list(&prefix)
            .await
            .unwrap()
            .into_iter()
            .filter(|key| {
                matches!(
                    key,
                    ObjectKey::Git {
                        file: GitFile::Object(_),
                        ..
                    }
                )
            })
            .map(|key| key.to_string())
            .collect()
    }

    async fn files(&self) -> Vec<(String, String)> {
        self.git
            .files(&self.repo)
            .await
            .unwrap()
            .into_iter()
            .map(|(path, bytes)| (path, String::from_utf8(bytes).unwrap()))
            .collect()
    }
}

fn names(names: &[&str]) -> Vec<CrateName> {
    names.iter().map(|n| CrateName::new(n).unwrap()).collect()
}

fn pairs(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

#[tokio::test]
async fn the_tree_follows_the_index_files() {
    let f = fixture();
    f.write_config().await;
    f.write_index_file("Serde", "serde 1\n").await;
    // The first update finds no branch: every file goes in.
    f.write_index_file("a", "a 1\n").await;
    f.git.update(&f.repo, &names(&["Serde"])).await.unwrap();
    assert_eq!(
        f.files().await,
        pairs(&[
            ("1/a", "a 1\n"),
            ("config.json", "{\"dl\":\"x\"}"),
            ("se/rd/serde", "serde 1\n"),
        ])
    );
    // A later one takes the crates it names, over the current tree.
    f.write_index_file("a", "a 1\na 2\n").await;
    f.write_index_file("foo-bar", "fb 1\n").await;
    let outcome = f.git.update(&f.repo, &names(&["foo-bar"])).await.unwrap();
    // foo-bar's blob, fo/o-, fo/, the root, the commit.
    assert!(
        matches!(outcome, Outcome::Committed { objects: 5, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        f.files().await,
        pairs(&[
            ("1/a", "a 1\n"),
            ("config.json", "{\"dl\":\"x\"}"),
            ("fo/o-/foo-bar", "fb 1\n"),
            ("se/rd/serde", "serde 1\n"),
        ])
    );
    // Nothing new: no commit.
    let again = f.git.update(&f.repo, &names(&["foo-bar"])).await.unwrap();
    assert_eq!(again, Outcome::Unchanged);
    // A deleted index file leaves the tree.
    f.blobs
        .delete(&ObjectKey::index_file("main", "serde").unwrap())
        .await
        .unwrap();
    f.git.update(&f.repo, &names(&["serde"])).await.unwrap();
    // A rebuild takes everything, `a`'s second line too.
    f.git.rebuild(&f.repo).await.unwrap();
    assert_eq!(
        f.files().await,
        pairs(&[
            ("1/a", "a 1\na 2\n"),
            ("config.json", "{\"dl\":\"x\"}"),
            ("fo/o-/foo-bar", "fb 1\n"),
        ])
    );
    // The rebuild's objects are in a listed pack and nowhere loose (git
    // asks for loose objects first); only its commit is loose.
    let listed = f.get("main/git/objects/info/packs").await.unwrap();
    let listed = String::from_utf8(listed).unwrap();
    assert!(
        listed.starts_with("P pack-") && listed.ends_with(".pack\n"),
        "{listed}"
    );
    let loose = f.loose_objects().await;
    for packed in ["fb 1\n", "a 1\na 2\n"] {
        let id = EncodedObject::blob(packed.as_bytes())
            .unwrap()
            .id
            .to_string();
        let key = format!("main/git/objects/{}/{}", &id[..2], &id[2..]);
        assert!(!loose.contains(&key), "{packed:?} is still loose");
    }
    // A change after it builds on the packed tree.
    f.write_index_file("zz-top", "zz 1\n").await;
    f.git.update(&f.repo, &names(&["zz-top"])).await.unwrap();
    assert_eq!(
        f.files().await,
        pairs(&[
            ("1/a", "a 1\na 2\n"),
            ("config.json", "{\"dl\":\"x\"}"),
            ("fo/o-/foo-bar", "fb 1\n"),
            ("zz/-t/zz-top", "zz 1\n"),
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_lose_no_crate() {
    let f = Arc::new(fixture());
    f.write_config().await;
    f.write_index_file("seed", "seed\n").await;
    f.git.update(&f.repo, &names(&["seed"])).await.unwrap();
    let crates: Vec<String> = (0..24).map(|i| format!("crate{i:02}")).collect();
    let mut writers = Vec::new();
    for name in crates.clone() {
        let f = f.clone();
        writers.push(tokio::spawn(async move {
            f.write_index_file(&name, &format!("{name}\n")).await;
            f.git.update(&f.repo, &names(&[&name])).await.unwrap();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let files = f.files().await;
    for name in &crates {
        let path = format!("cr/at/{name}");
        assert!(
            files
                .iter()
                .any(|(p, c)| *p == path && *c == format!("{name}\n")),
            "{name} lost"
        );
    }
    assert_eq!(files.len(), crates.len() + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuilds_racing_changes_lose_nothing_and_leave_every_object_readable() {
    let f = Arc::new(fixture());
    f.write_config().await;
    let crates: Vec<String> = (0..16).map(|i| format!("mixed{i:02}")).collect();
    let mut writers = Vec::new();
    for (i, name) in crates.clone().into_iter().enumerate() {
        let f = f.clone();
        writers.push(tokio::spawn(async move {
            f.write_index_file(&name, &format!("{name}\n")).await;
            f.git.update(&f.repo, &names(&[&name])).await.unwrap();
            // Every fourth writer also packs the whole index meanwhile.
            if i % 4 == 0 {
                f.git.rebuild(&f.repo).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    // Reading the tip's whole tree finds every object, loose or packed.
    let files = f.files().await;
    for name in &crates {
        let path = format!("mi/xe/{name}");
        assert!(files.iter().any(|(p, _)| *p == path), "{name} lost");
    }
    assert_eq!(files.len(), crates.len() + 1);
}

#[tokio::test]
async fn a_rebuild_repairs_a_damaged_ref() {
    let f = fixture();
    f.write_config().await;
    f.write_index_file("abc", "abc 1\n").await;
    f.git.update(&f.repo, &names(&["abc"])).await.unwrap();
    let refs = ObjectKey::parse("main/git/info/refs").unwrap();
    f.blobs
        .put(
            &refs,
            Bytes::from_static(b"garbage"),
            PutMode::Overwrite,
            refs.put_options(false),
        )
        .await
        .unwrap();
    assert!(f.git.update(&f.repo, &names(&["abc"])).await.is_err());
    f.git.rebuild(&f.repo).await.unwrap();
    assert_eq!(
        f.files().await,
        pairs(&[("3/a/abc", "abc 1\n"), ("config.json", "{\"dl\":\"x\"}")])
    );
}

#[tokio::test]
async fn a_rebuild_of_what_the_tip_holds_packed_writes_nothing() {
    let f = fixture();
    f.write_config().await;
    f.write_index_file("abc", "abc 1\n").await;
    f.write_index_file("serde", "serde 1\n").await;
    assert!(matches!(
        f.git.rebuild(&f.repo).await.unwrap(),
        Outcome::Committed { .. }
    ));
    let tip = f.get("main/git/info/refs").await;
    // Everything packed and the same files: no new commit, no new pack.
    assert_eq!(f.git.rebuild(&f.repo).await.unwrap(), Outcome::Unchanged);
    assert_eq!(f.get("main/git/info/refs").await, tip);
    assert_eq!(listed_packs(&f).await.len(), 1);

    // A file changed since: a new commit, repacked.
    f.write_index_file("abc", "abc 1\nabc 2\n").await;
    assert!(matches!(
        f.git.rebuild(&f.repo).await.unwrap(),
        Outcome::Committed { .. }
    ));
    assert_eq!(f.git.rebuild(&f.repo).await.unwrap(), Outcome::Unchanged);

    // The same files after changes that left them loose (a crate added,
    // then removed): the tree is whole in the pack, nothing to write.
    f.write_index_file("zz", "zz 1\n").await;
    f.git.update(&f.repo, &names(&["zz"])).await.unwrap();
    f.blobs
        .delete(&ObjectKey::index_file("main", "zz").unwrap())
        .await
        .unwrap();
    f.git.update(&f.repo, &names(&["zz"])).await.unwrap();
    assert!(!f.loose_objects().await.is_empty());
    assert_eq!(f.git.rebuild(&f.repo).await.unwrap(), Outcome::Unchanged);

    // Damaged pack indexes: a rebuild writes a new pack, not an error.
    for line in listed_packs(&f).await {
        let pack = line.trim_start_matches("P ").trim_end_matches(".pack");
        let idx = ObjectKey::parse(&format!("main/git/objects/pack/{pack}.idx")).unwrap();
        f.blobs
            .put(
                &idx,
                Bytes::from_static(b"garbage"),
                PutMode::Overwrite,
                idx.put_options(false),
            )
            .await
            .unwrap();
    }
    assert!(matches!(
        f.git.rebuild(&f.repo).await.unwrap(),
        Outcome::Committed { .. }
    ));

    // A lost pack, or a lost HEAD: written again, and a clone reads it all.
    for lost in ["packs", "HEAD"] {
        let keys: Vec<ObjectKey> = match lost {
            "packs" => listed_packs(&f)
                .await
                .iter()
                .map(|line| {
                    let pack = line.trim_start_matches("P ");
                    ObjectKey::parse(&format!("main/git/objects/pack/{pack}")).unwrap()
                })
                .collect(),
            _ => vec![ObjectKey::parse("main/git/HEAD").unwrap()],
        };
        for key in keys {
            f.blobs.delete(&key).await.unwrap();
        }
        assert!(
            matches!(
                f.git.rebuild(&f.repo).await.unwrap(),
                Outcome::Committed { .. }
            ),
            "lost {lost}"
        );
        assert_eq!(
            f.files().await,
            pairs(&[
                ("3/a/abc", "abc 1\nabc 2\n"),
                ("config.json", "{\"dl\":\"x\"}"),
                ("se/rd/serde", "serde 1\n"),
            ]),
            "lost {lost}"
        );
        // Nothing listed whose data is gone: git would fail to fetch it.
        for line in listed_packs(&f).await {
            let pack = line.trim_start_matches("P ");
            let data = f.get(&format!("main/git/objects/pack/{pack}")).await;
            assert!(data.is_some(), "lost {lost}: `{line}` is listed");
        }
    }
    assert!(f.get("main/git/HEAD").await.is_some());

    // A listed pack lost while another holds every object: unlisted too.
    let lost = format!("P pack-{}.pack", "0".repeat(40));
    let info = ObjectKey::parse("main/git/objects/info/packs").unwrap();
    let mut text = f.get("main/git/objects/info/packs").await.unwrap();
    text.extend_from_slice(format!("{lost}\n").as_bytes());
    f.blobs
        .put(
            &info,
            text.into(),
            PutMode::Overwrite,
            info.put_options(false),
        )
        .await
        .unwrap();
    assert!(listed_packs(&f).await.contains(&lost));
    f.git.rebuild(&f.repo).await.unwrap();
    assert!(!listed_packs(&f).await.contains(&lost));
}

/// The packs `objects/info/packs` lists.
async fn listed_packs(f: &Fixture) -> Vec<String> {
    let text = f
        .get("main/git/objects/info/packs")
        .await
        .unwrap_or_default();
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `files` hold crates `{prefix}00..` (`count` of them), each file its
/// name and a newline.
fn assert_holds_each(files: &[(String, String)], prefix: &str, count: usize) {
    for i in 0..count {
        let name = format!("{prefix}{i:02}");
        assert!(
            files
                .iter()
                .any(|(p, c)| p.ends_with(&name) && *c == format!("{name}\n")),
            "{name} lost"
        );
    }
}

#[tokio::test]
async fn changes_past_the_threshold_are_packed_and_stay_readable() {
    let mut f = fixture();
    f.git = Arc::new(GitIndex::new(f.blobs.clone()).with_repack_threshold(8));
    f.write_config().await;
    for i in 0..40 {
        let name = format!("pk{i:02}");
        f.write_index_file(&name, &format!("{name}\n")).await;
        f.git
            .update_and_repack(&f.repo, &names(&[&name]))
            .await
            .unwrap();
        assert!(f.loose_objects().await.len() <= 8, "after {name}");
    }
    let files = f.files().await;
    assert_eq!(files.len(), 41);
    assert_holds_each(&files, "pk", 40);
    // Merged as they grow: far fewer packs than repacks.
    let packs = listed_packs(&f).await;
    assert!(!packs.is_empty() && packs.len() <= 4, "{packs:?}");
}

/// A server's writer repacks after its change returns, in one task that
/// also takes every repository a change asked for while it ran: once it
/// is done, with no change after the last, every loose object is packed
/// (threshold 0: every change asks), and every crate is readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_repacks_pack_every_change_and_lose_none() {
    let mut f = fixture();
    let git = GitIndex::new(f.blobs.clone()).with_repack_threshold(0);
    f.git = Arc::new(git.repacking_in_background());
    f.write_config().await;
    // Four writers at once, so that changes land while a repack runs.
    let f = Arc::new(f);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let f = f.clone();
            tokio::spawn(async move {
                for i in (w..40).step_by(4) {
                    let name = format!("bg{i:02}");
                    f.write_index_file(&name, &format!("{name}\n")).await;
                    f.git
                        .update_and_repack(&f.repo, &names(&[&name]))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !f.loose_objects().await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "never repacked");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let files = f.files().await;
    assert_holds_each(&files, "bg", 40);
    assert!(!listed_packs(&f).await.is_empty());
}

/// Writers and packers at once (threshold 2: nearly every commit repacks,
/// and explicit repacks race them): no crate is lost from the tip, and
/// every commit any writer made stays readable whole, loose or packed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_writers_and_packers_lose_no_commit_and_no_object() {
    let mut f = fixture();
    f.git = Arc::new(GitIndex::new(f.blobs.clone()).with_repack_threshold(2));
    let f = Arc::new(f);
    f.write_config().await;
    let crates: Vec<String> = (0..32).map(|i| format!("race{i:02}")).collect();
    let mut tasks = Vec::new();
    for (i, name) in crates.clone().into_iter().enumerate() {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            f.write_index_file(&name, &format!("{name}\n")).await;
            let outcome = f.git.update_and_repack(&f.repo, &names(&[&name])).await;
            // Every eighth also rebuilds the whole index into one pack.
            if i % 8 == 0 {
                f.git.rebuild(&f.repo).await.unwrap();
            }
            outcome.unwrap()
        }));
    }
    // Packers with no change of their own, racing the writers.
    let repo = RepoName::new("main").unwrap();
    let mut packers = Vec::new();
    for _ in 0..4 {
        let (f, repo) = (f.clone(), repo.clone());
        packers.push(tokio::spawn(async move {
            let packer = GitIndex::new(f.blobs.clone()).with_repack_threshold(0);
            for _ in 0..8 {
                packer.repack_if_needed(&repo, false).await.unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    let mut commits = Vec::new();
    for task in tasks {
        if let Outcome::Committed { commit, .. } = task.await.unwrap() {
            commits.push(commit);
        }
    }
    for packer in packers {
        packer.await.unwrap();
    }
    let files = f.files().await;
    for name in &crates {
        let path = format!("ra/ce/{name}");
        assert!(files.iter().any(|(p, _)| *p == path), "{name} lost");
    }
    assert_eq!(files.len(), crates.len() + 1);
    // Each commit's whole tree: nothing any tip reached was lost.
    for commit in &commits {
        let at = f.git.files_at(&f.repo, commit).await;
        assert!(at.is_ok(), "commit {commit}: {at:?}");
    }
    // And one more writer builds on what the packers left.
    f.write_index_file("last", "last\n").await;
    f.git.update(&f.repo, &names(&["last"])).await.unwrap();
    assert_eq!(f.files().await.len(), crates.len() + 2);
}

/// The local store, refusing writes of `objects/info/packs` while told to.
struct PackListRefused {
    inner: Arc<dyn BlobStore>,
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl BlobStore for PackListRefused {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: crateyard_core::PutOptions,
    ) -> Result<crateyard_core::ObjectMeta, crateyard_core::BlobError> {
        let refused = matches!(
            key,
            ObjectKey::Git {
                file: GitFile::InfoPacks,
                ..
            }
        ) && self.refuse.load(std::sync::atomic::Ordering::SeqCst);
        if refused {
            return Err(crateyard_core::BlobError::Backend("refused".into()));
        }
        self.inner.put(key, body, mode, options).await
    }
    async fn get(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(Bytes, crateyard_core::ObjectMeta)>, crateyard_core::BlobError> {
        self.inner.get(key).await
    }
    async fn head(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<crateyard_core::ObjectMeta>, crateyard_core::BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &ObjectKey) -> Result<(), crateyard_core::BlobError> {
        self.inner.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &ObjectKey,
        etag: &str,
    ) -> Result<(), crateyard_core::BlobError> {
        self.inner.delete_if(key, etag).await
    }
    async fn list(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, crateyard_core::BlobError> {
        self.inner.list(prefix).await
    }
}

/// A repack whose pack cannot be listed deletes no loose copy: the tip
/// stays readable whole, and the next change packs once it can.
#[tokio::test]
async fn a_repack_that_cannot_list_its_pack_removes_nothing() {
    let mut f = fixture();
    let refusing = Arc::new(PackListRefused {
        inner: f.blobs.clone(),
        refuse: std::sync::atomic::AtomicBool::new(true),
    });
    f.blobs = refusing.clone();
    f.git = Arc::new(GitIndex::new(f.blobs.clone()).with_repack_threshold(8));
    f.write_config().await;
    for i in 0..12 {
        let name = format!("nl{i:02}");
        f.write_index_file(&name, &format!("{name}\n")).await;
        // The commit stands; the repack's failure is only logged.
        f.git
            .update_and_repack(&f.repo, &names(&[&name]))
            .await
            .unwrap();
    }
    assert!(f.loose_objects().await.len() > 8);
    assert!(listed_packs(&f).await.is_empty());
    assert_eq!(f.files().await.len(), 13);

    refusing
        .refuse
        .store(false, std::sync::atomic::Ordering::SeqCst);
    f.write_index_file("nl99", "nl99\n").await;
    f.git
        .update_and_repack(&f.repo, &names(&["nl99"]))
        .await
        .unwrap();
    assert!(f.loose_objects().await.len() <= 8);
    assert_eq!(listed_packs(&f).await.len(), 1);
    assert_eq!(f.files().await.len(), 14);
}
