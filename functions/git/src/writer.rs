//! Keeps a repository's git index in step with its sparse index files.
//!
//! Every update is one new parentless commit (as crates.io squashes its
//! history): its tree is the current commit's tree with the changed files
//! read fresh from the sparse index (the truth the tree mirrors), so it
//! shares every unchanged subtree and writes only the changed paths.
//! Objects are content-addressed, written `If-None-Match: *` (one already
//! there is the same object). The branch moves by compare-and-swap on
//! `info/refs`; a writer that loses reads the new tip and its files again,
//! so a concurrent writer's change is never dropped.

use crate::object::{EncodedObject, HASH, key_id};
use crate::pack::{PackIndexes, PackReader};
use crate::repack::REPACK_LOOSE;
use crate::tree_edit::{Change, Edited, Trees, apply, missing_trees};
use crate::{GitError, refs};
use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, CrateName, GitFile, IndexFiles, IndexMirror, KeyPrefix, ObjectKey,
    PutMode, RegistryError, RepoName, Repository, StoredIndexFiles,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use gix_hash::ObjectId;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Sets the repack threshold ([`GitIndex::from_env`]).
const REPACK_ENV: &str = "CRATEYARD_GIT_REPACK_LOOSE";
/// How many rounds a compare-and-swap may take before giving up on a
/// busy branch or pack list.
pub(crate) const MAX_ROUNDS: u32 = 20;
/// Reads and writes in flight at once (each a round trip on AWS).
pub(crate) const CONCURRENCY: usize = 32;

/// The git index writer, over the store that holds the sparse index.
#[derive(Clone)]
pub struct GitIndex {
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// Loose objects past which a change packs them (see `repack`).
    pub(crate) repack_threshold: usize,
    /// Set: repacks run after the changes that call for them, in a task
    /// of their own ([`GitIndex::repacking_in_background`]).
    background_repacks: Option<Arc<Mutex<BackgroundRepacks>>>,
}

/// This process's background repacks: one task at a time, which takes
/// every repository a change asked for meanwhile.
#[derive(Default)]
struct BackgroundRepacks {
    running: bool,
    /// Repositories to check, with whether each is private.
    asked: BTreeMap<RepoName, bool>,
}

/// The background task's hold on [`BackgroundRepacks::running`]: released
/// when it finds nothing left to do, or when dropped by a panic, so that a
/// later change starts another task.
struct Running(Option<Arc<Mutex<BackgroundRepacks>>>);

impl Running {
    /// The next repository to check; none (and released) when none is left.
    fn next(&mut self) -> Option<(RepoName, bool)> {
        let mut state = self.0.as_ref()?.lock().ok()?;
        let next = state.asked.pop_first();
        if next.is_none() {
            // In the same step as finding nothing: a change asking now
            // starts the next task.
            state.running = false;
            drop(state);
            self.0 = None;
        }
        next
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(repacks) = &self.0
            && let Ok(mut state) = repacks.lock()
        {
            state.running = false;
        }
    }
}

/// What a commit takes from the sparse index.
#[derive(Debug, Clone, Copy)]
enum Scope<'a> {
    /// These crates' files (and `config.json`), over the current tree.
    Crates(&'a [CrateName]),
    /// Every file, in a tree built anew.
    Everything,
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The branch points at this new commit.
    Committed { commit: String, objects: usize },
    /// The tree already held these files.
    Unchanged,
}

impl GitIndex {
    pub fn new(blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            blobs,
            repack_threshold: REPACK_LOOSE,
            background_repacks: None,
        }
    }

    /// Repacks after a change instead of inside it, for a long-running
    /// server: the change (a publish) answers without waiting for the
    /// repack that every ~50th one passes the threshold for, whose cost
    /// grows with the registry's trees. A repack is safe beside any writer
    /// (see `repack`); one task runs them, one repository after another,
    /// each repository a change asked for meanwhile. Not for a process that
    /// may end right after its change (a Lambda function, a command): its
    /// repack would be cut short, to be redone by the next change. Nor for
    /// a store whose objects carry their repository's visibility (S3's
    /// tags): a repack finishing after the change's visibility check could
    /// write a pack under a visibility changed meanwhile.
    pub fn repacking_in_background(mut self) -> Self {
        self.background_repacks = Some(Arc::default());
        self
    }

    /// A writer whose repack threshold `CRATEYARD_GIT_REPACK_LOOSE` may
    /// set (a number of loose objects, or `never`; for tests and benches).
    /// A value that is neither is logged and ignored.
    pub fn from_env(blobs: Arc<dyn BlobStore>) -> Self {
        let git = Self::new(blobs);
        match std::env::var(REPACK_ENV).ok().as_deref().map(str::trim) {
            None => git,
            Some("never") => git.with_repack_threshold(usize::MAX),
            Some(value) => match value.parse() {
                Ok(loose) => git.with_repack_threshold(loose),
                Err(_) => {
                    tracing::warn!(
                        value,
                        "{REPACK_ENV} is neither a number nor `never`; ignored"
                    );
                    git
                }
            },
        }
    }

    /// Packs loose objects past `loose` of them instead of
    /// [`REPACK_LOOSE`] (`usize::MAX`: never).
    pub fn with_repack_threshold(mut self, loose: usize) -> Self {
        self.repack_threshold = loose;
        self
    }

    /// Commits these crates' stored index files as they are now, then
    /// packs the loose objects if too many lie about.
    pub async fn update_and_repack(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<Outcome, GitError> {
        let files = self.stored(repository);
        self.update_and_repack_from(repository, &files, names).await
    }

    /// Commits these crates' files as `files` holds them now, then packs
    /// the loose objects if too many lie about (after it returns, if
    /// [`GitIndex::repacking_in_background`]). A failed repack fails
    /// nothing: the commit stands, and the next change tries again.
    pub async fn update_and_repack_from(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
        names: &[CrateName],
    ) -> Result<Outcome, GitError> {
        let outcome = self.commit(repository, files, Scope::Crates(names)).await?;
        if matches!(outcome, Outcome::Committed { .. })
            && let Ok(repo) = RepoName::new(&repository.name)
        {
            let private = !repository.anonymous_read;
            match &self.background_repacks {
                None => self.repack_logged(&repo, private).await,
                Some(repacks) => self.repack_in_background(repacks, repo, private),
            }
        }
        Ok(outcome)
    }

    /// Asks the background task to check `repo`, starting it unless it
    /// runs (then it takes `repo` after its current repository).
    fn repack_in_background(
        &self,
        repacks: &Arc<Mutex<BackgroundRepacks>>,
        repo: RepoName,
        private: bool,
    ) {
        let Ok(mut state) = repacks.lock() else {
            return;
        };
        state.asked.insert(repo, private);
        if std::mem::replace(&mut state.running, true) {
            return;
        }
        let (this, mut running) = (self.clone(), Running(Some(repacks.clone())));
        tokio::spawn(async move {
            while let Some((repo, private)) = running.next() {
                this.repack_logged(&repo, private).await;
            }
        });
    }

    /// Repacks if needed; a failure fails nothing (the commit stands, and
    /// the next change tries again), so it is logged.
    async fn repack_logged(&self, repo: &RepoName, private: bool) {
        if let Err(e) = self.repack_if_needed(repo, private).await {
            tracing::warn!(repo = %repo, error = %e, "git index repack failed; the next change retries");
        }
    }

    /// Commits these crates' stored index files as they are now.
    pub async fn update(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<Outcome, GitError> {
        let files = self.stored(repository);
        self.commit(repository, &files, Scope::Crates(names)).await
    }

    /// Commits a tree built from every stored index file.
    pub async fn rebuild(&self, repository: &Repository) -> Result<Outcome, GitError> {
        let files = self.stored(repository);
        self.rebuild_from(repository, &files).await
    }

    /// Commits a tree built from every file `files` holds.
    pub async fn rebuild_from(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
    ) -> Result<Outcome, GitError> {
        self.commit(repository, files, Scope::Everything).await
    }

    /// The index files a local (or remote) repository keeps in the store.
    fn stored(&self, repository: &Repository) -> StoredIndexFiles {
        StoredIndexFiles::new(self.blobs.clone(), &repository.name)
    }

    async fn commit(
        &self,
        repository: &Repository,
        source: &dyn IndexFiles,
        scope: Scope<'_>,
    ) -> Result<Outcome, GitError> {
        let repo = RepoName::new(&repository.name)
            .map_err(|_| GitError::BadPath(repository.name.clone()))?;
        let private = !repository.anonymous_read;
        let refs_key = git_key(&repo, GitFile::InfoRefs);
        for round in 0..MAX_ROUNDS {
            if round > 0 {
                tokio::time::sleep(backoff(round)).await;
            }
            // The tip first, then the files: any writer whose files were
            // read before ours moved the tip after this read, and fails
            // our compare-and-swap below.
            let tip = self.blobs.get(&refs_key).await?;
            let (tip_commit, etag) = match (&tip, scope) {
                (Some((bytes, meta)), Scope::Crates(_)) => {
                    (Some(refs::parse_info_refs(bytes)?), Some(meta))
                }
                // A rebuild replaces the tip whatever it holds (a damaged
                // `info/refs` included): it needs only its ETag.
                (Some((bytes, meta)), Scope::Everything) => {
                    (refs::parse_info_refs(bytes).ok(), Some(meta))
                }
                (None, _) => (None, None),
            };
            let base = match (tip_commit, scope) {
                (Some(commit), Scope::Crates(_)) => Some(self.commit_tree(&repo, commit).await?),
                _ => None,
            };
            // A change with no tree to start from builds it whole.
            let files = match (base, scope) {
                (Some(_), Scope::Crates(names)) => source.some(names).await?,
                _ => source.all().await?,
            };
            let changes: Vec<Change<'_>> = files
                .iter()
                .map(|(path, content)| Change {
                    path,
                    content: content.as_deref(),
                })
                .collect();
            let trees = self.load_trees(&repo, base, &changes).await?;
            let edited = apply(base, &trees, &changes)?;
            if tip_commit.is_some() && base == Some(edited.root) {
                return Ok(Outcome::Unchanged);
            }
            // A rebuild of what the tip already holds, packed: repacking
            // would rewrite the same objects under a new commit.
            if let (Scope::Everything, Some(tip)) = (scope, tip_commit)
                && self.holds_packed(&repo, tip, &edited).await?
            {
                match source.still_current().await? {
                    true => return Ok(Outcome::Unchanged),
                    false => continue,
                }
            }
            let commit = new_commit(edited.root, &changes, base.is_none())?;
            let written = edited.objects.len() + 1;
            // The writer's own copies of the trees and the commit, which
            // a repack may pack.
            self.put_copies(&repo, private, &edited.objects).await?;
            self.put_copies(&repo, private, std::slice::from_ref(&commit))
                .await?;
            // Nothing is published from a view whose settings changed
            // meanwhile (a member of a public virtual repository turned
            // private): a rebuild's pack stays listed even if it loses.
            if !source.still_current().await? {
                continue;
            }
            // A rebuild packs its objects for clones, listed before the
            // branch points at them; a change writes them loose.
            let packed = match scope {
                Scope::Everything => Some(self.put_pack(&repo, private, edited.objects).await?),
                Scope::Crates(_) => {
                    self.put_loose(&repo, private, edited.objects).await?;
                    None
                }
            };
            self.put_loose(&repo, private, vec![commit.clone()]).await?;
            if tip.is_none() || matches!(scope, Scope::Everything) {
                self.put_head(&repo, private).await?;
            }
            let mode = match etag {
                Some(meta) => PutMode::Update(meta.etag.clone()),
                None => PutMode::Create,
            };
            let body = Bytes::from(refs::info_refs(&commit.id));
            match self
                .blobs
                .put(&refs_key, body, mode, refs_key.put_options(private))
                .await
            {
                Ok(_) => {
                    tracing::info!(repo = %repo, commit = %commit.id, objects = written, "git index committed");
                    if let Some(packed) = packed {
                        self.remove_loose_copies(&repo, &packed).await?;
                    }
                    return Ok(Outcome::Committed {
                        commit: commit.id.to_string(),
                        objects: written,
                    });
                }
                // A rebuild that lost keeps its pack listed: pack ids come
                // from their content, so the winner (a rebuild of the same
                // files) may hold the very same pack, whose loose copies it
                // removes; unlisting it would break that tip.
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(GitError::Contention(repository.name.clone()))
    }

    /// Every file of the branch's tree, by path, in path order: what a
    /// clone checks out, read as git reads it (loose objects, else listed
    /// packs). Empty before the first commit.
    pub async fn files(&self, repository: &Repository) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let repo = RepoName::new(&repository.name)
            .map_err(|_| GitError::BadPath(repository.name.clone()))?;
        let Some((refs, _)) = self.blobs.get(&git_key(&repo, GitFile::InfoRefs)).await? else {
            return Ok(Vec::new());
        };
        self.files_of(&repo, refs::parse_info_refs(&refs)?).await
    }

    /// Every file of a commit's tree (an earlier tip's, say), read as
    /// [`GitIndex::files`] reads the tip's.
    pub async fn files_at(
        &self,
        repository: &Repository,
        commit: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let repo = RepoName::new(&repository.name)
            .map_err(|_| GitError::BadPath(repository.name.clone()))?;
        let id = ObjectId::from_hex(commit.as_bytes())
            .map_err(|_| GitError::MissingObject(commit.to_string()))?;
        self.files_of(&repo, id).await
    }

    async fn files_of(
        &self,
        repo: &RepoName,
        commit: ObjectId,
    ) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let repo = repo.clone();
        let packs = self.pack_reader(&repo).await?;
        let object = self.read_visible(&repo, commit, &packs).await?;
        let root = gix_object::CommitRef::from_bytes(&object.data, HASH)
            .map(|c| c.tree())
            .map_err(|e| GitError::BadObject {
                id: commit.to_string(),
                why: e.to_string(),
            })?;
        let mut files = Vec::new();
        let mut pending = vec![(String::new(), root)];
        while let Some((prefix, id)) = pending.pop() {
            let object = self.read_visible(&repo, id, &packs).await?;
            let tree = gix_object::TreeRef::from_bytes(&object.data, HASH).map_err(|e| {
                GitError::BadObject {
                    id: id.to_string(),
                    why: e.to_string(),
                }
            })?;
            for entry in tree.entries {
                let path = format!("{prefix}{}", entry.filename);
                if entry.mode.is_tree() {
                    pending.push((format!("{path}/"), entry.oid.to_owned()));
                } else {
                    let blob = self.read_visible(&repo, entry.oid.to_owned(), &packs);
                    files.push((path, blob.await?.data));
                }
            }
        }
        files.sort();
        Ok(files)
    }

    /// The tree of a commit.
    async fn commit_tree(&self, repo: &RepoName, commit: ObjectId) -> Result<ObjectId, GitError> {
        let object = self.read_own(repo, commit).await?;
        gix_object::CommitRef::from_bytes(&object.data, HASH)
            .map(|c| c.tree())
            .map_err(|e| GitError::BadObject {
                id: commit.to_string(),
                why: e.to_string(),
            })
    }

    /// The trees along the changed paths, read level by level.
    async fn load_trees(
        &self,
        repo: &RepoName,
        root: Option<ObjectId>,
        changes: &[Change<'_>],
    ) -> Result<Trees, GitError> {
        let mut trees = Trees::new();
        loop {
            let missing = missing_trees(root, &trees, changes.iter().map(|c| c.path));
            if missing.is_empty() {
                return Ok(trees);
            }
            let loaded: Vec<_> = stream::iter(missing)
                .map(|id| async move {
                    let object = self.read_own(repo, id).await?;
                    let tree = gix_object::TreeRef::from_bytes(&object.data, HASH)
                        .map_err(|e| GitError::BadObject {
                            id: id.to_string(),
                            why: e.to_string(),
                        })?
                        .into_owned();
                    Ok::<_, GitError>((id, tree))
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            trees.extend(loaded);
        }
    }

    /// A tree or commit, from the writer's copy, or (written before
    /// copies were kept) its loose object, or else from the listed packs
    /// (a repack packed it): the last read once, by the first writer after.
    async fn read_own(&self, repo: &RepoName, id: ObjectId) -> Result<EncodedObject, GitError> {
        if let Some(object) = self.read_unpacked(repo, id).await? {
            return Ok(object);
        }
        let packs = self.pack_reader(repo).await?;
        let object = packs
            .find(id)?
            .ok_or_else(|| GitError::MissingObject(id.to_string()))?;
        // Kept, so that the next writer reads it at once.
        self.put_copies(repo, true, std::slice::from_ref(&object))
            .await?;
        Ok(object)
    }

    /// An object from the writer's own copy, or else loose; `None` when
    /// neither holds it (it may be packed).
    async fn read_unpacked(
        &self,
        repo: &RepoName,
        id: ObjectId,
    ) -> Result<Option<EncodedObject>, GitError> {
        let copy = ObjectKey::GitTreeCopy {
            repo: repo.clone(),
            id: key_id(&id),
        };
        if let Some((bytes, _)) = self.blobs.get(&copy).await? {
            return EncodedObject::from_loose(id, &bytes).map(Some);
        }
        match self.read_object(repo, id).await {
            Ok(object) => Ok(Some(object)),
            Err(GitError::MissingObject(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An object as git reads it: loose, or else from a listed pack.
    async fn read_visible(
        &self,
        repo: &RepoName,
        id: ObjectId,
        packs: &PackReader,
    ) -> Result<EncodedObject, GitError> {
        match self.read_object(repo, id).await {
            Err(GitError::MissingObject(_)) => packs
                .find(id)?
                .ok_or_else(|| GitError::MissingObject(id.to_string())),
            other => other,
        }
    }

    /// Every pack `objects/info/packs` lists, opened.
    async fn pack_reader(&self, repo: &RepoName) -> Result<PackReader, GitError> {
        let mut packs = Vec::new();
        for id in self.listed_pack_ids(repo).await? {
            let (pack, index) = pack_keys(repo, &id);
            let (pack, index) = (self.blobs.get(&pack).await?, self.blobs.get(&index).await?);
            if let (Some((pack, _)), Some((index, _))) = (pack, index) {
                packs.push((id, pack.to_vec(), index.to_vec()));
            }
        }
        tokio::task::spawn_blocking(move || PackReader::open(&packs))
            .await
            .map_err(|e| GitError::Encode(e.to_string()))?
    }

    async fn read_object(&self, repo: &RepoName, id: ObjectId) -> Result<EncodedObject, GitError> {
        let key = git_key(repo, GitFile::Object(key_id(&id)));
        match self.blobs.get(&key).await? {
            Some((bytes, _)) => EncodedObject::from_loose(id, &bytes),
            None => Err(GitError::MissingObject(id.to_string())),
        }
    }

    /// Writes loose objects.
    async fn put_loose(
        &self,
        repo: &RepoName,
        private: bool,
        objects: Vec<EncodedObject>,
    ) -> Result<(), GitError> {
        let files = objects
            .into_iter()
            .map(|object| {
                let key = git_key(repo, GitFile::Object(key_id(&object.id)));
                (key, Bytes::from(object.loose()))
            })
            .collect();
        self.put_all(files, private).await
    }

    /// Writes the writer's copies of the trees and commits among `objects`.
    async fn put_copies(
        &self,
        repo: &RepoName,
        private: bool,
        objects: &[EncodedObject],
    ) -> Result<(), GitError> {
        let files = objects
            .iter()
            .filter(|object| {
                matches!(
                    object.kind,
                    gix_object::Kind::Tree | gix_object::Kind::Commit
                )
            })
            .map(|object| {
                let key = ObjectKey::GitTreeCopy {
                    repo: repo.clone(),
                    id: key_id(&object.id),
                };
                (key, Bytes::from(object.loose()))
            })
            .collect();
        self.put_all(files, private).await
    }

    /// Writes objects in one pack (and its index), and lists it in
    /// `objects/info/packs`; returns the ids of what it holds. Older packs
    /// stay listed: an object a tip reaches may be only there.
    async fn put_pack(
        &self,
        repo: &RepoName,
        private: bool,
        objects: Vec<EncodedObject>,
    ) -> Result<Vec<ObjectId>, GitError> {
        let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
        let pack = self.put_pack_files(repo, private, objects).await?;
        let lost = self.lost_packs(repo).await?;
        self.list_pack(repo, private, pack, &lost).await?;
        Ok(ids)
    }

    /// The listed packs whose data is gone: each would fail a clone that
    /// fetches it. A pack's files are stored before it is listed and never
    /// removed, so one listed and then found missing is lost (unless a
    /// writer builds the very same pack again meanwhile: README, Git
    /// index); a rebuild, whose new pack holds every object, unlists it.
    async fn lost_packs(&self, repo: &RepoName) -> Result<Vec<ObjectId>, GitError> {
        let mut lost = Vec::new();
        for id in self.listed_pack_ids(repo).await? {
            let (pack, _) = pack_keys(repo, &id);
            if self.blobs.head(&pack).await?.is_none() {
                lost.push(id);
            }
        }
        Ok(lost)
    }

    /// Whether commit `tip` is `edited` already: its tree is the same, and
    /// every object of it sits in a listed pack, with the commit and
    /// `HEAD` beside them, so that a clone gets it whole. The tip's tree
    /// first; only when it matches, one listing of the git index and the
    /// packs' indexes (not their data). Anything missing or unreadable is
    /// a "no": the rebuild then writes it all.
    async fn holds_packed(
        &self,
        repo: &RepoName,
        tip: ObjectId,
        edited: &Edited,
    ) -> Result<bool, GitError> {
        // A tip only packed (by a repack after it) is rare: rebuilt then.
        let commit = match self.read_unpacked(repo, tip).await {
            Ok(commit) => commit,
            Err(GitError::BadObject { .. }) => None,
            Err(e) => return Err(e),
        };
        let same_tree = commit.is_some_and(|commit| {
            gix_object::CommitRef::from_bytes(&commit.data, HASH)
                .is_ok_and(|commit| commit.tree() == edited.root)
        });
        if !same_tree {
            return Ok(false);
        }
        let stored: HashSet<ObjectKey> = self
            .blobs
            .list(&KeyPrefix::Git(repo.clone()))
            .await?
            .into_iter()
            .collect();
        if !stored.contains(&git_key(repo, GitFile::Head)) {
            return Ok(false);
        }
        // A listed pack whose data is lost: the rebuild unlists it.
        let listed = self.listed_pack_ids(repo).await?;
        if !listed
            .iter()
            .all(|id| stored.contains(&pack_keys(repo, id).0))
        {
            return Ok(false);
        }
        let indexes = self.pack_indexes(repo, &listed).await?;
        let loose = git_key(repo, GitFile::Object(key_id(&tip)));
        Ok((stored.contains(&loose) || indexes.holds(tip))
            && edited.objects.iter().all(|object| indexes.holds(object.id)))
    }

    /// The indexes of packs `listed` (one whose index is gone holds
    /// nothing).
    async fn pack_indexes(
        &self,
        repo: &RepoName,
        listed: &[ObjectId],
    ) -> Result<PackIndexes, GitError> {
        let mut indexes = Vec::new();
        for id in listed {
            if let Some((index, _)) = self.blobs.get(&pack_keys(repo, id).1).await? {
                indexes.push(index.to_vec());
            }
        }
        tokio::task::spawn_blocking(move || PackIndexes::open(&indexes))
            .await
            .map_err(|e| GitError::Encode(e.to_string()))?
    }

    /// The packs `objects/info/packs` lists.
    pub(crate) async fn listed_pack_ids(&self, repo: &RepoName) -> Result<Vec<ObjectId>, GitError> {
        Ok(
            match self.blobs.get(&git_key(repo, GitFile::InfoPacks)).await? {
                Some((bytes, _)) => refs::parse_info_packs(&bytes),
                None => Vec::new(),
            },
        )
    }

    /// Removes the loose copies that exist of `packed`: one listing, not
    /// one delete per object (a rebuild packs every object, and the store
    /// usually holds few of them loose).
    async fn remove_loose_copies(
        &self,
        repo: &RepoName,
        packed: &[ObjectId],
    ) -> Result<(), GitError> {
        let packed: HashSet<&ObjectId> = packed.iter().collect();
        let loose: Vec<ObjectId> = self
            .loose_objects(repo)
            .await?
            .into_iter()
            .filter(|id| packed.contains(id))
            .collect();
        self.remove_loose(repo, &loose).await
    }

    /// Removes the loose copies of objects a listed pack holds, so that git
    /// (which asks for an object loose first) fetches the pack instead.
    pub(crate) async fn remove_loose(
        &self,
        repo: &RepoName,
        packed: &[ObjectId],
    ) -> Result<(), GitError> {
        let keys: Vec<ObjectKey> = packed
            .iter()
            .map(|id| git_key(repo, GitFile::Object(key_id(id))))
            .collect();
        stream::iter(keys)
            .map(|key| async move { self.blobs.delete(&key).await.map_err(GitError::from) })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// Writes content-addressed files: one already there is the same.
    pub(crate) async fn put_all(
        &self,
        files: Vec<(ObjectKey, Bytes)>,
        private: bool,
    ) -> Result<(), GitError> {
        stream::iter(files)
            .map(|(key, body)| async move {
                let options = key.put_options(private);
                match self.blobs.put(&key, body, PutMode::Create, options).await {
                    Ok(_) | Err(BlobError::AlreadyExists(_)) => Ok(()),
                    Err(e) => Err(GitError::from(e)),
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// `HEAD` never changes: written once, before the first `info/refs`.
    async fn put_head(&self, repo: &RepoName, private: bool) -> Result<(), GitError> {
        let key = git_key(repo, GitFile::Head);
        let body = Bytes::from(refs::head());
        match self
            .blobs
            .put(&key, body, PutMode::Create, key.put_options(private))
            .await
        {
            Ok(_) | Err(BlobError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) fn git_key(repo: &RepoName, file: GitFile) -> ObjectKey {
    ObjectKey::Git {
        repo: repo.clone(),
        file,
    }
}

/// A pack's data and index.
pub(crate) fn pack_keys(repo: &RepoName, id: &ObjectId) -> (ObjectKey, ObjectKey) {
    (
        git_key(repo, GitFile::Pack(key_id(id))),
        git_key(repo, GitFile::PackIndex(key_id(id))),
    )
}

/// A parentless commit of `tree`, saying what changed.
fn new_commit(
    tree: ObjectId,
    changes: &[Change<'_>],
    whole: bool,
) -> Result<EncodedObject, GitError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let signature = gix_actor::Signature {
        name: "crateyard".into(),
        email: "crateyard@localhost".into(),
        time: gix_date::Time {
            seconds: now.as_secs() as i64,
            offset: 0,
        },
    };
    // Named from the files the tree holds only: a removal's path may be a
    // crate a reader may not see (a virtual repository's hidden crate).
    let crates: Vec<&str> = changes
        .iter()
        .filter(|c| c.path != CONFIG && c.content.is_some())
        .map(|c| c.path.rsplit('/').next().unwrap_or(c.path))
        .collect();
    let message = match (whole, crates.as_slice()) {
        (true, _) => format!("Index of {} crates\n", crates.len()),
        (false, []) => "Update the index\n".to_string(),
        (false, [one]) => format!("Update {one}\n"),
        (false, many) => format!("Update {} crates\n", many.len()),
    };
    EncodedObject::new(&gix_object::Commit {
        tree,
        parents: Default::default(),
        author: signature.clone(),
        committer: signature,
        encoding: None,
        message: message.into(),
        extra_headers: Vec::new(),
    })
}

const CONFIG: &str = "config.json";

/// A short, growing wait with jitter, so racing writers spread out.
pub(crate) fn backoff(round: u32) -> Duration {
    let jitter = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 20)
        .unwrap_or(0);
    Duration::from_millis(u64::from(round.min(10)) * 10 + u64::from(jitter))
}

#[async_trait]
impl IndexMirror for GitIndex {
    async fn crates_changed(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
        names: &[CrateName],
    ) -> Result<(), RegistryError> {
        self.update_and_repack_from(repository, files, names)
            .await?;
        Ok(())
    }

    async fn rebuild(
        &self,
        repository: &Repository,
        files: &dyn IndexFiles,
    ) -> Result<(), RegistryError> {
        self.rebuild_from(repository, files).await?;
        Ok(())
    }
}
