//! The first round trip of every change to a crate (publish, yank,
//! owners): who asks, the repository it writes to, and the crate's state
//! there, read at once. On AWS each read is a call; these run side by side.

use crate::index_writer::DerivedHeads;
use crate::{
    CrateName, CrateRecord, DerivedFiles, Principal, Registry, RegistryError, Repository,
    VersionRecord,
};

/// A crate's state as a change reads it before deciding: its record, its
/// versions, and, where the request writes the derived files, their
/// metadata, so that writing them after the commit needs no further read.
#[derive(Debug)]
pub(crate) struct CrateState {
    pub krate: Option<CrateRecord>,
    pub versions: Vec<VersionRecord>,
    pub heads: Option<DerivedHeads>,
}

impl Registry {
    /// One round trip: the crate's record, its versions and its derived
    /// files' metadata, read at once.
    pub(crate) async fn crate_state(
        &self,
        repo: &str,
        name: &CrateName,
    ) -> Result<CrateState, RegistryError> {
        let canonical = name.canonical();
        let heads = async {
            match self.config.derived_files {
                DerivedFiles::InRequest => self.derived_heads(repo, name).await.map(Some),
                DerivedFiles::ChangeStream => Ok(None),
            }
        };
        let (krate, versions, heads) = tokio::join!(
            self.store.get_crate(repo, &canonical),
            self.store.list_versions(repo, &canonical),
            heads,
        );
        Ok(CrateState {
            krate: krate?,
            versions: versions?,
            heads: heads?,
        })
    }

    /// The repository a change to `name` in `repo` writes to, with the
    /// crate's state there, read at once (a virtual repository's default
    /// member costs a second round).
    pub(crate) async fn write_target_with_state(
        &self,
        repo: &str,
        name: &CrateName,
    ) -> Result<(Repository, CrateState), RegistryError> {
        let (repository, state) =
            tokio::join!(self.write_target(repo), self.crate_state(repo, name));
        let repository = repository?;
        let state = if repository.name == repo {
            state?
        } else {
            self.crate_state(&repository.name, name).await?
        };
        Ok((repository, state))
    }

    /// Who makes a change to `name` in `repo`, the repository it writes to
    /// and the crate's state there. `authentication` runs beside the reads
    /// (each a round trip on AWS): they are only reads, and nothing is
    /// decided or written before it succeeds.
    pub(crate) async fn authenticated_target(
        &self,
        authentication: impl Future<Output = Result<Principal, RegistryError>>,
        repo: &str,
        name: &CrateName,
    ) -> Result<(Principal, Repository, CrateState), RegistryError> {
        let (who, target) = tokio::join!(authentication, self.write_target_with_state(repo, name));
        let who = who?;
        let (repository, state) = target?;
        Ok((who, repository, state))
    }
}
