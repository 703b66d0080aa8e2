//! A crate's derived files, its index file and its web UI page, are rebuilt
//! whole from the metadata store and written by compare-and-swap, so
//! concurrent writers converge and an older revision never replaces a newer
//! one.

use crate::pages::crate_page;
use crate::retry::Retries;
use crate::{
    BlobError, CrateRecord, ObjectKey, PutMode, REVISION_METADATA, Registry, RegistryError,
    VersionRecord,
};
use crateyard_index::write_lines;

/// The files derived from a crate's versions.
#[derive(Debug, Clone, Copy)]
enum Derived {
    IndexFile,
    Page,
}

fn derived_file(
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

impl Registry {
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
        // Independent files, written at once (each a round trip on AWS).
        let (index, page) = tokio::join!(
            self.write_derived_file(Derived::IndexFile, repo, canonical, force),
            self.write_derived_file(Derived::Page, repo, canonical, force),
        );
        index.and(page)
    }

    async fn write_derived_file(
        &self,
        kind: Derived,
        repo: &str,
        canonical: &str,
        force: bool,
    ) -> Result<(), RegistryError> {
        let private = !self.repository(repo).await?.anonymous_read;
        let mut retries = Retries::new(canonical);
        loop {
            retries.next()?;
            let Some(krate) = self.store.get_crate(repo, canonical).await? else {
                return Err(RegistryError::UnknownCrate(canonical.into()));
            };
            let versions = self.store.list_versions(repo, canonical).await?;
            let (key, body) = derived_file(kind, repo, &krate, &versions)?;
            let current = if force {
                self.blobs
                    .get(&key)
                    .await?
                    .map(|(bytes, meta)| (Some(bytes), meta))
            } else {
                self.blobs.head(&key).await?.map(|meta| (None, meta))
            };
            let mode = match current {
                Some((_, meta)) if meta.revision() > krate.revision => return Ok(()),
                Some((bytes, meta))
                    if meta.revision() == krate.revision
                        && bytes.as_ref().is_none_or(|b| *b == body) =>
                {
                    return Ok(());
                }
                Some((_, meta)) => PutMode::Update(meta.etag),
                None => PutMode::Create,
            };
            let mut options = key.put_options(private);
            options.metadata = [(REVISION_METADATA.to_string(), krate.revision.to_string())].into();
            match self.blobs.put(&key, body.into(), mode, options).await {
                Ok(_) => return Ok(()),
                // Someone else wrote in between: read both again.
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
