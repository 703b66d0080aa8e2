//! A second form of a repository's index, kept in step with the sparse
//! index files (the git index: `crateyard_git`). The port lets the binaries
//! that write derived files carry its code, and the others (the API
//! function on AWS, whose index follows the change stream) leave it out.
//!
//! Every kind of repository has one. A local repository's and a remote
//! one's (its cached files) mirror their stored index files; a virtual
//! one's holds, for each crate, the file of the member that serves it
//! ([`crate::access::in_virtual_git_index`] decides what it may show).

use crate::{
    BlobError, BlobStore, CrateName, GitFile, KeyPrefix, ObjectKey, RegistryError, RepoKind,
    RepoName, Repository, reindex_jobs::ReindexTask,
};
use crate::{Registry, TaskQueue};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use std::sync::Arc;

/// A file of a mirrored index, by its path in the index (`config.json`,
/// `se/rd/serde`); `None`: not in the index (any more).
pub type IndexFileEntry = (String, Option<Bytes>);

/// Reads and writes in flight at once (each a round trip on AWS).
const CONCURRENCY: usize = 32;
/// Index files read in one call to the store.
const READ_CHUNK: usize = 8;

/// What a repository's index holds now: what its mirror copies.
#[async_trait]
pub trait IndexFiles: Send + Sync {
    /// `config.json` and these crates' files.
    async fn some(&self, names: &[CrateName]) -> Result<Vec<IndexFileEntry>, RegistryError>;
    /// Every file.
    async fn all(&self) -> Result<Vec<IndexFileEntry>, RegistryError>;
    /// Whether the settings the last read went by still stand (a virtual
    /// repository's members' visibility): a commit checks before it
    /// publishes objects, and reads again when not.
    async fn still_current(&self) -> Result<bool, RegistryError> {
        Ok(true)
    }
}

#[async_trait]
pub trait IndexMirror: Send + Sync + 'static {
    /// Brings the mirror of `repository` in step with these crates' files
    /// (and `config.json`) as `files` holds them now. `names` as
    /// published: their paths follow from them.
    async fn crates_changed(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
        names: &[CrateName],
    ) -> Result<(), RegistryError>;

    /// Rebuilds the whole mirror of `repository` from `files`.
    async fn rebuild(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
    ) -> Result<(), RegistryError>;
}

/// The index files a repository keeps in the blob store: a local
/// repository's, a remote one's cached copies.
pub struct StoredIndexFiles {
    blobs: Arc<dyn BlobStore>,
    repo: String,
}

impl StoredIndexFiles {
    pub fn new(blobs: Arc<dyn BlobStore>, repo: &str) -> Self {
        Self {
            blobs,
            repo: repo.to_string(),
        }
    }

    /// These files, by their path in the index.
    pub(crate) async fn read(
        &self,
        keys: Vec<ObjectKey>,
    ) -> Result<Vec<IndexFileEntry>, RegistryError> {
        let index = KeyPrefix::Index(RepoName::new(&self.repo)?);
        // In chunks: locally, one blocking task reads a chunk. By index: a
        // closure taking `&[ObjectKey]` would make the future's lifetime
        // higher-ranked, which Send bounds reject.
        let keys = &keys;
        let read: Vec<_> = stream::iter(0..keys.len().div_ceil(READ_CHUNK))
            .map(|i| {
                let chunk = &keys[i * READ_CHUNK..keys.len().min((i + 1) * READ_CHUNK)];
                async move {
                    let read = self.blobs.get_many(chunk).await;
                    match read.len() == chunk.len() {
                        true => read,
                        false => vec![Err(BlobError::Backend("get_many answered too few".into()))],
                    }
                }
            })
            .buffered(CONCURRENCY / READ_CHUNK)
            .collect()
            .await;
        // A short chunk holds one error, which ends this at its first key.
        keys.iter()
            .zip(read.into_iter().flatten())
            .map(|(key, got)| {
                let path = key
                    .below(&index)
                    .expect("index files and config.json are under index/");
                Ok((path, got?.map(|(bytes, _)| bytes)))
            })
            .collect()
    }

    /// Every index file's key, as listed, and `config.json`'s.
    pub(crate) async fn keys(&self) -> Result<Vec<ObjectKey>, RegistryError> {
        let repo = RepoName::new(&self.repo)?;
        let mut keys = self.blobs.list(&KeyPrefix::Index(repo)).await?;
        let config = ObjectKey::index_config(&self.repo)?;
        if !keys.contains(&config) {
            keys.push(config);
        }
        Ok(keys)
    }

    fn crate_keys(&self, names: &[CrateName]) -> Result<Vec<ObjectKey>, RegistryError> {
        names
            .iter()
            .map(|name| ObjectKey::index_file(&self.repo, name.as_str()))
            .collect()
    }

    /// These crates' files, without `config.json`.
    pub(crate) async fn crates(
        &self,
        names: &[CrateName],
    ) -> Result<Vec<IndexFileEntry>, RegistryError> {
        self.read(self.crate_keys(names)?).await
    }
}

#[async_trait]
impl IndexFiles for StoredIndexFiles {
    async fn some(&self, names: &[CrateName]) -> Result<Vec<IndexFileEntry>, RegistryError> {
        let mut keys = vec![ObjectKey::index_config(&self.repo)?];
        keys.extend(self.crate_keys(names)?);
        self.read(keys).await
    }

    async fn all(&self) -> Result<Vec<IndexFileEntry>, RegistryError> {
        self.read(self.keys().await?).await
    }
}

impl Registry {
    /// Keeps a mirror, made over this registry's blob store, in step with
    /// every index file this registry writes.
    pub fn with_index_mirror(
        mut self,
        mirror: impl FnOnce(Arc<dyn BlobStore>) -> Arc<dyn IndexMirror>,
    ) -> Self {
        self.mirror = Some(mirror(self.blobs.clone()));
        self
    }

    /// Tells the mirror, if any, that these crates' index files (none:
    /// only `config.json`) were written in `repository`, whose virtual
    /// repositories' mirrors then follow.
    pub(crate) async fn mirror_crates(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<(), RegistryError> {
        let Some(mirror) = &self.mirror else {
            return Ok(());
        };
        let own = self.index_files(repository);
        mirror.crates_changed(repository, &*own, names).await?;
        if names.is_empty() {
            return Ok(());
        }
        for over in self.virtual_repositories_over(repository).await? {
            let files = self.index_files(&over);
            mirror.crates_changed(&over, &*files, names).await?;
        }
        Ok(())
    }

    /// Rebuilds the mirror, if any, of a repository and of the virtual
    /// repositories over it.
    pub(crate) async fn mirror_repository(
        &self,
        repository: &Repository,
    ) -> Result<(), RegistryError> {
        self.mirror_repository_from(repository, &*self.index_files(repository))
            .await
    }

    /// [`Registry::mirror_repository`], with the repository's own files
    /// from `own` (what a reindex just made them).
    pub(crate) async fn mirror_repository_from(
        &self,
        repository: &Repository,
        own: &dyn IndexFiles,
    ) -> Result<(), RegistryError> {
        let Some(mirror) = &self.mirror else {
            return Ok(());
        };
        mirror.rebuild(repository, own).await?;
        for over in self.virtual_repositories_over(repository).await? {
            let files = self.index_files(&over);
            mirror.rebuild(&over, &*files).await?;
        }
        Ok(())
    }

    /// For index writes no change stream reports (a remote repository's
    /// cache, a repository's settings): the mirror here, or else a task
    /// for the process that has it (on AWS the reindex function). `None`:
    /// rebuild the repository's mirror whole. A failure is logged, not
    /// returned: the write it follows stands, and the next one catches up.
    pub(crate) async fn mirror_soon(&self, repository: &Repository, names: Option<&[CrateName]>) {
        let outcome = match (&self.mirror, &self.tasks, names) {
            (Some(_), _, Some([])) => self.mirror_crates(repository, &[]).await,
            (Some(_), _, Some(names)) => self.mirror_coalesced(repository, names).await,
            (Some(_), _, None) => self.mirror_repository(repository).await,
            (None, Some(TaskQueue::Objects), _) => {
                self.send_task(ReindexTask::Mirror {
                    repo: repository.name.clone(),
                    crates: names.map(|n| n.iter().map(|n| n.as_str().to_string()).collect()),
                })
                .await
            }
            // No process here keeps a mirror (local mode without one).
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(repo = %repository.name, error = %e, "git index not brought up to date; the next change does");
        }
    }

    /// This process's commits of one repository's mirror, one at a time,
    /// each taking every crate asked for meanwhile: a burst of cache fills
    /// (a cold `cargo` resolve fetches hundreds of files at once) makes a
    /// few commits instead of hundreds racing for the branch.
    async fn mirror_coalesced(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<(), RegistryError> {
        self.queue_for_mirror(repository, names.iter().cloned());
        let tip = ObjectKey::Git {
            repo: RepoName::new(&repository.name)?,
            file: GitFile::InfoRefs,
        };
        let _turn = self.single_flight(&tip).await;
        let taken: Vec<CrateName> = self
            .mirror_pending
            .lock()
            .expect("not poisoned")
            .remove(&repository.name)
            .map(|pending| pending.into_values().collect())
            .unwrap_or_default();
        // Empty: an earlier turn committed these crates too.
        if taken.is_empty() {
            return Ok(());
        }
        let committed = self.mirror_crates(repository, &taken).await;
        if committed.is_err() {
            // Back for the next turn: they are not this caller's alone.
            self.queue_for_mirror(repository, taken);
        }
        committed
    }

    /// Adds crates to those waiting for the next commit of a repository's
    /// mirror (see [`Registry::mirror_coalesced`]).
    fn queue_for_mirror(
        &self,
        repository: &Repository,
        names: impl IntoIterator<Item = CrateName>,
    ) {
        self.mirror_pending
            .lock()
            .expect("not poisoned")
            .entry(repository.name.clone())
            .or_default()
            .extend(names.into_iter().map(|n| (n.as_str().to_string(), n)));
    }

    /// A virtual repository's git index shows what its visibility allows
    /// of its members' crates (see [`crate::access::in_virtual_git_index`]).
    /// The git indexes a visibility change of `repository` affects: its
    /// own if it is virtual, and those of the public virtual repositories
    /// over it. Their packs and objects hold crates of the old view, which
    /// a re-tag would publish (private to public) or leave public (a
    /// member turned private): the change removes them
    /// ([`Registry::remove_git_indexes`]) and builds them anew
    /// ([`Registry::rebuild_git_indexes`]).
    pub(crate) async fn git_indexes_shown_by_visibility(
        &self,
        repository: &Repository,
    ) -> Result<Vec<Repository>, RegistryError> {
        Ok(match repository.kind {
            RepoKind::Virtual => vec![repository.clone()],
            _ => self
                .virtual_repositories_over(repository)
                .await?
                .into_iter()
                .filter(|over| over.anonymous_read)
                .collect(),
        })
    }

    /// Deletes these repositories' git indexes whole.
    pub(crate) async fn remove_git_indexes(
        &self,
        repositories: &[Repository],
    ) -> Result<(), RegistryError> {
        for repo in repositories {
            let git = KeyPrefix::Git(RepoName::new(&repo.name)?);
            for key in self.blobs.list(&git).await? {
                match self.blobs.delete(&key).await {
                    Ok(()) | Err(BlobError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Builds these repositories' git indexes anew (here, or by a task).
    pub(crate) async fn rebuild_git_indexes(&self, repositories: &[Repository]) {
        for repo in repositories {
            match self.repository(&repo.name).await {
                Ok(current) => self.mirror_soon(&current, None).await,
                Err(e) => tracing::warn!(repo = %repo.name, error = %e, "git index not rebuilt"),
            }
        }
    }

    /// What a repository's mirror copies.
    fn index_files(&self, repository: &Repository) -> Box<dyn IndexFiles + '_> {
        match repository.kind {
            RepoKind::Virtual => Box::new(self.virtual_index_files(repository)),
            RepoKind::Local | RepoKind::Remote => {
                Box::new(StoredIndexFiles::new(self.blobs.clone(), &repository.name))
            }
        }
    }

    /// The virtual repositories with `repository` among their members.
    async fn virtual_repositories_over(
        &self,
        repository: &Repository,
    ) -> Result<Vec<Repository>, RegistryError> {
        if repository.kind == RepoKind::Virtual {
            return Ok(Vec::new());
        }
        Ok(self
            .repositories()
            .await?
            .into_iter()
            .filter(|r| r.kind == RepoKind::Virtual && r.members.contains(&repository.name))
            .collect())
    }
}
