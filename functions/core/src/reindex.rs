use crate::access::Permission;
use crate::{Principal, Registry, RegistryError};

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
    /// repository from the metadata store. Idempotent: a file already right is left untouched.
    /// `progress(done, total)` is called after each crate.
    pub async fn reindex(
        &self,
        repo: &str,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, RegistryError> {
        let repository = self.repository(repo).await?;
        self.write_index_config(&repository).await?;
        let crates = self.store.list_crates(repo).await?;
        for (done, krate) in crates.iter().enumerate() {
            self.write_derived_files(repo, &krate.canonical, true)
                .await?;
            progress(done + 1, crates.len());
        }
        Ok(crates.len())
    }
}

impl Registry {
    /// Reindex asked for over the API: only a repository admin may.
    pub async fn reindex_as(&self, who: &Principal, repo: &str) -> Result<usize, RegistryError> {
        let repository = self.repository(repo).await?;
        self.authorize(Some(who), &repository, Permission::Admin, None)?;
        self.reindex(repo, &|_, _| {}).await
    }
}
