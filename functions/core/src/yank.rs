use crate::access::{CrateTarget, Permission};
use crate::clock::now_rfc3339;
use crate::publish::{lookup_name, max_version};
use crate::retry::Retries;
use crate::{
    CrateRecord, CrateWrite, Principal, Registry, RegistryError, Repository, StoreError,
    VersionWrite,
};

impl Registry {
    /// Yanks (`yanked = true`) or unyanks a version; repeating either is a no-op.
    pub async fn set_yanked(
        &self,
        repo: &str,
        who: &Principal,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> Result<(), RegistryError> {
        let repository = self.write_target(repo).await?;
        let repo = repository.name.as_str();
        let canonical = lookup_name(name)?;
        let mut retries = Retries::new(&canonical);
        loop {
            retries.next()?;
            let krate = self
                .crate_for_change(&repository, &canonical, name, who, Permission::Yank)
                .await?;
            let versions = self.store.list_versions(repo, &canonical).await?;
            let Some(target) = versions.iter().find(|v| v.line.vers == version) else {
                return Err(RegistryError::UnknownVersion {
                    name: krate.name,
                    version: version.into(),
                });
            };
            if target.line.yanked == yanked {
                break;
            }
            let mut changed = target.clone();
            changed.line.yanked = yanked;
            let lines = versions.iter().map(|v| {
                if v.line.vers == version {
                    &changed.line
                } else {
                    &v.line
                }
            });
            let write = CrateWrite {
                krate: CrateRecord {
                    revision: krate.revision + 1,
                    max_version: max_version(lines),
                    updated_at: now_rfc3339(),
                    ..krate.clone()
                },
                expected_revision: Some(krate.revision),
                version: Some(VersionWrite::Replace(changed)),
            };
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    tracing::info!(repo, name = %krate.name, version, yanked, user = %who.login(), "yank state changed");
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.rebuild_crate_files(repo, &canonical).await
    }

    /// The crate, if it exists and `who` may make this change to it.
    pub(crate) async fn crate_for_change(
        &self,
        repository: &Repository,
        canonical: &str,
        name: &str,
        who: &Principal,
        permission: Permission,
    ) -> Result<CrateRecord, RegistryError> {
        let krate = self.store.get_crate(&repository.name, canonical).await?;
        // Callers who may not read the repository learn nothing about its crates.
        self.authorize(
            Some(who),
            repository,
            Permission::Read,
            Some(CrateTarget { name, owners: None }),
        )?;
        let krate = krate.ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        let target = CrateTarget {
            name: &krate.name,
            owners: Some(&krate.owners),
        };
        self.authorize(Some(who), repository, permission, Some(target))?;
        Ok(krate)
    }
}
