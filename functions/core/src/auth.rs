//! Authentication (which token, which user) and the registry's use of the
//! access rule in [`crate::access`], with one log event per decision.

use crate::access::{
    CrateTarget, Denial, Permission, Principal, TokenAction, decide, decide_global_admin,
    decide_token_action,
};
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::clock::now_unix;
use crate::tokens::{hash_token, login_hint};
use crate::{Registry, RegistryError, Repository, StoreError, canonical_name};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// How stale a token's `last_used_at` may get before a use rewrites it:
/// often enough to be useful, rarely enough not to write on every request.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// The token in an `Authorization` header: cargo sends it raw, Artifactory's
/// users send `Bearer <token>`; both are accepted.
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// Which user each recently seen token hash belongs to: a hint for reading
/// the user beside the token (see [`Registry::principal_for_token`]), never
/// a decision. Bounded; forgetting costs one round trip.
#[derive(Debug, Default)]
pub(crate) struct TokenUsers(Mutex<HashMap<String, String>>);

impl TokenUsers {
    const CAPACITY: usize = 4096;

    fn user_of(&self, hash: &str) -> Option<String> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    fn remember(&self, hash: &str, login: &str) {
        if let Ok(mut users) = self.0.lock() {
            if users.len() >= Self::CAPACITY {
                users.clear();
            }
            users.insert(hash.to_string(), login.to_string());
        }
    }
}

impl Registry {
    /// Resolves an `Authorization` header to a principal; no header is
    /// anonymous. A malformed, unknown, revoked or expired token is an error,
    /// never anonymous, so a mistake is reported rather than hidden.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
    ) -> Result<Option<Principal>, RegistryError> {
        let Some(header) = header else {
            return Ok(None);
        };
        let token = token_from_header(header).ok_or(RegistryError::InvalidToken)?;
        self.principal_hinted(&hash_token(token), login_hint(token))
            .await
            .map(Some)
    }

    /// The principal behind a token, by the token's hash: for requests, and
    /// for work finished later on a request's behalf (large uploads).
    pub async fn principal_for_token(&self, hash: &str) -> Result<Principal, RegistryError> {
        self.principal_hinted(hash, None).await
    }

    async fn principal_hinted(
        &self,
        hash: &str,
        login: Option<&str>,
    ) -> Result<Principal, RegistryError> {
        // A token always belongs to the same user: one that names its user,
        // or was seen before, lets the user be read beside the token instead
        // of after it. The decision still rests on both fresh reads.
        let hinted = login
            .map(str::to_string)
            .or_else(|| self.token_users.user_of(hash));
        let prefetch = async {
            match &hinted {
                Some(login) => Some(self.store.get_user(login).await),
                None => None,
            }
        };
        let (record, prefetched) = tokio::join!(self.store.get_token(hash), prefetch);
        let Some(mut record) = record? else {
            tracing::info!(target: "crateyard::access", outcome = "denied", reason = "unknown token", "authentication");
            return Err(RegistryError::InvalidToken);
        };
        // The lookup is by hash already; compare again without an early exit
        // so a store that matched loosely cannot let a wrong token through.
        if !bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(RegistryError::InvalidToken);
        }
        let now = now_unix();
        if record.expires_at.is_some_and(|at| at <= now) {
            tracing::info!(target: "crateyard::access", token = record.id(), user = %record.user, outcome = "denied", reason = "expired token", "authentication");
            return Err(RegistryError::InvalidToken);
        }
        let stale = record
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_RESOLUTION_SECS);
        if stale {
            record.last_used_at = Some(now);
        }
        // The use is bookkeeping, recorded off the request's path: the
        // request does not wait for it (on Lambda it may finish during the
        // next invocation, or be lost with the instance: a minute's
        // precision is all it promises).
        if stale {
            let (store, record) = (self.store.clone(), record.clone());
            tokio::spawn(async move {
                match store.update_token(&record).await {
                    Ok(()) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => {
                        tracing::warn!(token = record.id(), error = %e, "could not record token use")
                    }
                }
            });
        }
        let user = match prefetched {
            Some(user) if hinted.as_deref() == Some(record.user.as_str()) => user,
            _ => self.store.get_user(&record.user).await,
        };
        let Some(user) = user? else {
            return Err(RegistryError::InvalidToken);
        };
        self.token_users.remember(hash, &user.login);
        Ok(Principal {
            user,
            token: record,
        })
    }

    /// The principal for work done on a user's behalf without a request
    /// token (admin tools, event handlers): the user's own rights, no token
    /// limits.
    pub async fn acting_as(&self, login: &str) -> Result<Principal, RegistryError> {
        let user = self
            .store
            .get_user(login)
            .await?
            .ok_or_else(|| RegistryError::UnknownUser(login.into()))?;
        Ok(Principal {
            token: crate::TokenRecord::unrestricted("", login),
            user,
        })
    }

    /// Like [`Registry::authenticate`], for operations that need a user.
    pub async fn require_principal(
        &self,
        header: Option<&str>,
    ) -> Result<Principal, RegistryError> {
        self.authenticate(header)
            .await?
            .ok_or(RegistryError::MissingToken)
    }

    /// Applies the access rule and logs the decision; a refused change by a
    /// signed-in caller is also recorded in the audit log. Refused reads and
    /// requests without a token are not: they change nothing, and anyone
    /// could fill the store with them. A caller who may not read gets
    /// "not found", as if the crate or repository did not exist.
    pub async fn authorize(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        permission: Permission,
        krate: Option<CrateTarget<'_>>,
    ) -> Result<(), RegistryError> {
        let decision = decide(caller, repo, permission, krate);
        let name = krate.map(|k| k.name);
        log_access(caller, repo, permission, name, &decision);
        if let (Some(caller), Err(denial)) = (caller, &decision)
            && permission != Permission::Read
        {
            let mut entry = denial_entry(caller, permission.as_str(), denial);
            entry = entry.repo(&repo.name);
            if let Some(name) = name {
                entry = entry.krate(&canonical_name(name));
            }
            self.audit(entry).await;
        }
        decision.map_err(|denial| match denial {
            Denial::NoToken => RegistryError::MissingToken,
            _ if permission == Permission::Read => match name {
                Some(name) => RegistryError::UnknownCrate(name.into()),
                None => RegistryError::UnknownRepository(repo.name.clone()),
            },
            denial => RegistryError::Forbidden(denial.to_string()),
        })
    }

    /// Checks the rule for registry-wide administration, and logs it; a
    /// refused `change` (not a read: a listing) goes to the audit log too.
    pub async fn authorize_global_admin(
        &self,
        caller: Option<&Principal>,
        change: bool,
    ) -> Result<(), RegistryError> {
        let decision = decide_global_admin(caller);
        let user = caller.map(Principal::login);
        let token = caller.map(|c| c.token.id());
        match &decision {
            Ok(()) => {
                tracing::info!(target: "crateyard::access", user, token, permission = "registry-admin", outcome = "allowed", "access")
            }
            Err(denial) => {
                tracing::info!(target: "crateyard::access", user, token, permission = "registry-admin", outcome = "denied", reason = %denial, "access");
                if let Some(caller) = caller
                    && change
                {
                    self.audit(denial_entry(caller, "registry-admin", denial))
                        .await;
                }
            }
        }
        decision.map_err(|denial| match denial {
            Denial::NoToken => RegistryError::MissingToken,
            denial => RegistryError::Forbidden(denial.to_string()),
        })
    }

    /// Checks the rule for tokens ([`crate::access::decide_token_action`]),
    /// and logs it (a refusal in the audit log too).
    pub async fn authorize_token_action(
        &self,
        caller: &Principal,
        action: TokenAction<'_>,
    ) -> Result<(), RegistryError> {
        let decision = decide_token_action(caller, action);
        let (user, token) = (caller.login(), caller.token.id());
        match &decision {
            Ok(()) => {
                tracing::info!(target: "crateyard::access", user, token, permission = "tokens", outcome = "allowed", "access")
            }
            Err(denial) => {
                tracing::info!(target: "crateyard::access", user, token, permission = "tokens", outcome = "denied", reason = %denial, "access");
                // A listing is a read: refused, it changed nothing.
                if !matches!(action, TokenAction::List { .. }) {
                    self.audit(denial_entry(caller, "tokens", denial)).await;
                }
            }
        }
        decision.map_err(|denial| RegistryError::Forbidden(denial.to_string()))
    }

    /// The repository, if the caller may read it; otherwise as if it did not
    /// exist (or "token needed" for an anonymous caller).
    pub async fn readable_repository(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        krate: Option<&str>,
    ) -> Result<Repository, RegistryError> {
        let repository = self.repository(repo).await?;
        let target = krate.map(|name| CrateTarget { name, owners: None });
        self.authorize(caller, &repository, Permission::Read, target)
            .await?;
        Ok(repository)
    }
}

/// The audit entry of a refusal: who, what they needed, and why they were
/// refused.
fn denial_entry(caller: &Principal, needed: &str, denial: &Denial) -> AuditEntry {
    AuditEntry::new(
        &Actor::from(caller),
        AuditAction::Denied,
        format!("needed `{needed}`: {denial}"),
    )
}

/// Logs an access decision as a `crateyard::access` event (never the token,
/// only its id).
pub(crate) fn log_access(
    caller: Option<&Principal>,
    repo: &Repository,
    permission: Permission,
    krate: Option<&str>,
    decision: &Result<(), Denial>,
) {
    let user = caller.map(Principal::login);
    let token = caller.map(|c| c.token.id());
    match decision {
        Ok(()) => {
            tracing::info!(target: "crateyard::access", user, token, repo = %repo.name, %permission, krate, outcome = "allowed", "access")
        }
        Err(denial) => {
            tracing::info!(target: "crateyard::access", user, token, repo = %repo.name, %permission, krate, outcome = "denied", reason = %denial, "access")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_header_accepts_raw_and_bearer() {
        assert_eq!(token_from_header("cyd_abc"), Some("cyd_abc"));
        assert_eq!(token_from_header("Bearer cyd_abc"), Some("cyd_abc"));
        assert_eq!(token_from_header("bearer  cyd_abc "), Some("cyd_abc"));
        assert_eq!(token_from_header("Bearer "), None);
        assert_eq!(token_from_header(""), None);
    }
}
