//! The registry's domain and services, independent of any storage or HTTP
//! framework. Storage comes in through two ports: [`BlobStore`] (S3 or a
//! directory) and [`MetadataStore`] (DynamoDB or SQLite).

mod access;
mod access_log;
mod audit;
mod auth;
mod blob_store;
mod change_stream;
mod clock;
mod crate_files;
mod crate_state;
mod delete;
mod downloads;
mod error;
mod index_mirror;
mod index_writer;
mod keys;
mod metadata_store;
mod names;
mod owners;
mod pages;
mod publish;
mod publish_frame;
mod registry;
mod reindex;
mod reindex_jobs;
mod remote;
mod repositories;
mod retention;
mod retry;
mod search;
mod search_index;
mod shared_document;
mod tokens;
mod uploads;
mod upstream;
mod users;
mod versions;
mod virtual_repos;
mod yank;

pub use access::{
    CrateTarget, Denial, EVERY_CRATE, GROUP_PREFIX, Grant, Permission, Principal, Subject,
    TokenAction, decide, decide_global_admin, decide_token_action, decide_virtual_git_read,
    glob_matches, in_virtual_git_index,
};
pub use access_log::access_log_counts;
pub use audit::{
    AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, Actor, AuditAction, AuditEntry, AuditPage, AuditQuery,
    AuditRequest, DEFAULT_AUDIT_RETENTION, OPERATOR, audit_retention_from_env,
};
pub use auth::token_from_header;
pub use blob_store::{
    BlobError, BlobStore, Freshness, ObjectMeta, Put, PutMode, PutOptions, REVISION_METADATA,
    StorageTier,
};
pub use change_stream::CommittedChange;
pub use downloads::{CrateDownloads, CrateInfo, DownloadCount, RECENT_DAYS, merge_counts};
pub use error::RegistryError;
pub use index_mirror::{IndexFileEntry, IndexFiles, IndexMirror, StoredIndexFiles};
pub use keys::{
    GitFile, GitObjectId, KeyPrefix, ObjectKey, SearchShardId, Section, TaskId, UiFile, UploadId,
};
pub use metadata_store::{
    CrateRecord, CrateVersions, CrateWrite, DeletedVersion, MetadataStore, REINDEX_JOB_LIFETIME,
    RepoKind, Repository, StoreError, TokenRecord, User, VersionRecord, VersionWrite,
};
pub use names::{CrateName, RepoName, canonical_name};
pub use owners::OwnerChange;
pub use pages::{CratePage, RecentPublish, RepositorySummary, VersionPage};
pub use publish::{PublishOutcome, Upload};
pub use publish_frame::{PublishDependency, PublishMetadata, parse_publish_frame};
pub use registry::{DerivedFiles, PRIVATE_READS, PROXIED_READS, Registry, RegistryConfig};
pub use reindex_jobs::{
    BATCH_CRATES, JobState, ReindexBatch, ReindexJob, ReindexStatus, ReindexTask, TaskQueue,
    run_reindex_tasks,
};
pub use remote::{CachedFile, Upstream, expand_dl};
pub use repositories::{RepositoryChange, RepositorySpec, check_repository_name, parse_grant};
pub use retention::{
    ARCHIVE_MIN_OBJECT_SIZE, ARCHIVE_USD_PER_GB_MONTH, ArchivedVersion, Restored, RetentionPolicy,
    RetentionReport, STANDARD_USD_PER_GB_MONTH,
};
pub use search::{SearchHit, SearchResults};
pub use tokens::{NewToken, TokenRequest, parse_lifetime};
pub use uploads::{
    UPLOAD_RECORD_LIFETIME, UPLOAD_URL_LIFETIME, UploadRecord, UploadRequest, UploadSlot,
    UploadState, UploadStore,
};
pub use upstream::{UpstreamClient, UpstreamError, UpstreamResponse};
pub use users::UserChange;
pub use versions::{CrateVersion, version_key};

pub use crateyard_index::IndexLine;
pub use crateyard_tarball::{PackageInfo, TarballError, TarballLimits};
