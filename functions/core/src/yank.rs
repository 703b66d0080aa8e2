use crate::clock::now_rfc3339;
use crate::publish::{lookup_name, max_version};
use crate::{
    CrateRecord, CrateWrite, Principal, Registry, RegistryError, StoreError, VersionWrite,
};

const MAX_ATTEMPTS: usize = 20;

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
        self.repository(repo).await?;
        let canonical = lookup_name(name)?;
        for _ in 0..MAX_ATTEMPTS {
            let krate = self.owned_crate(repo, &canonical, name, who).await?;
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
                    tracing::info!(repo, name = %krate.name, version, yanked, user = %who.user, "yank state changed");
                    break;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        self.rebuild_index_file(repo, &canonical).await
    }

    /// The crate, if it exists and `who` owns it.
    pub(crate) async fn owned_crate(
        &self,
        repo: &str,
        canonical: &str,
        name: &str,
        who: &Principal,
    ) -> Result<CrateRecord, RegistryError> {
        let krate = self
            .store
            .get_crate(repo, canonical)
            .await?
            .ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        if !krate.owners.contains(&who.user) {
            return Err(RegistryError::Forbidden(format!(
                "you (`{}`) are not an owner of crate `{}`",
                who.user, krate.name
            )));
        }
        Ok(krate)
    }
}
