use crate::access::Permission;
use crate::{
    CrateRecord, KeyPrefix, ObjectKey, Principal, Registry, RegistryError, RepoName, Repository,
};
use crateyard_tarball::inspect_crate;
use std::collections::HashSet;

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
    /// repository from the metadata store, and renders any README lost.
    /// Idempotent: a file already right is left untouched.
    /// `progress(done, total)` is called after each crate.
    pub async fn reindex(
        &self,
        repo: &str,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<usize, RegistryError> {
        let repository = self.repository(repo).await?;
        self.write_index_config(&repository).await?;
        let crates = self.store.list_crates(repo).await?;
        let readmes: HashSet<ObjectKey> = self
            .blobs
            .list(&KeyPrefix::Readmes(RepoName::new(repo)?))
            .await?
            .into_iter()
            .collect();
        for (done, krate) in crates.iter().enumerate() {
            self.write_derived_files(repo, &krate.canonical, true)
                .await?;
            self.restore_readmes(&repository, krate, &readmes).await?;
            progress(done + 1, crates.len());
        }
        Ok(crates.len())
    }

    /// Renders again, from its `.crate`, each README a version has but the
    /// store lacks: a publish that stopped between its commit and its README
    /// write leaves that, and its page would say the README is missing.
    async fn restore_readmes(
        &self,
        repository: &Repository,
        krate: &CrateRecord,
        present: &HashSet<ObjectKey>,
    ) -> Result<(), RegistryError> {
        let repo = repository.name.as_str();
        for version in self.store.list_versions(repo, &krate.canonical).await? {
            let vers = &version.line.vers;
            if !version.has_readme
                || present.contains(&ObjectKey::readme(repo, &krate.canonical, vers)?)
            {
                continue;
            }
            let key = ObjectKey::crate_file(repo, &krate.name, vers)?;
            let Some((tarball, _)) = self.blobs.get(&key).await? else {
                continue;
            };
            // Checked at publish; only the README is wanted here.
            let Ok(inspected) =
                inspect_crate(&tarball, &krate.name, vers, &[], &self.config.limits)
            else {
                continue;
            };
            if let Some(markdown) = &inspected.package.readme {
                self.store_readme(
                    repository,
                    &krate.canonical,
                    vers,
                    inspected.package.readme_path.as_deref(),
                    inspected.package.repository.as_deref(),
                    markdown,
                )
                .await;
            }
        }
        Ok(())
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
