use crate::access::{GROUP_PREFIX, Permission};
use crate::clock::now_rfc3339;
use crate::publish::lookup_name;
use crate::{CrateRecord, CrateWrite, Principal, Registry, RegistryError, StoreError};

const MAX_ATTEMPTS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    Add,
    Remove,
}

impl Registry {
    pub async fn owners(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        name: &str,
    ) -> Result<Vec<String>, RegistryError> {
        self.readable_repository(caller, repo, Some(name)).await?;
        // A virtual repository's crates are owned in its default member.
        let target = self
            .write_target(repo)
            .await
            .map_err(|_| RegistryError::UnknownCrate(name.into()))?;
        let repo = target.name.as_str();
        let canonical = lookup_name(name)?;
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
        who: &Principal,
        name: &str,
        change: OwnerChange,
        logins: &[String],
    ) -> Result<String, RegistryError> {
        let repository = self.write_target(repo).await?;
        let repo = repository.name.as_str();
        let canonical = lookup_name(name)?;
        if logins.is_empty() {
            return Err(RegistryError::BadRequest("name at least one user".into()));
        }
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
        for _ in 0..MAX_ATTEMPTS {
            let krate = self
                .crate_for_change(&repository, &canonical, name, who, Permission::ChangeOwners)
                .await?;
            let mut owners = krate.owners.clone();
            match change {
                OwnerChange::Add => {
                    owners.extend(logins.iter().filter(|l| !krate.owners.contains(l)).cloned())
                }
                OwnerChange::Remove => owners.retain(|o| !logins.contains(o)),
            }
            if owners.is_empty() {
                return Err(RegistryError::BadRequest(format!(
                    "crate `{}` must keep at least one owner; add the new owner before removing the last one",
                    krate.name
                )));
            }
            let write = CrateWrite {
                krate: CrateRecord {
                    revision: krate.revision + 1,
                    owners,
                    updated_at: now_rfc3339(),
                    ..krate.clone()
                },
                expected_revision: Some(krate.revision),
                version: None,
            };
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    tracing::info!(repo, name = %krate.name, ?change, users = ?logins, user = %who.login(), "owners changed");
                    // The crate page shows owners; the change stands even if
                    // the page lags until the next change or reindex.
                    if let Err(e) = self.rebuild_crate_files(repo, &canonical).await {
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
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::Contention(canonical))
    }
}
