//! The audit log: every change (who, with which token's id, never the
//! token, when, what) and every refused attempt at one, in the metadata
//! store, kept for [`RegistryConfig::audit_retention`](crate::RegistryConfig).
//! A change to a crate writes its entry in the same transaction as the
//! change; other changes write it right after theirs.

use crate::access::Principal;
use crate::tokens::parse_lifetime;
use crate::{CrateName, Registry, RegistryError};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Who made a change: a user (through a token, or the command line acting
/// for them), or the operator of the data directory or stack (commands that
/// need no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub login: String,
    /// The token's public id ([`crate::TokenRecord::id`]).
    pub token_id: Option<String>,
}

/// The actor recorded for commands run with the store's own credentials:
/// not a valid login, so no user can be mistaken for it.
pub const OPERATOR: &str = "(operator)";

impl Actor {
    pub fn operator() -> Self {
        Self {
            login: OPERATOR.into(),
            token_id: None,
        }
    }
}

impl From<&Principal> for Actor {
    fn from(principal: &Principal) -> Self {
        let id = principal.token.id();
        Self {
            login: principal.login().into(),
            token_id: (!id.is_empty()).then(|| id.into()),
        }
    }
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    Publish,
    Yank,
    Unyank,
    OwnersAdd,
    OwnersRemove,
    TokenCreate,
    TokenRevoke,
    UserChange,
    RepositoryCreate,
    RepositoryChange,
    Delete,
    Archive,
    Restore,
    Reindex,
    /// A request refused by the access rule; `detail` says what it needed
    /// and why it was refused.
    Denied,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unique, and ordered as the entries were written: the time, then a
    /// random part ([`AuditEntry::new`]).
    pub id: String,
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    pub action: AuditAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The crate's canonical name.
    #[serde(rename = "crate", default, skip_serializing_if = "Option::is_none")]
    pub krate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// What changed, in words.
    pub detail: String,
    /// Unix seconds after which the entry may be removed (DynamoDB's TTL).
    pub expires_at: i64,
}

impl AuditEntry {
    pub fn new(actor: &Actor, action: AuditAction, detail: impl Into<String>) -> Self {
        let now = OffsetDateTime::now_utc();
        let at = timestamp(now);
        let mut random = [0u8; 4];
        // Only breaks ties between entries of the same millisecond.
        let _ = getrandom::fill(&mut random);
        Self {
            id: format!("{at}-{}", hex::encode(random)),
            at,
            actor: actor.login.clone(),
            token_id: actor.token_id.clone(),
            action,
            repo: None,
            krate: None,
            version: None,
            detail: detail.into(),
            expires_at: 0,
        }
    }

    pub fn repo(mut self, repo: &str) -> Self {
        self.repo = Some(repo.into());
        self
    }

    pub fn krate(mut self, canonical: &str) -> Self {
        self.krate = Some(canonical.into());
        self
    }

    pub fn version(mut self, version: &str) -> Self {
        self.version = Some(version.into());
        self
    }

    /// The day partition an entry belongs to (`YYYY-MM-DD`), from its id.
    pub fn day_of(id: &str) -> &str {
        id.get(..10).unwrap_or(id)
    }
}

/// A page of the log, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub repo: Option<String>,
    /// Canonical name.
    pub krate: Option<String>,
    /// Entries written at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Entries older than this id (the previous page's `next`).
    pub before: Option<String>,
    pub limit: usize,
}

/// A query as a person writes it (`crateyard audit`, `GET /api/v1/audit`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuditRequest {
    pub repo: Option<String>,
    #[serde(rename = "crate")]
    pub krate: Option<String>,
    /// How far back: `90s`, `12h`, `7d`.
    pub since: Option<String>,
    /// The previous page's `next`.
    pub before: Option<String>,
    pub limit: Option<usize>,
}

/// Entries a page holds unless asked otherwise.
pub const AUDIT_PAGE_DEFAULT: usize = 100;

impl AuditRequest {
    pub fn parse(self) -> Result<AuditQuery, RegistryError> {
        let krate = self
            .krate
            .map(|name| {
                CrateName::new(&name)
                    .map(|n| n.canonical())
                    .map_err(|_| RegistryError::BadRequest(format!("`{name}` is not a crate name")))
            })
            .transpose()?;
        let since = self
            .since
            .map(|text| parse_lifetime(&text).map(|back| OffsetDateTime::now_utc() - back))
            .transpose()
            .map_err(RegistryError::BadRequest)?;
        if let Some(before) = &self.before
            && (before.len() > 64 || !before.is_ascii())
        {
            return Err(RegistryError::BadRequest(
                "`before` takes the `next` of the previous page".into(),
            ));
        }
        Ok(AuditQuery {
            repo: self.repo,
            krate,
            since,
            before: self.before,
            limit: self.limit.unwrap_or(AUDIT_PAGE_DEFAULT),
        })
    }
}

impl AuditQuery {
    /// The smallest id [`Self::since`] admits.
    pub fn since_id(&self) -> Option<String> {
        self.since.map(timestamp)
    }

    pub fn matches(&self, entry: &AuditEntry) -> bool {
        self.repo
            .as_ref()
            .is_none_or(|r| entry.repo.as_ref() == Some(r))
            && self
                .krate
                .as_ref()
                .is_none_or(|k| entry.krate.as_ref() == Some(k))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; `None` when there is none.
    pub next: Option<String>,
}

/// At most this many entries a page.
pub const AUDIT_PAGE_MAX: usize = 500;

/// How long entries are kept unless configured otherwise.
pub const DEFAULT_AUDIT_RETENTION: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// How long entries are kept on this deployment: `CRATEYARD_AUDIT_RETENTION`
/// (a lifetime: `90d`), or [`DEFAULT_AUDIT_RETENTION`].
pub fn audit_retention_from_env() -> Result<Duration, String> {
    match std::env::var("CRATEYARD_AUDIT_RETENTION") {
        Ok(text) if !text.is_empty() => {
            parse_lifetime(&text).map_err(|e| format!("CRATEYARD_AUDIT_RETENTION: {e}"))
        }
        _ => Ok(DEFAULT_AUDIT_RETENTION),
    }
}

/// Milliseconds, fixed width, so that ids sort as times.
fn timestamp(at: OffsetDateTime) -> String {
    let ms = at.millisecond();
    let at = at.replace_nanosecond(0).unwrap_or(at);
    let secs = at.format(&Rfc3339).unwrap_or_default();
    // "…:SSZ" → "…:SS.mmmZ"
    format!("{}.{ms:03}Z", secs.trim_end_matches('Z'))
}

impl Registry {
    /// Completes an entry (its expiry) for writing.
    pub(crate) fn audit_entry(&self, entry: AuditEntry) -> AuditEntry {
        let expires = OffsetDateTime::now_utc() + self.config.audit_retention;
        AuditEntry {
            expires_at: expires.unix_timestamp(),
            ..entry
        }
    }

    /// Records an entry for a change already made (one that is not a
    /// crate's: those ride in their commit), or for a refusal. A failure is
    /// logged, loudly, and the change (or refusal) stands: failing the
    /// request now would tell the caller a change did not happen, and a
    /// retry would then fail on what it did.
    pub(crate) async fn audit(&self, entry: AuditEntry) {
        let entry = self.audit_entry(entry);
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(action = ?entry.action, detail = %entry.detail, error = %e, "audit entry not written");
        }
    }

    /// A page of the log, newest first.
    pub async fn audit_log(&self, mut query: AuditQuery) -> Result<AuditPage, RegistryError> {
        query.limit = query.limit.clamp(1, AUDIT_PAGE_MAX);
        // Nothing older is kept: the store need not look further back.
        let oldest = OffsetDateTime::now_utc() - self.config.audit_retention;
        query.since = Some(query.since.map_or(oldest, |since| since.max(oldest)));
        Ok(self.store.list_audit(&query).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_times_and_name_their_day() {
        let a = timestamp(OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap());
        let b = timestamp(
            OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap() + Duration::from_millis(7),
        );
        assert_eq!(a, "2023-11-14T22:13:20.000Z");
        assert_eq!(b, "2023-11-14T22:13:20.007Z");
        assert!(a < b);
        assert_eq!(AuditEntry::day_of(&b), "2023-11-14");
    }

    #[test]
    fn an_operator_and_a_token_id_are_recorded_apart() {
        let entry = AuditEntry::new(&Actor::operator(), AuditAction::UserChange, "x");
        assert_eq!(entry.actor, OPERATOR);
        assert_eq!(entry.token_id, None);
        assert!(entry.id.starts_with(&entry.at));
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["action"], "user-change");
        assert!(json.get("crate").is_none());
    }
}
