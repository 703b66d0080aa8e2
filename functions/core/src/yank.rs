use crate::access::{CrateTarget, Permission};
use crate::audit::{AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::publish::{lookup_crate_name, max_version};
use crate::retry::Retries;
use crate::{
    CrateRecord, CrateWrite, Principal, Registry, RegistryError, Repository, StoreError,
    VersionWrite,
};

impl Registry {
    /// Yanks (`yanked = true`) or unyanks a version once `authentication`
    /// names who does (see [`Self::authenticated_target`]); repeating either
    /// is a no-op.
    pub async fn set_yanked(
        &self,
        repo: &str,
        authentication: impl Future<Output = Result<Principal, RegistryError>>,
        name: &str,
        version: &str,
        yanked: bool,
    ) -> Result<(), RegistryError> {
        let crate_name = lookup_crate_name(name)?;
        let (who, repository, mut state) = self
            .authenticated_target(authentication, repo, &crate_name)
            .await?;
        let who = &who;
        let repo = repository.name.as_str();
        let mut retries = Retries::new(name);
        loop {
            retries.next()?;
            let krate = self
                .authorize_change(&repository, state.krate, name, who, Permission::Yank)
                .await?;
            let Some(target) = state.versions.iter_mut().find(|v| v.line.vers == version) else {
                return Err(RegistryError::UnknownVersion {
                    name: krate.name,
                    version: version.into(),
                });
            };
            if target.line.yanked == yanked {
                // Already so; a repeat after a lost index write repairs it
                // (no write when the files are current). No commit follows,
                // so no change stream's record: the repair happens here.
                return match state.heads {
                    Some(heads) => {
                        self.write_committed_files(
                            &repository,
                            &krate,
                            &state.versions,
                            Some(heads),
                        )
                        .await
                    }
                    None => self.rebuild_crate_files(repo, &krate.canonical).await,
                };
            }
            target.line.yanked = yanked;
            let changed = target.clone();
            let write = CrateWrite {
                krate: CrateRecord {
                    revision: krate.revision + 1,
                    max_version: max_version(state.versions.iter().map(|v| &v.line)),
                    updated_at: now_rfc3339(),
                    ..krate.clone()
                },
                expected_revision: Some(krate.revision),
                repository_revision: None,
                version: Some(VersionWrite::Replace(changed)),
                audit: Some(
                    self.audit_entry(
                        AuditEntry::new(
                            &who.into(),
                            if yanked {
                                AuditAction::Yank
                            } else {
                                AuditAction::Unyank
                            },
                            format!("{} {version}", if yanked { "yanked" } else { "unyanked" }),
                        )
                        .repo(repo)
                        .krate(&krate.canonical)
                        .version(version),
                    ),
                ),
            };
            let committed = write.krate.clone();
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    tracing::info!(repo, name = %krate.name, version, yanked, user = %who.login(), "yank state changed");
                    return self
                        .write_committed_files(
                            &repository,
                            &committed,
                            &state.versions,
                            state.heads,
                        )
                        .await;
                }
                Err(StoreError::Conflict(_)) => {
                    state = self.crate_state(repo, &crate_name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The crate, if it exists and `who` may make this change to it.
    pub(crate) async fn authorize_change(
        &self,
        repository: &Repository,
        krate: Option<CrateRecord>,
        name: &str,
        who: &Principal,
        permission: Permission,
    ) -> Result<CrateRecord, RegistryError> {
        // Callers who may not read the repository learn nothing about its crates.
        self.authorize(
            Some(who),
            repository,
            Permission::Read,
            Some(CrateTarget { name, owners: None }),
        )
        .await?;
        let krate = krate.ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        let target = CrateTarget {
            name: &krate.name,
            owners: Some(&krate.owners),
        };
        self.authorize(Some(who), repository, permission, Some(target))
            .await?;
        Ok(krate)
    }
}
