//! The git index writer over a real blob store (local mode's directory):
//! what its tree holds after updates, removals, rebuilds and races.

use bytes::Bytes;
use crateyard_core::{BlobStore, CrateName, ObjectKey, PutMode, Repository};
use crateyard_git::{GitIndex, Outcome};
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
