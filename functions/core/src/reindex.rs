use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::index_writer::{Derived, derived_file, derived_options, put_mode};
use crate::{
    BlobError, CrateName, CrateRecord, CrateVersions, IndexFileEntry, IndexFiles, KeyPrefix,
    ObjectKey, ObjectMeta, Registry, RegistryError, RepoKind, RepoName, Repository,
    StoredIndexFiles,
};
use async_trait::async_trait;
use bytes::Bytes;
use crateyard_tarball::read_readme;
use futures_util::future::join_all;
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

    /// Brings a few crates' derived files up to date from the bulk read:
    /// every body built first, the files that may exist read in one call
    /// (locally, one blocking task rather than one per file), then what
    /// differs written.
    async fn reindex_crates(
        &self,
        repository: &Repository,
        crates: &[CrateVersions],
        present: &Present<'_>,
    ) -> Result<(), RegistryError> {
        let repo = repository.name.as_str();
        let mut files = Vec::with_capacity(crates.len() * 2);
        let mut to_read = Vec::new();
        for krate in crates {
            for kind in [Derived::IndexFile, Derived::Page] {
                let (key, body) = derived_file(kind, repo, &krate.krate, &krate.versions)?;
                let listed = present.may_hold(&key);
                if listed {
                    to_read.push(key.clone());
                }
                files.push((kind, krate, key, body, listed));
            }
        }
        let mut read = self.blobs.get_many(&to_read).await.into_iter();
        // Each crate's page after its version pages, which it links to;
        // the index files meanwhile. (Loops, not closures: a closure's
        // higher-ranked lifetimes would make these futures fail `Send`.)
        let (mut index_files, mut pages) = (Vec::new(), Vec::new());
        for (kind, krate, key, body, listed) in files {
            let current = match listed {
                true => read.next().ok_or_else(|| {
                    BlobError::Backend(format!("{key}: get_many answered too few"))
                })??,
                false => None,
            };
            let write = self.reindex_file(kind, repository, krate, key, body, current, present);
            match kind {
                Derived::IndexFile => index_files.push(write),
                Derived::Page => {
                    pages.push(self.reindex_version_files(repository, krate, present, write));
                }
            }
        }
        let (indexed, paged) = tokio::join!(join_all(index_files), join_all(pages));
        indexed.into_iter().chain(paged).collect()
    }

    /// Writes any version page or README of `krate` that the store lacks,
    /// then `page` (the crate's page) once the version pages are there.
    async fn reindex_version_files(
        &self,
        repository: &Repository,
        krate: &CrateVersions,
        present: &Present<'_>,
        page: impl Future<Output = Result<(), RegistryError>>,
    ) -> Result<(), RegistryError> {
        let canonical = krate.krate.canonical.as_str();
        let listed;
        let (files, written) = match present {
            Present::Listed(listed) => (&listed.version_files, Some(&listed.pages_written)),
            Present::Unknown => {
                listed = self.list_version_files(repository, krate).await?;
                (&listed, None)
            }
        };
        let pages_then_page = async {
            let created = self
                .write_missing_version_pages(repository, canonical, &krate.versions, files)
                .await;
            (page.await, created)
        };
        let ((page, created), (mut restored, readmes)) = tokio::join!(
            pages_then_page,
            self.restore_readmes(repository, krate, files)
        );
        // Version pages and READMEs written for versions read before: one
        // deleted since must not keep them. Nor one deleted before: its
        // files are still there if that deletion, or the check after an
        // earlier restore, stopped half-way. A whole reindex checks once,
        // at its end; otherwise one read of the crate now.
        let created = created.map(|pages| restored.extend(pages));
        restored.extend(files_of_deleted_versions(repository, &krate.krate, files));
        let swept = match written {
            Some(all) => {
                all.lock().expect("not poisoned").extend(restored);
                Ok(())
            }
            None => {
                self.remove_pages_deleted_meanwhile(repository, canonical, &restored)
                    .await
            }
        };
        page.and(created)
            .and(readmes.map_or(Ok(()), Err))
            .and(swept)
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

    /// Writes one derived file built from the bulk read over what was read
    /// of it (`current`), unless it already holds that.
    #[allow(clippy::too_many_arguments)]
    async fn reindex_file(
        &self,
        kind: Derived,
        repository: &Repository,
        krate: &CrateVersions,
        key: ObjectKey,
        body: Vec<u8>,
        current: Option<(Bytes, ObjectMeta)>,
        present: &Present<'_>,
    ) -> Result<(), RegistryError> {
        let canonical = krate.krate.canonical.as_str();
        let revision = krate.krate.revision;
        let body = Bytes::from(body);
        // The store holds `body` now: kept for the git index's rebuild.
        let holds = |key: ObjectKey, body: Bytes| {
            if let (Derived::IndexFile, Present::Listed(listed)) = (kind, present) {
                listed
                    .index_files
                    .lock()
                    .expect("not poisoned")
                    .insert(key, body);
            }
        };
        let read = current.as_ref().map(|(bytes, meta)| (Some(bytes), meta));
        let Some(mode) = put_mode(read, revision, &body) else {
            // Right already, unless it holds a newer revision.
            if current.is_some_and(|(bytes, _)| bytes == body) {
                holds(key, body);
            }
            return Ok(());
        };
        let options = derived_options(&key, revision, !repository.anonymous_read);
        match self.blobs.put(&key, body.clone(), mode, options).await {
            Ok(_) => {
                holds(key, body);
                Ok(())
            }
            // Written since the listing or the read (by a publish, a yank):
            // the bulk read may be older than that writer's; start over
            // from the store.
            Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => {
                self.write_derived_file(kind, repository, canonical, true)
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Renders again, from its `.crate`, each README a version has but the
    /// store lacks: a publish that stopped between its commit and its README
    /// write leaves that, and its page would say the README is missing.
    /// A README that cannot be rendered (its `.crate` gone, its file
    /// unreadable) is skipped, as at publish; a storage error is returned
    /// (beside the READMEs restored) after the others are done, so that
    /// the caller can try again.
    async fn restore_readmes(
        &self,
        repository: &Repository,
        krate: &CrateVersions,
        present: &HashSet<ObjectKey>,
    ) -> (Vec<ObjectKey>, Option<RegistryError>) {
        let (mut restored, mut failed) = (Vec::new(), None);
        let repo = repository.name.as_str();
        let CrateVersions { krate, versions } = krate;
        for version in versions {
            let vers = &version.line.vers;
            let present = ObjectKey::readme(repo, &krate.canonical, vers)
                .is_ok_and(|readme| present.contains(&readme));
            if !version.has_readme || present {
                continue;
            }
            let Ok(key) = ObjectKey::crate_file(repo, &krate.name, vers) else {
                continue;
            };
            let tarball = match self.blobs.get(&key).await {
                Ok(Some((tarball, _))) => tarball,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(%key, error = %e, "could not read a .crate to restore its README");
                    failed = Some(e.into());
                    continue;
                }
            };
            // Recorded at publish; `has_readme` says it was found there.
            let Some(readme_path) = version.package.readme_path.clone() else {
                continue;
            };
            let repository_url = version.package.repository.clone();
            let (name, vers_owned, limits) =
                (krate.name.clone(), vers.clone(), self.config.limits.clone());
            // Unpacking and rendering is CPU work: off the async threads.
            let rendered = tokio::task::spawn_blocking(move || {
                // Checked at publish; only the README is wanted here.
                let markdown =
                    read_readme(&tarball, &name, &vers_owned, &readme_path, &limits).ok()??;
                Some(crateyard_readme::render_readme(
                    &markdown,
                    Some(&readme_path),
                    repository_url.as_deref(),
                ))
            })
            .await;
            if let Ok(Some(html)) = rendered {
                match self
                    .put_readme(repository, &krate.canonical, vers, html)
                    .await
                {
                    Ok(key) => restored.push(key),
                    Err(e) => {
                        tracing::error!(repo, version = %vers, error = %e, "could not restore a README");
                        failed = Some(e);
                    }
                }
            }
        }
        (restored, failed)
    }
}

/// Crates reindexed at once: each is a few round trips on AWS, a few
/// blocking file operations locally.
pub(crate) const REINDEX_CONCURRENCY: usize = 32;

/// Crates whose files a whole-repository reindex reads in one call.
const REINDEX_CHUNK: usize = 8;

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
