//! Users and their groups.

use crate::access::is_valid_principal_name;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::{Registry, RegistryError, StoreError, User};

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub admin: Option<bool>,
    pub groups: Option<Vec<String>>,
}

fn check_names(login: &str, groups: &[String]) -> Result<(), RegistryError> {
    for name in std::iter::once(login).chain(groups.iter().map(String::as_str)) {
        if !is_valid_principal_name(name) {
            return Err(RegistryError::BadRequest(format!(
                "`{name}` is not a valid user or group name: use letters, digits, `-`, `_`, `.` and `@`"
            )));
        }
    }
    Ok(())
}

impl Registry {
    /// Creates a user, or changes an existing one.
    pub async fn put_user(
        &self,
        login: &str,
        change: UserChange,
        by: &Actor,
    ) -> Result<User, RegistryError> {
        check_names(login, change.groups.as_deref().unwrap_or_default())?;
        let mut user = match self.store.get_user(login).await? {
            Some(user) => user,
            None => {
                let user = User {
                    login: login.into(),
                    admin: false,
                    groups: Vec::new(),
                    created_at: now_rfc3339(),
                };
                match self.store.create_user(&user).await {
                    Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                user
            }
        };
        if let Some(admin) = change.admin {
            user.admin = admin;
        }
        if let Some(mut groups) = change.groups {
            groups.sort();
            groups.dedup();
            user.groups = groups;
        }
        self.store.update_user(&user).await?;
        let detail = format!(
            "user `{}`: admin {}; groups: {}",
            user.login,
            user.admin,
            user.groups.join(", ")
        );
        self.audit(AuditEntry::new(by, AuditAction::UserChange, detail))
            .await;
        tracing::info!(target: "crateyard::access", user = %user.login, admin = user.admin, groups = ?user.groups, "user saved");
        Ok(user)
    }

    pub async fn users(&self) -> Result<Vec<User>, RegistryError> {
        Ok(self.store.list_users().await?)
    }

    /// Whether any user belongs to `group`: groups exist through members.
    pub(crate) async fn group_exists(&self, group: &str) -> Result<bool, RegistryError> {
        Ok(self
            .store
            .list_users()
            .await?
            .iter()
            .any(|u| u.groups.iter().any(|g| g == group)))
    }
}
