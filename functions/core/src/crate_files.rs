//! A version's `.crate` object. It is written once before the version is
//! committed, and the bytes a committed version points to are never deleted.
//!
//! Writers racing to publish the same version share one object: the first
//! creates it, an identical publish reuses it, and either may win the
//! commit. So each side re-checks the other, without a lock:
//! - a writer whose commit was refused removes the object it created only
//!   if no committed version points to it (re-read), only while it still
//!   holds its own bytes (conditional delete), and puts them back if a
//!   commit landed meanwhile (re-read again);
//! - a writer that committed on a reused object makes sure it is still
//!   there, with the committed checksum.
//!
//! Whatever the interleaving, the last of these steps sees the commit.

use crate::keys::crate_file_key;
use crate::retry::Retries;
use crate::{
    BlobError, ObjectKind, PutMode, PutOptions, Registry, RegistryError, Repository, VersionRecord,
};
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
    pub key: &'a str,
    pub tarball: Bytes,
    pub cksum: &'a str,
}

impl CrateFile<'_> {
    fn options(&self) -> PutOptions {
        PutOptions {
            content_type: ObjectKind::CrateFile.content_type(),
            cache_control: ObjectKind::CrateFile.cache_control(),
            private: !self.repository.anonymous_read,
            ..PutOptions::default()
        }
    }

    fn is_same(&self, bytes: &[u8]) -> bool {
        hex::encode(Sha256::digest(bytes)) == self.cksum
    }

    /// Whether a committed version points to this object.
    fn committed_in<'v>(&self, versions: &'v [VersionRecord]) -> Option<&'v VersionRecord> {
        let repo = &self.repository.name;
        versions
            .iter()
            .find(|v| crate_file_key(repo, &v.line.name, &v.line.vers) == self.key)
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
                Some((bytes, _)) if file.is_same(&bytes) => Ok(StoredCrate::Reused),
                _ => Err(RegistryError::UploadInProgress {
                    name: name.into(),
                    version: version.into(),
                }),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// After a commit of `file`'s bytes: the object holds them. Only needed
    /// when this writer did not create it, since a refused writer that did
    /// may have removed it before seeing the commit.
    pub(crate) async fn ensure_committed_crate_file(
        &self,
        file: &CrateFile<'_>,
    ) -> Result<(), RegistryError> {
        let mut retries = Retries::new(file.key);
        loop {
            retries.next()?;
            let mode = match self.blobs.get(file.key).await? {
                Some((bytes, _)) if file.is_same(&bytes) => return Ok(()),
                // Bytes of a refused writer that raced in: the commit decides.
                Some((_, meta)) => PutMode::Update(meta.etag),
                None => PutMode::Create,
            };
            match self
                .blobs
                .put(file.key, file.tarball.clone(), mode, file.options())
                .await
            {
                Ok(_) => {
                    tracing::warn!(key = %file.key, "restored the .crate of a committed version after a racing publish removed it");
                    return Ok(());
                }
                Err(BlobError::AlreadyExists(_) | BlobError::Precondition(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// After this writer's commit was refused: removes the object it created,
    /// unless a committed version points to it. Failures are logged, not
    /// returned: the caller reports the refusal, and a leftover object only
    /// costs storage (the next identical publish reuses it).
    pub(crate) async fn discard_uncommitted_crate_file(
        &self,
        file: &CrateFile<'_>,
        canonical: &str,
        etag: &str,
    ) {
        if let Err(e) = self.try_discard(file, canonical, etag).await {
            tracing::error!(key = %file.key, error = %e, "could not clean up the .crate of a refused publish");
        }
    }

    async fn try_discard(
        &self,
        file: &CrateFile<'_>,
        canonical: &str,
        etag: &str,
    ) -> Result<(), RegistryError> {
        let repo = &file.repository.name;
        let versions = self.store.list_versions(repo, canonical).await?;
        if file.committed_in(&versions).is_some() {
            return Ok(());
        }
        match self.blobs.delete_if(file.key, etag).await {
            Ok(()) => {}
            // Replaced since: not ours to remove.
            Err(BlobError::Precondition(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        // A writer that reused these bytes may have committed between the
        // read and the delete: its version must keep them.
        let versions = self.store.list_versions(repo, canonical).await?;
        match file.committed_in(&versions) {
            Some(v) if v.line.cksum == file.cksum => self.ensure_committed_crate_file(file).await,
            _ => Ok(()),
        }
    }
}
