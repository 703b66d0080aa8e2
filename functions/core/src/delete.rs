//! Deleting versions, for a leaked secret or a legal request: the `.crate`,
//! the index line, the page's entry, the README and the `recent.json` line
//! go; the number stays reserved ([`crate::CrateRecord::deleted`]), so no
//! other bytes can ever be published under it. Yanking is what a mistake
//! calls for: this is for what must not be downloadable at all.

use crate::access::{CrateTarget, Permission};
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::publish::{lookup_crate_name, max_version};
use crate::retry::Retries;
use crate::{
    CrateRecord, CrateWrite, DeletedVersion, ObjectKey, Principal, Registry, RegistryError,
    RepoKind, StoreError, VersionWrite,
};

/// The longest reason a deletion records.
const MAX_REASON: usize = 1000;

impl Registry {
    /// Deletes `version` of crate `name` in `repo`, or every version when
    /// `None`, and returns the versions this call deleted. `by` is a
    /// repository admin over the API; `None` an operator with the store's
    /// own credentials. Repeating a deletion removes the files again, so a
    /// run that stopped after its commit is completed by the next.
    pub async fn delete_versions(
        &self,
        repo: &str,
        by: Option<&Principal>,
        name: &str,
        version: Option<&str>,
        reason: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(RegistryError::BadRequest(format!(
                "a deletion needs a reason (`--reason \"…\"`, or `message` over the API), at most {MAX_REASON} bytes"
            )));
        }
        let crate_name = lookup_crate_name(name)?;
        let repository = self.repository(repo).await?;
        if let Some(who) = by {
            // Who may not read the repository learns nothing of it (404).
            let target = CrateTarget { name, owners: None };
            self.authorize(Some(who), &repository, Permission::Read, Some(target))
                .await?;
            self.authorize(Some(who), &repository, Permission::Admin, Some(target))
                .await?;
        }
        if repository.kind != RepoKind::Local {
            return Err(RegistryError::BadRequest(format!(
                "`{repo}` is a {:?} repository: delete from the local repository the crate was published to",
                repository.kind
            )
            .to_lowercase()));
        }
        let actor = by.map_or_else(Actor::operator, Actor::from);
        let mut state = self.crate_state(repo, &crate_name).await?;
        let Some(krate) = &state.krate else {
            return Err(RegistryError::UnknownCrate(name.into()));
        };
        let wanted: Vec<String> = match version {
            Some(v) if state.versions.iter().any(|r| r.line.vers == v) => vec![v.into()],
            Some(v) if krate.deleted.iter().any(|d| d.version == v) => Vec::new(),
            Some(v) => {
                return Err(RegistryError::UnknownVersion {
                    name: krate.name.clone(),
                    version: v.into(),
                });
            }
            None => state.versions.iter().map(|v| v.line.vers.clone()).collect(),
        };
        let mut deleted = Vec::new();
        for vers in wanted {
            let mut retries = Retries::new(name);
            loop {
                retries.next()?;
                let Some(krate) = state.krate.clone() else {
                    return Err(RegistryError::UnknownCrate(name.into()));
                };
                // Deleted meanwhile by another run.
                let Some(at) = state.versions.iter().position(|v| v.line.vers == vers) else {
                    break;
                };
                let mut remaining = state.versions.clone();
                let record = remaining.remove(at);
                let mut tombstones = krate.deleted.clone();
                tombstones.push(DeletedVersion {
                    version: vers.clone(),
                    version_key: record.version_key.clone(),
                    deleted_at: now_rfc3339(),
                    deleted_by: actor.login.clone(),
                    reason: reason.into(),
                });
                let entry = AuditEntry::new(&actor, AuditAction::Delete, reason)
                    .repo(repo)
                    .krate(&krate.canonical)
                    .version(&vers);
                let write = CrateWrite {
                    krate: CrateRecord {
                        revision: krate.revision + 1,
                        max_version: max_version(remaining.iter().map(|v| &v.line)),
                        updated_at: now_rfc3339(),
                        deleted: tombstones,
                        // Search shows the words of the last version
                        // published, as a publish sets them: a deleted
                        // version's words go with it.
                        description: remaining.last().and_then(|v| v.package.description.clone()),
                        keywords: remaining
                            .last()
                            .map(|v| v.package.keywords.clone())
                            .unwrap_or_default(),
                        ..krate.clone()
                    },
                    expected_revision: Some(krate.revision),
                    repository_revision: None,
                    version: Some(VersionWrite::Delete(record)),
                    audit: Some(self.audit_entry(entry)),
                };
                let committed = write.krate.clone();
                match self.store.commit(repo, write).await {
                    Ok(()) => {
                        tracing::info!(repo, name = %krate.name, version = %vers, user = %actor.login, "version deleted");
                        (state.krate, state.versions) = (Some(committed), remaining);
                        deleted.push(vers);
                        break;
                    }
                    Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => {
                        state = self.crate_state(repo, &crate_name).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let krate = state
            .krate
            .clone()
            .ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        self.remove_deleted_files(repo, &krate, version).await?;
        self.write_committed_files(&repository, &krate, &state.versions, state.heads)
            .await?;
        let gone: Vec<&str> = krate
            .deleted
            .iter()
            .filter(|d| version.is_none_or(|v| v == d.version))
            .map(|d| d.version.as_str())
            .collect();
        self.forget_recent_publishes(&repository, &krate.name, &gone)
            .await?;
        Ok(deleted)
    }

    /// Removes the `.crate`, page and README of each deleted version (`version`,
    /// or all of them), whether this run or an earlier one deleted it.
    async fn remove_deleted_files(
        &self,
        repo: &str,
        krate: &CrateRecord,
        version: Option<&str>,
    ) -> Result<(), RegistryError> {
        for gone in krate
            .deleted
            .iter()
            .filter(|d| version.is_none_or(|v| v == d.version))
        {
            let tarball = ObjectKey::crate_file(repo, &krate.name, &gone.version)?;
            let page = ObjectKey::version_page(repo, &krate.canonical, &gone.version)?;
            let readme = ObjectKey::readme(repo, &krate.canonical, &gone.version)?;
            let (tarball, page, readme) = tokio::join!(
                self.blobs.purge(&tarball),
                self.blobs.purge(&page),
                self.blobs.purge(&readme)
            );
            tarball?;
            page?;
            readme?;
        }
        Ok(())
    }
}
