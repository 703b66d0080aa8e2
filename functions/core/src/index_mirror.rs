//! A second form of a repository's index, kept in step with the sparse
//! index files (the git index: `crateyard_git`). The port lets the binaries
//! that write derived files carry its code, and the others (the API
//! function on AWS, whose index follows the change stream) leave it out.

use crate::{BlobStore, CrateName, Registry, RegistryError, Repository};
use async_trait::async_trait;
use std::sync::Arc;

#[async_trait]
pub trait IndexMirror: Send + Sync + 'static {
    /// Brings the mirror in step with these crates' index files (and the
    /// repository's `config.json`) as they are now in the blob store.
    /// `names` as published: their index files' keys follow from them.
    async fn crates_changed(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<(), RegistryError>;

    /// Rebuilds the whole mirror from the repository's index files.
    async fn rebuild(&self, repository: &Repository) -> Result<(), RegistryError>;
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
    /// only `config.json`) were written.
    pub(crate) async fn mirror_crates(
        &self,
        repository: &Repository,
        names: &[CrateName],
    ) -> Result<(), RegistryError> {
        match &self.mirror {
            Some(mirror) => mirror.crates_changed(repository, names).await,
            None => Ok(()),
        }
    }

    /// Rebuilds the mirror, if any, of a repository.
    pub(crate) async fn mirror_repository(
        &self,
        repository: &Repository,
    ) -> Result<(), RegistryError> {
        match &self.mirror {
            Some(mirror) => mirror.rebuild(repository).await,
            None => Ok(()),
        }
    }
}
