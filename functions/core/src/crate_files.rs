//! A version's `.crate` object. It is written once before the version is
//! committed, and bytes a committed version points to are never deleted.
//!
//! Writers racing to publish the same version share one object: the first
//! creates it, an identical publish reuses it, and either may win the
//! commit. A writer whose commit is refused therefore cannot tell whether
//! its object is, or will be, the bytes of a committed version, except in
//! one case: the version is committed under another file name (it differs
//! in build metadata, `1.0.0+a` against `1.0.0+b`), so nothing can ever
//! point to this one. Only then is the object removed (and only while it
//! still holds this writer's bytes). Otherwise it stays: an identical
//! publish reuses it, and at worst it costs storage. (Deleting after a
//! re-check of the commits is not enough: a racing writer can commit on
//! the object between the re-check and the delete, and a crash can stop
//! the deleter before it sees that commit.)

use crate::{BlobError, ObjectKey, PutMode, PutOptions, Registry, RegistryError, Repository};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// What [`Registry::store_crate_file`] did.
#[derive(Debug)]
pub(crate) enum StoredCrate {
    /// This writer created the object; the ETag names its bytes.
    Created { etag: String },
    /// Identical bytes were there already (an interrupted attempt, or a
    /// concurrent identical publish).
    Reused,
}

/// The bytes of one version on their way in.
pub(crate) struct CrateFile<'a> {
    pub repository: &'a Repository,
    pub key: &'a ObjectKey,
    /// The version's identity, build metadata left out ([`crate::version_key`]).
    pub version_key: &'a str,
    pub tarball: Bytes,
    pub cksum: &'a str,
}

impl CrateFile<'_> {
    fn options(&self) -> PutOptions {
        self.key.put_options(!self.repository.anonymous_read)
    }

    fn is_same(&self, bytes: &[u8]) -> bool {
        hex::encode(Sha256::digest(bytes)) == self.cksum
    }
}

impl Registry {
    /// Writes the `.crate` once (`If-None-Match: *`). Identical bytes already
    /// there are reused; different bytes mean another upload of this version
    /// is under way.
    pub(crate) async fn store_crate_file(
        &self,
        file: &CrateFile<'_>,
        name: &str,
        version: &str,
    ) -> Result<StoredCrate, RegistryError> {
        let put = self
            .blobs
            .put(
                file.key,
                file.tarball.clone(),
                PutMode::Create,
                file.options(),
            )
            .await;
        match put {
            Ok(meta) => Ok(StoredCrate::Created { etag: meta.etag }),
            Err(BlobError::AlreadyExists(_)) => match self.blobs.get(file.key).await? {
                Some((bytes, _)) if file.is_same(&bytes) => {
                    // Written by an attempt on other settings, perhaps
                    // (a turn to private since): this publish's commit
                    // checks the settings it tags with now.
                    self.blobs
                        .set_private(file.key, file.options().private)
                        .await?;
                    Ok(StoredCrate::Reused)
                }
                _ => Err(RegistryError::UploadInProgress {
                    name: name.into(),
                    version: version.into(),
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// After this writer's commit was refused: removes the object it
    /// created when the version is committed under another file name (see
    /// the module's comment). Failures are logged, not returned: the caller
    /// reports the refusal, and a leftover object only costs storage.
    pub(crate) async fn discard_uncommitted_crate_file(
        &self,
        file: &CrateFile<'_>,
        canonical: &str,
        etag: &str,
    ) {
        let repo = &file.repository.name;
        let versions = match self.store.list_versions(repo, canonical).await {
            Ok(versions) => versions,
            Err(e) => {
                tracing::warn!(key = %file.key, error = %e, "kept the .crate of a refused publish");
                return;
            }
        };
        let elsewhere = versions.iter().any(|v| {
            v.version_key == file.version_key
                && ObjectKey::crate_file(repo, &v.line.name, &v.line.vers)
                    .ok()
                    .as_ref()
                    != Some(file.key)
        });
        if !elsewhere {
            return;
        }
        match self.blobs.delete_if(file.key, etag).await {
            // Replaced since: not ours to remove.
            Ok(()) | Err(BlobError::Precondition(_)) => {}
            Err(e) => {
                tracing::warn!(key = %file.key, error = %e, "could not remove the .crate of a refused publish");
            }
        }
    }
}
