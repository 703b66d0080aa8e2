use crate::access::{GROUP_PREFIX, Permission};
use crate::audit::{AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::publish::{lookup_crate_name, lookup_name};
use crate::retry::Retries;
use crate::{
    CrateName, CrateRecord, CrateWrite, Principal, Registry, RegistryError, RepoKind, Repository,
    StoreError,
};

/// How many logins one owner change may name (each is looked up).
const MAX_LOGINS_PER_CHANGE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    Add,
    Remove,
}

impl Registry {
    /// The local repository that holds crate `name` as read through `repo`,
    /// for a caller who may read it: `repo` itself, or in a virtual
    /// repository the member that serves it, if the caller may read that
    /// one. A remote repository's crates are held upstream.
    pub(crate) async fn owning_repository(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        name: &str,
    ) -> Result<Repository, RegistryError> {
        let repository = self.readable_repository(caller, repo, Some(name)).await?;
        let unknown = || RegistryError::UnknownCrate(name.into());
        match repository.kind {
            RepoKind::Local => Ok(repository),
            RepoKind::Virtual => {
                let crate_name = CrateName::new(name).map_err(|_| unknown())?;
                self.serving_member(caller, &repository, &crate_name)
                    .await?
                    .map(|(member, _)| member)
                    .filter(|member| member.kind == RepoKind::Local)
                    .ok_or_else(unknown)
            }
            RepoKind::Remote => Err(unknown()),
        }
    }

    pub async fn owners(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        name: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let owning = self.owning_repository(caller, repo, name).await?;
        let canonical = lookup_name(name)?;
        let repo = owning.name.as_str();
        let krate = self
            .store
            .get_crate(repo, &canonical)
            .await?
            .ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        Ok(krate.owners)
    }

    /// Adds or removes owners (users, or groups as `group:NAME`); only an
    /// owner or an admin may. Returns a message for cargo.
    pub async fn change_owners(
        &self,
        repo: &str,
        authentication: impl Future<Output = Result<Principal, RegistryError>>,
        name: &str,
        change: OwnerChange,
        logins: &[String],
    ) -> Result<String, RegistryError> {
        let crate_name = lookup_crate_name(name)?;
        if logins.is_empty() {
            return Err(RegistryError::BadRequest(
                "the request names no one: list at least one login or `group:NAME` in `users`"
                    .into(),
            ));
        }
        if logins.len() > MAX_LOGINS_PER_CHANGE {
            return Err(RegistryError::BadRequest(format!(
                "the request names {} owners; change at most {MAX_LOGINS_PER_CHANGE} at once",
                logins.len()
            )));
        }
        // New owners must exist: looked up beside the authentication, but
        // a failed authentication ends the lookups (`try_join!`) and is
        // answered first, and their outcome is reported only to a caller
        // who may change the crate's owners.
        let known = async {
            if change == OwnerChange::Add {
                for login in logins {
                    let exists = match login.strip_prefix(GROUP_PREFIX) {
                        Some(group) => self.group_exists(group).await?,
                        None => self.store.get_user(login).await?.is_some(),
                    };
                    if !exists {
                        return Err(RegistryError::UnknownUser(login.clone()));
                    }
                }
            }
            Ok(())
        };
        let ((who, repository, mut state), known) = tokio::try_join!(
            self.authenticated_target(authentication, repo, &crate_name),
            async { Ok(known.await) },
        )?;
        let who = &who;
        let mut known = Some(known);
        let repo = repository.name.as_str();
        let mut retries = Retries::new(name);
        loop {
            retries.next()?;
            let krate = self
                .authorize_change(
                    &repository,
                    state.krate.take(),
                    name,
                    who,
                    Permission::ChangeOwners,
                )
                .await?;
            if let Some(known) = known.take() {
                known?;
            }
            let mut owners = krate.owners.clone();
            match change {
                OwnerChange::Add => {
                    owners.extend(logins.iter().filter(|l| !krate.owners.contains(l)).cloned())
                }
                OwnerChange::Remove => {
                    if let Some(stranger) = logins.iter().find(|l| !krate.owners.contains(l)) {
                        return Err(RegistryError::BadRequest(format!(
                            "`{stranger}` does not own crate `{}`; its owners are: {}",
                            krate.name,
                            krate.owners.join(", ")
                        )));
                    }
                    owners.retain(|o| !logins.contains(o))
                }
            }
            if owners.is_empty() {
                return Err(RegistryError::BadRequest(format!(
                    "crate `{}` must keep at least one owner; add the new owner before removing the last one",
                    krate.name
                )));
            }
            let detail = format!(
                "owners: {} → {}",
                krate.owners.join(", "),
                owners.join(", ")
            );
            let write = CrateWrite {
                krate: CrateRecord {
                    revision: krate.revision + 1,
                    owners,
                    updated_at: now_rfc3339(),
                    ..krate.clone()
                },
                expected_revision: Some(krate.revision),
                repository_revision: None,
                version: None,
                audit: Some(
                    self.audit_entry(
                        AuditEntry::new(
                            &who.into(),
                            match change {
                                OwnerChange::Add => AuditAction::OwnersAdd,
                                OwnerChange::Remove => AuditAction::OwnersRemove,
                            },
                            detail,
                        )
                        .repo(repo)
                        .krate(&krate.canonical),
                    ),
                ),
            };
            let committed = write.krate.clone();
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    tracing::info!(repo, name = %krate.name, ?change, users = ?logins, user = %who.login(), "owners changed");
                    // The crate page shows owners; the change stands even if
                    // the page lags until the next change or reindex.
                    let written = self
                        .write_committed_files(
                            &repository,
                            &committed,
                            &state.versions,
                            state.heads,
                        )
                        .await;
                    if let Err(e) = written {
                        tracing::warn!(repo, name = %krate.name, error = %e, "crate page not updated after an owner change");
                    }
                    let users = logins.join(", ");
                    return Ok(match change {
                        OwnerChange::Add => format!(
                            "{users} now own{} crate {}",
                            if logins.len() == 1 { "s" } else { "" },
                            krate.name
                        ),
                        OwnerChange::Remove => format!(
                            "{users} no longer own{} crate {}",
                            if logins.len() == 1 { "s" } else { "" },
                            krate.name
                        ),
                    });
                }
                Err(StoreError::Conflict(_)) => {
                    state = self.crate_state(repo, &crate_name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}
