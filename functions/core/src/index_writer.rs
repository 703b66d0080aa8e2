//! A crate's derived files, its index file and its web UI page, are rebuilt
//! whole from the metadata store and written by compare-and-swap, so
//! concurrent writers converge and an older revision never replaces a newer
//! one.

use crate::pages::crate_page;
use crate::retry::Retries;
use crate::search_index::SearchEntry;
use crate::{
    BlobError, CrateName, CrateRecord, ObjectKey, ObjectMeta, PutMode, PutOptions,
    REVISION_METADATA, Registry, RegistryError, Repository, VersionRecord,
};
use bytes::Bytes;
use crateyard_index::write_lines;

/// The files derived from a crate's versions.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Derived {
    IndexFile,
    Page,
}

pub(crate) fn derived_file(
    kind: Derived,
    repo: &str,
    krate: &CrateRecord,
    versions: &[VersionRecord],
) -> Result<(ObjectKey, Vec<u8>), RegistryError> {
    Ok(match kind {
        Derived::IndexFile => (
            ObjectKey::index_file(repo, &krate.name)?,
            write_lines(versions.iter().map(|v| &v.line)),
        ),
        Derived::Page => (
            ObjectKey::crate_page(repo, &krate.canonical)?,
            crate_page(repo, krate, versions)?,
        ),
    })
}

/// A crate's derived files' metadata, read before a change is decided,
/// under the keys the request's spelling of the name gives.
#[derive(Debug)]
pub(crate) struct DerivedHeads {
    index: (ObjectKey, Option<ObjectMeta>),
    page: (ObjectKey, Option<ObjectMeta>),
}

impl Registry {
    pub(crate) async fn derived_heads(
        &self,
        repo: &str,
        name: &CrateName,
    ) -> Result<DerivedHeads, RegistryError> {
        let index = ObjectKey::index_file(repo, name.as_str())?;
        let page = ObjectKey::crate_page(repo, &name.canonical())?;
        let (index_head, page_head) = tokio::join!(self.blobs.head(&index), self.blobs.head(&page));
        Ok(DerivedHeads {
            index: (index, index_head?),
            page: (page, page_head?),
        })
    }

    /// Writes a crate's derived files for the state a change has just
    /// committed, over the metadata read before it (no read in between).
    /// A file changed since fails its precondition and is left to
    /// [`Self::write_derived_file`], which reads again. Without `heads`
    /// (read only where the request writes the derived files, see
    /// `crate_state.rs`), the change stream's consumer writes them and
    /// nothing is done here.
    pub(crate) async fn write_committed_files(
        &self,
        repository: &Repository,
        krate: &CrateRecord,
        versions: &[VersionRecord],
        heads: Option<DerivedHeads>,
    ) -> Result<(), RegistryError> {
        let repo = repository.name.as_str();
        let Some(heads) = heads else { return Ok(()) };
        // Both bodies first: built inside the writes, the page's (large
        // with a long history) would hold back its PUT until after the
        // index file's had gone out.
        let index = derived_file(Derived::IndexFile, repo, krate, versions)?;
        let page = derived_file(Derived::Page, repo, krate, versions)?;
        let write = |kind: Derived,
                     (key, body): (ObjectKey, Vec<u8>),
                     (read, head): (ObjectKey, Option<ObjectMeta>)| async move {
            // Read under another spelling of the name (`foo_bar` for
            // `foo-bar`): nothing is known of this file, so read it again.
            if read != key {
                return self
                    .write_derived_file(kind, repository, &krate.canonical, false)
                    .await;
            }
            let current = head.as_ref().map(|meta| (None, meta));
            let Some(mode) = put_mode(current, krate.revision, &body) else {
                return Ok(());
            };
            let options = derived_options(&key, krate.revision, !repository.anonymous_read);
            match self.blobs.put(&key, body.into(), mode, options).await {
                Ok(_) => Ok(()),
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => {
                    self.write_derived_file(kind, repository, &krate.canonical, false)
                        .await
                }
                Err(e) => Err(e.into()),
            }
        };
        // The page after the version pages it links to; the index file
        // meanwhile.
        let page = async {
            let version_pages = self
                .complete_version_pages(repository, &krate.canonical, versions)
                .await;
            write(Derived::Page, page, heads.page)
                .await
                .and(version_pages)
        };
        let (index, page, search) = tokio::join!(
            write(Derived::IndexFile, index, heads.index),
            page,
            self.write_search_entry(repo, krate),
        );
        let mirrored = async {
            index?;
            // After the index file: the mirror copies what it finds there.
            let name = CrateName::new(&krate.name)?;
            self.mirror_crates(repository, &[name]).await
        };
        let written = mirrored.await.and(page).and(search);
        // Whatever the writes did (see `write_derived_files`).
        written.and(self.follow_visibility_change(repository).await)
    }

    /// Where the registry keeps search shards, brings the crate's entry up
    /// to date.
    async fn write_search_entry(
        &self,
        repo: &str,
        krate: &CrateRecord,
    ) -> Result<(), RegistryError> {
        if !self.keeps_search_shards() {
            return Ok(());
        }
        let entry = SearchEntry::of(krate);
        self.update_search_entries(repo, vec![(krate.canonical.clone(), Some(entry))])
            .await
    }

    /// Rewrites the index file and the page of one crate from a consistent
    /// read of its versions, unless they already reflect this revision or a
    /// newer one.
    pub async fn rebuild_crate_files(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<(), RegistryError> {
        self.write_derived_files(repo, canonical, false).await
    }

    /// `force` also rewrites a file whose metadata claims it is current but
    /// whose content differs (edited or damaged by hand): what reindex needs.
    pub(crate) async fn write_derived_files(
        &self,
        repo: &str,
        canonical: &str,
        force: bool,
    ) -> Result<(), RegistryError> {
        // The settings the files' visibility is first decided on; followed
        // whatever the writes did, since a retry would take the new
        // settings as its own and leave a file already written as it is.
        let repository = self.repository(repo).await?;
        let written = self
            .write_derived_files_of(&repository, canonical, force)
            .await;
        written.and(self.follow_visibility_change(&repository).await)
    }

    async fn write_derived_files_of(
        &self,
        repository: &Repository,
        canonical: &str,
        force: bool,
    ) -> Result<(), RegistryError> {
        let repo = repository.name.as_str();
        // Independent files, written at once (each a round trip on AWS); the
        // page after the version pages it links to.
        let page = async {
            let version_pages = async {
                let versions = self.store.list_versions(repo, canonical).await?;
                self.complete_version_pages(repository, canonical, &versions)
                    .await
            };
            let version_pages = version_pages.await;
            self.write_derived_file(Derived::Page, repository, canonical, force)
                .await
                .and(version_pages)
        };
        let (index, page) = tokio::join!(
            self.write_derived_file(Derived::IndexFile, repository, canonical, force),
            page,
        );
        index?;
        let krate = match self.mirror.is_some() || self.keeps_search_shards() {
            true => self.store.get_crate(repo, canonical).await?,
            false => None,
        };
        let Some(krate) = krate else { return page };
        if self.mirror.is_some() {
            self.mirror_crates(repository, &[CrateName::new(&krate.name)?])
                .await?;
        }
        page.and(self.write_search_entry(repo, &krate).await)
    }

    /// Writes one derived file of a crate from a fresh read of the store,
    /// by compare-and-swap, until it is current or a newer writer won.
    /// Tagged as `repository` says: the caller's settings, which it follows
    /// after its writes ([`Self::follow_visibility_change`]).
    pub(crate) async fn write_derived_file(
        &self,
        kind: Derived,
        repository: &Repository,
        canonical: &str,
        force: bool,
    ) -> Result<(), RegistryError> {
        let (repo, private) = (repository.name.as_str(), !repository.anonymous_read);
        let mut retries = Retries::new(canonical);
        loop {
            retries.next()?;
            let Some(krate) = self.store.get_crate(repo, canonical).await? else {
                return Err(RegistryError::UnknownCrate(canonical.into()));
            };
            let versions = self.store.list_versions(repo, canonical).await?;
            let (key, body) = derived_file(kind, repo, &krate, &versions)?;
            let mode = if force {
                let current = self.blobs.get(&key).await?;
                put_mode(
                    current.as_ref().map(|(bytes, meta)| (Some(bytes), meta)),
                    krate.revision,
                    &body,
                )
            } else {
                let current = self.blobs.head(&key).await?;
                put_mode(
                    current.as_ref().map(|meta| (None, meta)),
                    krate.revision,
                    &body,
                )
            };
            let Some(mode) = mode else { return Ok(()) };
            let options = derived_options(&key, krate.revision, private);
            match self.blobs.put(&key, body.into(), mode, options).await {
                Ok(_) => return Ok(()),
                // Someone else wrote in between: read both again.
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// How to write a derived file built from `revision` over what is there
/// (its bytes, when read, and metadata), or `None` when nothing is to be
/// written: the file holds a newer revision, or this one (with these bytes,
/// when they were read).
pub(crate) fn put_mode(
    current: Option<(Option<&Bytes>, &ObjectMeta)>,
    revision: u64,
    body: &[u8],
) -> Option<PutMode> {
    match current {
        Some((_, meta)) if meta.revision() > revision => None,
        Some((bytes, meta))
            if meta.revision() == revision && bytes.is_none_or(|b| b.as_ref() == body) =>
        {
            None
        }
        Some((_, meta)) => Some(PutMode::Update(meta.etag.clone())),
        None => Some(PutMode::Create),
    }
}

/// How a derived file built from `revision` is stored: as its key says,
/// with the revision it reflects.
pub(crate) fn derived_options(key: &ObjectKey, revision: u64, private: bool) -> PutOptions {
    let mut options = key.put_options(private);
    options.metadata = [(REVISION_METADATA.to_string(), revision.to_string())].into();
    options
}
