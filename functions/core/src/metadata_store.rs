use crate::access::{Grant, Permission, Subject};
use crate::audit::{AuditEntry, AuditPage, AuditQuery};
use crate::clock::now_rfc3339;
use crate::downloads::DownloadCount;
use crate::remote::Upstream;
use crate::retention::RetentionPolicy;
use crate::{ReindexBatch, ReindexJob};
use async_trait::async_trait;
use crateyard_index::IndexLine;
use crateyard_tarball::PackageInfo;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    /// Crates published here.
    Local,
    /// A read-through cache of another registry.
    Remote,
    /// One index over other repositories, in order.
    Virtual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub kind: RepoKind,
    /// Artifactory's "allow anonymous download and search". Off makes the
    /// repository private: every read needs a token with `read`.
    pub anonymous_read: bool,
    /// Who may do what here, beyond global admins (see [`crate::access`]).
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Remote repositories: what they cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
    /// Virtual repositories: their members, first match wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Virtual repositories: the local member publishes go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_member: Option<String>,
    pub created_at: String,
    /// Grows by one with every update: an update commits only over the
    /// revision it read ([`MetadataStore::update_repository`]), so two
    /// changes made at once (a visibility change, a retention policy)
    /// never undo each other.
    #[serde(default)]
    pub revision: u64,
    /// Local repositories: which older versions move to archive storage
    /// (`crateyard retention`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionPolicy>,
}

impl Repository {
    /// A public local repository in which any signed-in user may read,
    /// publish new crates and manage the crates they own: what a team
    /// expects from `crateyard serve` before configuring anything.
    pub fn new_local(name: &str) -> Self {
        let owner_permissions = vec![
            Permission::Read,
            Permission::PublishNew,
            Permission::PublishUpdate,
            Permission::Yank,
            Permission::ChangeOwners,
        ];
        Self {
            name: name.into(),
            kind: RepoKind::Local,
            anonymous_read: true,
            grants: vec![Grant {
                to: Subject::Authenticated,
                permissions: owner_permissions,
            }],
            upstream: None,
            members: Vec::new(),
            default_member: None,
            created_at: now_rfc3339(),
            revision: 0,
            retention: None,
        }
    }
}

/// A crate's current state; `revision` grows by one with every committed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateRecord {
    /// As first published; the index file path derives from it.
    pub name: String,
    pub canonical: String,
    pub revision: u64,
    pub max_version: String,
    pub description: Option<String>,
    /// Of the newest version, for search.
    #[serde(default)]
    pub keywords: Vec<String>,
    pub owners: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Versions deleted (`crateyard delete`): their numbers stay reserved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<DeletedVersion>,
}

/// A version removed for a leaked secret or a legal request. Its number is
/// never published again, whatever the bytes, as on crates.io.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedVersion {
    pub version: String,
    /// [`VersionRecord::version_key`].
    pub version_key: String,
    pub deleted_at: String,
    pub deleted_by: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The index line, the truth for `yanked` too.
    pub line: IndexLine,
    /// The version without build metadata: unique within a crate.
    pub version_key: String,
    /// The crate revision that first committed this version: index order.
    pub seq: u64,
    pub package: PackageInfo,
    pub size: u64,
    pub published_by: String,
    /// Whether its README was rendered for the web UI.
    #[serde(default)]
    pub has_readme: bool,
    /// When its `.crate` moved to archive storage (still downloadable;
    /// `crateyard restore` brings it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<String>,
}

/// A crate and all its versions, as one bulk read returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateVersions {
    pub krate: CrateRecord,
    /// Ordered by `seq`.
    pub versions: Vec<VersionRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub login: String,
    /// Global admins may do anything in every repository.
    #[serde(default)]
    pub admin: bool,
    /// Groups the user belongs to: grants and crate owners can name them.
    #[serde(default)]
    pub groups: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Lowercase hex SHA-256 of the token; the token itself is never stored.
    pub hash: String,
    pub user: String,
    pub name: String,
    pub created_at: String,
    /// What the token may do; `None`: whatever its user may.
    #[serde(default)]
    pub scopes: Option<Vec<Permission>>,
    /// Crate-name globs it is limited to; empty: any crate.
    #[serde(default)]
    pub crates: Vec<String>,
    /// Repositories it is limited to; empty: any repository.
    #[serde(default)]
    pub repos: Vec<String>,
    /// Unix seconds after which the token is refused (and DynamoDB's TTL
    /// may delete it).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Unix seconds of the last accepted use, updated at most once a minute.
    #[serde(default)]
    pub last_used_at: Option<i64>,
}

impl TokenRecord {
    /// A token without limits of its own.
    pub fn unrestricted(hash: &str, user: &str) -> Self {
        Self {
            hash: hash.into(),
            user: user.into(),
            name: String::new(),
            created_at: now_rfc3339(),
            scopes: None,
            crates: Vec::new(),
            repos: Vec::new(),
            expires_at: None,
            last_used_at: None,
        }
    }

    /// The public handle of a token, for listing and revoking: a prefix of
    /// its hash, which reveals nothing about the token itself.
    pub fn id(&self) -> &str {
        &self.hash[..self.hash.len().min(TOKEN_ID_LEN)]
    }
}

const TOKEN_ID_LEN: usize = 16;

/// One atomic change to a crate: the crate item moves from `expected_revision`
/// (`None`: it must not exist yet) to `krate`, together with a version change.
#[derive(Debug, Clone)]
pub struct CrateWrite {
    pub krate: CrateRecord,
    pub expected_revision: Option<u64>,
    /// The repository's revision the change was decided on (who may write,
    /// whether what it stored before the commit is private): the commit
    /// fails with [`StoreError::Conflict`] if the repository changed since.
    /// `None` for changes that stored nothing first.
    pub repository_revision: Option<u64>,
    pub version: Option<VersionWrite>,
    /// The change's audit entry, written in the same transaction.
    pub audit: Option<AuditEntry>,
}

#[derive(Debug, Clone)]
pub enum VersionWrite {
    /// Fails with [`StoreError::AlreadyExists`] if the version key is taken.
    Insert(VersionRecord),
    /// Fails with [`StoreError::NotFound`] if the version does not exist.
    Replace(VersionRecord),
    /// Removes the version; fails with [`StoreError::NotFound`] if it does
    /// not exist.
    Delete(VersionRecord),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The crate changed since it was read (or exists when it should not).
    #[error("`{0}` changed concurrently")]
    Conflict(String),
    #[error("`{0}` already exists")]
    AlreadyExists(String),
    #[error("`{0}` does not exist")]
    NotFound(String),
    #[error("metadata store: {0}")]
    Backend(String),
}

/// The truth about repositories, crates, versions, users and tokens, with
/// DynamoDB's semantics: strongly consistent reads and conditional
/// multi-item transactions. Crates are addressed by canonical name.
#[async_trait]
pub trait MetadataStore: Send + Sync + 'static {
    /// Fails with [`StoreError::AlreadyExists`] if the name is taken.
    async fn create_repository(&self, repo: &Repository) -> Result<(), StoreError>;
    async fn get_repository(&self, name: &str) -> Result<Option<Repository>, StoreError>;
    async fn list_repositories(&self) -> Result<Vec<Repository>, StoreError>;

    async fn get_crate(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Option<CrateRecord>, StoreError>;
    /// All crates of a repository, ordered by canonical name.
    async fn list_crates(&self, repo: &str) -> Result<Vec<CrateRecord>, StoreError>;
    /// All versions of a crate, ordered by `seq`.
    async fn list_versions(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<VersionRecord>, StoreError>;
    /// Every crate of a repository with all its versions, ordered by
    /// canonical name: what reindex reads, in as few requests as the store
    /// allows. Each crate's versions are read no earlier than its record,
    /// so they hold at least every version of its `revision` (a newer
    /// version may show: derived files written from it are then at least as
    /// new as their revision says, and the writer of that newer revision
    /// rewrites them anyway).
    async fn list_crates_with_versions(&self, repo: &str)
    -> Result<Vec<CrateVersions>, StoreError>;
    /// Applies the write atomically or not at all.
    async fn commit(&self, repo: &str, write: CrateWrite) -> Result<(), StoreError>;
    /// Whether the store indexes text for [`Self::search`]. DynamoDB does
    /// not (matching a substring there reads every crate item), and the
    /// registry keeps search shards of its own instead (`search_index.rs`).
    fn indexes_text(&self) -> bool {
        false
    }
    /// Crates whose name, description or keywords contain `query` (case-insensitive),
    /// at most `limit`, by name; and how many match in all. Only for a
    /// store that [indexes text](Self::indexes_text).
    async fn search(
        &self,
        repo: &str,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<CrateRecord>, u64), StoreError> {
        let _ = (repo, query, limit);
        Err(StoreError::Backend("this store has no text index".into()))
    }

    /// Fails with [`StoreError::AlreadyExists`] if the login is taken.
    /// Replaces a repository's settings, only over the revision before
    /// `repo.revision`: [`StoreError::Conflict`] if another update came
    /// first, [`StoreError::NotFound`] if it does not exist.
    async fn update_repository(&self, repo: &Repository) -> Result<(), StoreError>;

    /// Fails with [`StoreError::AlreadyExists`] if the login is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;
    /// Fails with [`StoreError::NotFound`] if the user does not exist.
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;
    async fn get_user(&self, login: &str) -> Result<Option<User>, StoreError>;
    /// All users, by login.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    async fn get_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Fails with [`StoreError::NotFound`] if the token was revoked meanwhile,
    /// so an update never brings a revoked token back.
    async fn update_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Fails with [`StoreError::NotFound`] if there is no such token.
    async fn delete_token(&self, hash: &str) -> Result<(), StoreError>;
    /// Every token record (never the tokens themselves), by hash.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Creates or replaces a reindex job's record. Kept for
    /// [`REINDEX_JOB_LIFETIME`] (DynamoDB's TTL; SQLite keeps them).
    async fn put_reindex_job(&self, job: &ReindexJob) -> Result<(), StoreError>;
    /// Records a finished batch of a job; a batch run twice replaces its
    /// first record.
    async fn put_reindex_batch(
        &self,
        repo: &str,
        job: &str,
        batch: &ReindexBatch,
    ) -> Result<(), StoreError>;
    /// A job and its finished batches, by number.
    async fn get_reindex_job(
        &self,
        repo: &str,
        id: &str,
    ) -> Result<Option<(ReindexJob, Vec<ReindexBatch>)>, StoreError>;
    /// The id of the repository's latest job.
    async fn latest_reindex_job(&self, repo: &str) -> Result<Option<String>, StoreError>;

    /// Adds an entry to the audit log (its id is unique).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Entries matching the query, newest first, at most `query.limit`
    /// (which the caller keeps small); `next` is set when more may match.
    /// Expired entries may still show until the store removes them.
    /// Without `query.since` (the registry always sets it), a store may
    /// return a short page with a `next` to bound its work.
    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;

    /// Adds download counts (atomic adds, so concurrent writers all count).
    /// With a `batch` id (a log file's name), the counts are added once:
    /// a batch seen before adds nothing, and `false` says so.
    async fn add_downloads(
        &self,
        batch: Option<&str>,
        counts: &[DownloadCount],
    ) -> Result<bool, StoreError>;
    /// Every count of a crate, any order.
    async fn downloads(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<DownloadCount>, StoreError>;
}

/// How long a reindex job's records stay readable.
pub const REINDEX_JOB_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 60 * 60);
