use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::index_writer::{Derived, derived_file, derived_options, put_mode};
use crate::pages::version_page;
use crate::{
    BlobError, BlobStore, CrateName, CrateRecord, CrateVersions, IndexFileEntry, IndexFiles,
    KeyPrefix, ObjectKey, ObjectMeta, Put, PutMode, PutOptions, Registry, RegistryError, RepoKind,
    RepoName, Repository, StoredIndexFiles, TarballLimits, VersionRecord,
};
use async_trait::async_trait;
use bytes::Bytes;
use crateyard_tarball::read_readme;
use futures_util::{StreamExt, stream};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

impl Registry {
    /// The repositories a reindex covers: the one named (which must exist),
    /// or every repository.
    pub async fn reindex_targets(&self, repo: Option<&str>) -> Result<Vec<String>, RegistryError> {
        match repo {
            Some(repo) => Ok(vec![self.repository(repo).await?.name]),
            None => Ok(self
                .repositories()
                .await?
                .into_iter()
                .map(|r| r.name)
                .collect()),
        }
    }

    /// Rebuilds `config.json`, every index file and every crate page of a
    /// repository from the metadata store, and writes any version page or
    /// README lost.
    /// Idempotent: a file already right is left untouched.
    /// `progress(done, total)` is called after each crate.
    ///
    /// One bulk read of the store and one listing of each kind of derived
    /// file, then [`REINDEX_CONCURRENCY`] crates at a time. A file is read
    /// only if listed; one listed absent is created (`If-None-Match: *`),
    /// one present is compared and replaced by compare-and-swap on what was
    /// read, with the revision rules of [`put_mode`]. When a writer (a
    /// publish) wins one of those races, that file is redone from a fresh
    /// read of its crate, so a newer revision is never replaced by the bulk
    /// read's older one.
    pub async fn reindex(
        &self,
        repo: &str,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, RegistryError> {
        let repository = self.repository(repo).await?;
        self.write_index_config(&repository).await?;
        let name = RepoName::new(repo)?;
        let prefixes = [
            KeyPrefix::Index(name.clone()),
            KeyPrefix::CratePages(name.clone()),
            KeyPrefix::VersionPages(name.clone()),
            KeyPrefix::Readmes(name),
        ];
        // At once: every write below is conditional on what the store
        // holds, so the listings and the bulk read need no order.
        let (index_files, pages, version_pages, readmes, crates) = tokio::try_join!(
            async { Ok(self.blobs.list(&prefixes[0]).await?) },
            async { Ok(self.blobs.list(&prefixes[1]).await?) },
            async { Ok(self.blobs.list(&prefixes[2]).await?) },
            async { Ok(self.blobs.list(&prefixes[3]).await?) },
            async { Ok::<_, RegistryError>(self.store.list_crates_with_versions(repo).await?) },
        )?;
        let listed = Listed {
            files: index_files.into_iter().chain(pages).collect(),
            version_files: version_pages.into_iter().chain(readmes).collect(),
            pages_written: Mutex::default(),
            index_files: Mutex::default(),
        };
        let present = Present::Listed(&listed);
        let total = crates.len();
        // By index: a closure taking `&[CrateVersions]` would make the
        // future's lifetime higher-ranked, which Send bounds reject.
        let chunks = total.div_ceil(REINDEX_CHUNK);
        let (repository_ref, present) = (&repository, &present);
        let mut work = stream::iter(0..chunks)
            .map(|i| {
                let chunk = &crates[i * REINDEX_CHUNK..total.min((i + 1) * REINDEX_CHUNK)];
                async move {
                    self.reindex_crates(repository_ref, chunk, present).await?;
                    Ok::<_, RegistryError>(chunk.len())
                }
            })
            .buffer_unordered(REINDEX_CONCURRENCY / REINDEX_CHUNK);
        let mut done = 0;
        while let Some(result) = work.next().await {
            done += result?;
            progress(done, total);
        }
        drop(work);
        // Versions deleted since the bulk read lose the pages written for
        // them: one read of the crates, not one per crate.
        let written = std::mem::take(&mut *listed.pages_written.lock().expect("not poisoned"));
        if !written.is_empty() {
            let now = self.store.list_crates(repo).await?;
            self.purge_deleted_pages(repo, now.iter(), &written).await?;
        }
        if self.keeps_search_shards() {
            self.rebuild_search_shards(repo, crates.iter().map(|c| &c.krate))
                .await?;
        }
        // From the index files just made right, without reading them back.
        let known = std::mem::take(&mut *listed.index_files.lock().expect("not poisoned"));
        match repository.kind {
            RepoKind::Local => {
                let own = ReindexedIndexFiles::new(self, repo, &crates, known);
                self.mirror_repository_from(&repository, &own).await?;
            }
            RepoKind::Remote | RepoKind::Virtual => self.mirror_repository(&repository).await?,
        }
        self.follow_visibility_change(&repository).await?;
        let detail = format!("rebuilt the derived files of {total} crates");
        let entry = AuditEntry::new(&Actor::operator(), AuditAction::Reindex, detail).repo(repo);
        self.audit(entry).await;
        Ok(total)
    }

    /// Rebuilds one crate from its own reads (a reindex job's batch, a
    /// change stream's record) and returns what it read: `None` for a crate
    /// that no longer exists, with nothing to rebuild.
    pub(crate) async fn reindex_one_crate(
        &self,
        repository: &Repository,
        canonical: &str,
    ) -> Result<Option<CrateVersions>, RegistryError> {
        let repo = repository.name.as_str();
        let (krate, versions) = tokio::try_join!(
            self.store.get_crate(repo, canonical),
            self.store.list_versions(repo, canonical),
        )?;
        let Some(krate) = krate else { return Ok(None) };
        let krate = [CrateVersions { krate, versions }];
        self.reindex_crates(repository, &krate, &Present::Unknown)
            .await?;
        let [krate] = krate;
        Ok(Some(krate))
    }

    /// Brings a few crates' derived files up to date from the bulk read,
    /// in a few calls to the store whatever their number (locally, each
    /// one blocking task, not one per file): every body built, the index
    /// files and pages that may exist read at once, then what differs
    /// written in two batches, the index files and version pages, then the
    /// crate pages, which link to the version pages. Beside those writes,
    /// the READMEs the store lacks are rendered again from their `.crate`
    /// files and written, a batch at a time: unpacking them must not hold
    /// back an index file that a `cargo publish` is waiting for (on AWS,
    /// the change stream's rebuild after a publish writes its README).
    async fn reindex_crates(
        &self,
        repository: &Repository,
        crates: &[CrateVersions],
        present: &Present<'_>,
    ) -> Result<(), RegistryError> {
        let repo = repository.name.as_str();
        let private = !repository.anonymous_read;
        let mut failed = None;
        let mut derived = Vec::with_capacity(crates.len() * 2);
        let mut to_read = Vec::new();
        for (i, krate) in crates.iter().enumerate() {
            for kind in [Derived::IndexFile, Derived::Page] {
                let (key, body) = derived_file(kind, repo, &krate.krate, &krate.versions)?;
                let listed = present.may_hold(&key);
                if listed {
                    to_read.push(key.clone());
                }
                derived.push((kind, i, key, Bytes::from(body), listed));
            }
        }
        // Each crate's version pages and READMEs in the store, beside the
        // reads. A crate whose listing fails keeps its version files and
        // its page as they are; its index file is still written. (A loop,
        // not a closure: a closure's higher-ranked lifetimes would make
        // this future fail `Send`.)
        let listing = async {
            let mut listed = Vec::new();
            if let Present::Unknown = present {
                for krate in crates {
                    listed.push(self.list_version_files(repository, krate).await);
                }
            }
            listed
        };
        let (listed_here, read) = tokio::join!(listing, self.blobs.get_many(&to_read));
        let listed_here: Vec<Option<HashSet<ObjectKey>>> = listed_here
            .into_iter()
            .map(|listed| match listed {
                Ok(files) => Some(files),
                Err(e) => {
                    failed.get_or_insert(e);
                    None
                }
            })
            .collect();
        let version_files = |i: usize| match present {
            Present::Listed(listed) => Some(&listed.version_files),
            Present::Unknown => listed_here[i].as_ref(),
        };
        if read.len() != to_read.len() {
            return Err(BlobError::Backend("get_many answered too few".into()).into());
        }
        let mut read = read.into_iter();
        let (mut first, mut pages) = (Batch::default(), Batch::default());
        for (kind, i, key, body, listed) in derived {
            // Answers come for listed files only (as many: checked above).
            let current = match listed {
                true => read.next().transpose()?.flatten(),
                false => None,
            };
            let revision = crates[i].krate.revision;
            let read = current.as_ref().map(|(bytes, meta)| (Some(bytes), meta));
            let Some(mode) = put_mode(read, revision, &body) else {
                // Right already, unless it holds a newer revision.
                if current.is_some_and(|(bytes, _)| bytes == body) {
                    present.holds(kind, key, body);
                }
                continue;
            };
            let options = derived_options(&key, revision, private);
            let batch = match kind {
                Derived::IndexFile => &mut first,
                // Not before its version pages, which the failed listing
                // leaves unknown.
                Derived::Page if version_files(i).is_none() => continue,
                Derived::Page => &mut pages,
            };
            batch.push(Written::Derived(kind, i), key, body, mode, options);
        }

        let mut readmes = Vec::new();
        for (i, krate) in crates.iter().enumerate() {
            let canonical = krate.krate.canonical.as_str();
            let Some(files) = version_files(i) else {
                continue;
            };
            for version in &krate.versions {
                let vers = &version.line.vers;
                let key = ObjectKey::version_page(repo, canonical, vers)?;
                if !files.contains(&key) {
                    let (key, body) = version_page(repo, canonical, version)?;
                    let options = key.put_options(private);
                    let (written, body) = (Written::VersionFile(i), body.into());
                    first.push(written, key, body, PutMode::Create, options);
                }
                let readme = ObjectKey::readme(repo, canonical, vers)?;
                if version.has_readme && !files.contains(&readme) {
                    let tarball = ObjectKey::crate_file(repo, &krate.krate.name, vers)?;
                    readmes.push((i, version, readme, tarball));
                }
            }
        }

        let derived_writes = async {
            let (mut created, mut failed) = (vec![Vec::new(); crates.len()], None);
            for batch in [first, pages] {
                let answers = batch.write(self.blobs.as_ref()).await;
                self.settle(
                    repository,
                    crates,
                    answers,
                    present,
                    &mut created,
                    &mut failed,
                )
                .await;
            }
            (created, failed)
        };
        let budget = present.readme_bytes_at_once();
        let restore = self.restore_readmes(crates, &readmes, private, budget);
        let ((mut created, write_failed), (restored, restore_failed)) =
            tokio::join!(derived_writes, restore);
        for (i, key) in restored {
            created[i].push(key);
        }
        for e in [write_failed, restore_failed].into_iter().flatten() {
            failed.get_or_insert(e);
        }

        // Version pages and READMEs written for versions read before: one
        // deleted since must not keep them. Nor one deleted before: its
        // files are still there if that deletion, or the check after an
        // earlier restore, stopped half-way. A whole reindex checks once,
        // at its end; otherwise one read of the crate now.
        for (i, (krate, mut swept)) in crates.iter().zip(created).enumerate() {
            if let Some(files) = version_files(i) {
                swept.extend(files_of_deleted_versions(repository, &krate.krate, files));
            }
            let checked = match present {
                Present::Listed(listed) => {
                    listed
                        .pages_written
                        .lock()
                        .expect("not poisoned")
                        .extend(swept);
                    Ok(())
                }
                Present::Unknown => {
                    self.remove_pages_deleted_meanwhile(repository, &krate.krate.canonical, &swept)
                        .await
                }
            };
            if let Err(e) = checked {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Takes in a batch's answers: an index file written is kept for the
    /// git index, a version file written goes to the deletion sweep, and an
    /// index file or page another writer (a publish, a yank) wrote since
    /// the listing or the read is redone from the store, the bulk read
    /// being maybe older than that writer's.
    async fn settle(
        &self,
        repository: &Repository,
        crates: &[CrateVersions],
        answers: Vec<(WriteFor, Answer)>,
        present: &Present<'_>,
        created: &mut [Vec<ObjectKey>],
        failed: &mut Option<RegistryError>,
    ) {
        let mut redo = Vec::new();
        for ((what, key, body), answer) in answers {
            match (what, answer) {
                (Written::Derived(kind, _), Ok(_)) => present.holds(kind, key, body),
                (Written::VersionFile(i), Ok(_)) => created[i].push(key),
                (
                    Written::Derived(kind, i),
                    Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)),
                ) => redo.push((kind, i)),
                // A version page a publish wrote meanwhile.
                (Written::VersionFile(_), Err(BlobError::AlreadyExists(_))) => {}
                (_, Err(e)) => {
                    tracing::error!(repo = %repository.name, %key, error = %e, "could not write a derived file");
                    failed.get_or_insert(e.into());
                }
            }
        }
        for (kind, i) in redo {
            let canonical = &crates[i].krate.canonical;
            if let Err(e) = self
                .write_derived_file(kind, repository, canonical, true)
                .await
            {
                failed.get_or_insert(e);
            }
        }
    }

    /// The version pages and READMEs `krate` has in the store.
    async fn list_version_files(
        &self,
        repository: &Repository,
        krate: &CrateVersions,
    ) -> Result<HashSet<ObjectKey>, RegistryError> {
        let (repo, canonical) = (repository.name.as_str(), krate.krate.canonical.as_str());
        let readmes = KeyPrefix::CrateReadmes {
            repo: RepoName::new(repo)?,
            name: CrateName::new(canonical)?,
        };
        // A deleted version's README may have been left behind.
        let has_readmes =
            krate.versions.iter().any(|v| v.has_readme) || !krate.krate.deleted.is_empty();
        let (pages, readmes) = tokio::try_join!(self.list_version_pages(repo, canonical), async {
            match has_readmes {
                true => Ok(self.blobs.list(&readmes).await?),
                false => Ok(Vec::new()),
            }
        })?;
        Ok(pages.into_iter().chain(readmes).collect())
    }

    /// Renders again, from its `.crate`, each README in `lost` (a version
    /// that has one, the store lacking it) and writes it: a publish that
    /// stopped between its commit and its README write leaves that, and
    /// its page would say the README is missing. A batch at a time, of
    /// `.crate` files adding up to at most `budget` bytes (or one larger):
    /// read in one call, rendered in one blocking task, written in one
    /// call. Returns each README written, with its crate's index in
    /// `crates`. A README that cannot be rendered (its `.crate` gone, its
    /// file unreadable) is skipped, as at publish; a storage error is
    /// returned after the others are done, so that the caller can try
    /// again.
    async fn restore_readmes(
        &self,
        crates: &[CrateVersions],
        lost: &[(usize, &VersionRecord, ObjectKey, ObjectKey)],
        private: bool,
        budget: u64,
    ) -> (Vec<(usize, ObjectKey)>, Option<RegistryError>) {
        let (mut restored, mut failed) = (Vec::new(), None);
        let mut rest = lost;
        while !rest.is_empty() {
            let mut bytes = rest[0].1.size;
            let len = 1 + rest[1..]
                .iter()
                .take_while(|(_, version, ..)| {
                    bytes = bytes.saturating_add(version.size);
                    bytes <= budget
                })
                .count();
            let (some, after) = rest.split_at(len);
            rest = after;
            let keys: Vec<ObjectKey> = some.iter().map(|(.., key)| key.clone()).collect();
            let tarballs = self.blobs.get_many(&keys).await;
            let mut to_render = Vec::with_capacity(some.len());
            for ((i, version, readme, key), tarball) in some.iter().zip(tarballs) {
                let tarball = match tarball {
                    Ok(Some((tarball, _))) => tarball,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::error!(%key, error = %e, "could not read a .crate to restore its README");
                        failed.get_or_insert(e.into());
                        continue;
                    }
                };
                // Recorded at publish; `has_readme` says it was found there.
                let Some(path) = version.package.readme_path.clone() else {
                    continue;
                };
                to_render.push(LostReadme {
                    crate_index: *i,
                    key: readme.clone(),
                    name: crates[*i].krate.name.clone(),
                    vers: version.line.vers.clone(),
                    path,
                    repository_url: version.package.repository.clone(),
                    tarball,
                });
            }
            let limits = self.config.limits.clone();
            // Unpacking and rendering is CPU work: off the async threads.
            let rendered = tokio::task::spawn_blocking(move || {
                to_render
                    .into_iter()
                    .filter_map(|lost| Some((lost.render(&limits)?, lost)))
                    .collect::<Vec<_>>()
            })
            .await;
            // Skipped, as one that cannot be rendered: the same `.crate`
            // would fail the same way on every retry.
            let rendered = match rendered {
                Ok(rendered) => rendered,
                Err(e) => {
                    tracing::error!(error = %e, "README rendering failed; those READMEs stay missing");
                    continue;
                }
            };
            let mut batch = Batch::default();
            for (html, lost) in rendered {
                let options = lost.key.put_options(private);
                let written = Written::VersionFile(lost.crate_index);
                batch.push(written, lost.key, html.into(), PutMode::Create, options);
            }
            for ((what, key, _), result) in batch.write(self.blobs.as_ref()).await {
                match (what, result) {
                    (Written::VersionFile(i), Ok(_)) => restored.push((i, key)),
                    // Restored meanwhile (a publish, another reindex), from
                    // the same `.crate`: that writer's to sweep, as a
                    // version page is.
                    (_, Ok(_) | Err(BlobError::AlreadyExists(_))) => {}
                    (_, Err(e)) => {
                        tracing::error!(%key, error = %e, "could not restore a README");
                        failed.get_or_insert(e.into());
                    }
                }
            }
        }
        (restored, failed)
    }
}

/// A README to render again from its version's `.crate`.
struct LostReadme {
    crate_index: usize,
    key: ObjectKey,
    name: String,
    vers: String,
    path: String,
    repository_url: Option<String>,
    tarball: Bytes,
}

impl LostReadme {
    /// The README's HTML; `None` if the `.crate` no longer yields it
    /// (checked at publish: only the README is wanted here).
    fn render(&self, limits: &TarballLimits) -> Option<String> {
        let markdown =
            read_readme(&self.tarball, &self.name, &self.vers, &self.path, limits).ok()??;
        Some(crateyard_readme::render_readme(
            &markdown,
            Some(&self.path),
            self.repository_url.as_deref(),
        ))
    }
}

/// What a write of [`Registry::reindex_crates`] was for: the crate is an
/// index into its chunk.
#[derive(Debug, Clone, Copy)]
enum Written {
    Derived(Derived, usize),
    /// A version page or a README.
    VersionFile(usize),
}

/// Writes for one [`BlobStore::put_many`], with what each was for.
#[derive(Default)]
struct Batch {
    puts: Vec<Put>,
    written: Vec<WriteFor>,
}

/// A write of a [`Batch`]: what for, its key and body.
type WriteFor = (Written, ObjectKey, Bytes);
type Answer = Result<ObjectMeta, BlobError>;

impl Batch {
    /// Writes the batch; each write with what it was for and its answer.
    async fn write(self, blobs: &dyn BlobStore) -> Vec<(WriteFor, Answer)> {
        let count = self.puts.len();
        if count == 0 {
            return Vec::new();
        }
        let mut answers = blobs.put_many(self.puts).await;
        // A store that answers too few is broken: every write counts as failed.
        if answers.len() != count {
            answers = (0..count)
                .map(|_| Err(BlobError::Backend("put_many answered too few".into())))
                .collect();
        }
        self.written.into_iter().zip(answers).collect()
    }

    fn push(
        &mut self,
        written: Written,
        key: ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) {
        self.written.push((written, key.clone(), body.clone()));
        self.puts.push(Put {
            key,
            body,
            mode,
            options,
        });
    }
}

/// Crates reindexed at once: each is a few round trips on AWS, a few
/// blocking file operations locally.
pub(crate) const REINDEX_CONCURRENCY: usize = 32;

/// Crates whose files a whole-repository reindex reads in one call.
const REINDEX_CHUNK: usize = 8;

/// `.crate` bytes read at once to restore READMEs, over every crate being
/// reindexed (each call may go one `.crate` over its share).
const README_BYTES_IN_FLIGHT: u64 = 64 << 20;

/// Which derived files exist.
enum Present<'a> {
    /// As the listings of a whole repository found them.
    Listed(&'a Listed),
    /// Not listed (a batch of a few crates): each file is read, and each
    /// crate's version pages and READMEs listed.
    Unknown,
}

/// A whole repository's reindex: what its listings found, and what its
/// crates leave for its end.
struct Listed {
    /// Index files and crate pages.
    files: HashSet<ObjectKey>,
    /// Version pages and READMEs.
    version_files: HashSet<ObjectKey>,
    /// The version pages and READMEs this reindex created, for one check
    /// of the repository's deletions at its end.
    pages_written: Mutex<Vec<ObjectKey>>,
    /// The index files found right or written, with their bytes, for the
    /// git index's rebuild at the end.
    index_files: Mutex<HashMap<ObjectKey, Bytes>>,
}

/// The version pages and READMEs in `present` of versions `krate` has
/// deleted. A deleted version's number is never published again, so they
/// can always go.
fn files_of_deleted_versions(
    repository: &Repository,
    krate: &CrateRecord,
    present: &HashSet<ObjectKey>,
) -> Vec<ObjectKey> {
    let repo = repository.name.as_str();
    krate
        .deleted
        .iter()
        .flat_map(|gone| {
            [
                ObjectKey::version_page(repo, &krate.canonical, &gone.version),
                ObjectKey::readme(repo, &krate.canonical, &gone.version),
            ]
        })
        .filter_map(Result::ok)
        .filter(|key| present.contains(key))
        .collect()
}

impl Present<'_> {
    /// Whether `key` may exist, so is worth reading.
    fn may_hold(&self, key: &ObjectKey) -> bool {
        match self {
            Self::Listed(listed) => listed.files.contains(key),
            Self::Unknown => true,
        }
    }

    /// How many bytes of `.crate` files one call restoring READMEs reads
    /// at once: [`README_BYTES_IN_FLIGHT`] shared by the calls that run
    /// at once (a long history may have lost a thousand READMEs, each
    /// `.crate` up to the size limit; the reindex function has 512 MB).
    fn readme_bytes_at_once(&self) -> u64 {
        let calls = match self {
            Self::Listed(_) => REINDEX_CONCURRENCY / REINDEX_CHUNK,
            Self::Unknown => REINDEX_CONCURRENCY,
        };
        README_BYTES_IN_FLIGHT / calls as u64
    }

    /// The store holds `body` at `key` now: an index file's is kept for
    /// the git index's rebuild.
    fn holds(&self, kind: Derived, key: ObjectKey, body: Bytes) {
        if let (Derived::IndexFile, Self::Listed(listed)) = (kind, self) {
            listed
                .index_files
                .lock()
                .expect("not poisoned")
                .insert(key, body);
        }
    }
}

/// A local repository's index files as a whole reindex just made them, for
/// the git index's rebuild: the bytes verified or written, not read back
/// (10,000 reads for 10,000 crates). Files it did not make (written by a
/// racing writer) are read. A crate changed since the bulk read (a publish,
/// a yank, a deletion: each moves its revision) means its bytes may be
/// stale: then the rebuild is told to read again, and from then on every
/// file comes from the store, as [`StoredIndexFiles`] gives them.
struct ReindexedIndexFiles<'a> {
    registry: &'a Registry,
    repo: &'a str,
    stored: StoredIndexFiles,
    known: HashMap<ObjectKey, Bytes>,
    /// Each crate's revision, as the bulk read found it.
    revisions: HashMap<&'a str, u64>,
    moved_on: AtomicBool,
}

impl<'a> ReindexedIndexFiles<'a> {
    fn new(
        registry: &'a Registry,
        repo: &'a str,
        crates: &'a [CrateVersions],
        known: HashMap<ObjectKey, Bytes>,
    ) -> Self {
        Self {
            registry,
            repo,
            stored: StoredIndexFiles::new(registry.blobs.clone(), repo),
            known,
            revisions: crates
                .iter()
                .map(|c| (c.krate.canonical.as_str(), c.krate.revision))
                .collect(),
            moved_on: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl IndexFiles for ReindexedIndexFiles<'_> {
    async fn some(&self, names: &[CrateName]) -> Result<Vec<IndexFileEntry>, RegistryError> {
        self.stored.some(names).await
    }

    async fn all(&self) -> Result<Vec<IndexFileEntry>, RegistryError> {
        if self.moved_on.load(Ordering::Relaxed) {
            return self.stored.all().await;
        }
        let index = KeyPrefix::Index(RepoName::new(self.repo)?);
        let (known, unknown): (Vec<ObjectKey>, Vec<ObjectKey>) = self
            .stored
            .keys()
            .await?
            .into_iter()
            .partition(|key| self.known.contains_key(key));
        let mut files = self.stored.read(unknown).await?;
        for key in known {
            let path = key.below(&index).expect("index files are under index/");
            files.push((path, self.known.get(&key).cloned()));
        }
        Ok(files)
    }

    async fn still_current(&self) -> Result<bool, RegistryError> {
        if self.moved_on.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let now = self.registry.store.list_crates(self.repo).await?;
        let unchanged = now.len() == self.revisions.len()
            && now
                .iter()
                .all(|c| self.revisions.get(c.canonical.as_str()) == Some(&c.revision));
        if !unchanged {
            self.moved_on.store(true, Ordering::Relaxed);
        }
        Ok(unchanged)
    }
}
