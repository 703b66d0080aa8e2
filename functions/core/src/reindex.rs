use crate::{Registry, RegistryError};

impl Registry {
    /// Rebuilds `config.json` and every index file of a repository from the
    /// metadata store. Idempotent: a file already right is left untouched.
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
            self.write_index_file(repo, &krate.canonical, true).await?;
            progress(done + 1, crates.len());
        }
        Ok(crates.len())
    }
}
