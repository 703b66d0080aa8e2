use crate::{BlobError, StoreError};
use crateyard_tarball::TarballError;

/// Every way a registry operation can fail. The messages are shown to cargo
/// users as they are, so each says what to do about it. The HTTP layer maps
/// variants to status codes in one place (`crateyard_http::error`).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "this request needs a token: run `cargo login` or send `Authorization: Bearer <token>`"
    )]
    MissingToken,
    #[error(
        "the token is not valid (revoked, expired or mistyped): create a new one with `crateyard token create`"
    )]
    InvalidToken,
    #[error("{0}")]
    Forbidden(String),
    #[error("repository `{0}` does not exist")]
    UnknownRepository(String),
    #[error("crate `{0}` does not exist in this registry")]
    UnknownCrate(String),
    #[error("crate `{name}` has no version {version}")]
    UnknownVersion { name: String, version: String },
    #[error(
        "user `{0}` does not exist; create it with `crateyard user set {0}` or `crateyard token create --user {0}`"
    )]
    UnknownUser(String),
    #[error("`{name}` is not a valid crate name: {why}")]
    InvalidName { name: String, why: String },
    #[error("`{version}` is not a valid semver version: {why}")]
    InvalidVersion { version: String, why: String },
    #[error(
        "crate `{requested}` would be the same crate as the existing `{existing}` (names differing only in case or `-`/`_` are one crate); publish it as `{existing}`"
    )]
    NameCollision { requested: String, existing: String },
    #[error("crate `{name}` version {version} already exists{hint}")]
    VersionExists {
        name: String,
        version: String,
        hint: String,
    },
    #[error(
        "crate `{name}` version {version} was deleted on {deleted_at} and its number stays reserved; publish a new version"
    )]
    VersionDeleted {
        name: String,
        version: String,
        deleted_at: String,
    },
    #[error(
        "another upload of `{name}` {version} with different contents is in progress or was interrupted; try again in a minute, and run `crateyard reindex` if it persists"
    )]
    UploadInProgress { name: String, version: String },
    #[error("invalid publish request: {0}")]
    BadFrame(String),
    #[error("the publish metadata does not match the .crate's Cargo.toml: {0}")]
    MetadataMismatch(String),
    #[error(
        "the request body did not arrive within {seconds} s; send it at once, or use a faster connection"
    )]
    SlowRequest { seconds: u64 },
    #[error("the upload is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Tarball(#[from] TarballError),
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "upload `{0}` does not exist or has expired (upload statuses are kept for a day); request a new upload URL"
    )]
    UnknownUpload(String),
    /// A reindex job that does not exist (or whose record expired).
    #[error("{0}")]
    UnknownJob(String),
    #[error("{0}")]
    NotSupported(String),
    #[error("storage failed: {0}")]
    Blob(#[from] BlobError),
    #[error("metadata store failed: {0}")]
    Store(#[from] StoreError),
    #[error("the registry is busy with concurrent changes to `{0}`; try again")]
    Contention(String),
    #[error(
        "repository `{0}` was made public or private while this publish ran; nothing was published: publish again"
    )]
    RepositoryChanged(String),
    #[error("the git index could not be updated: {0}")]
    GitIndex(String),
    #[error("the upstream registry failed: {0}")]
    Upstream(#[from] crate::UpstreamError),
}

impl RegistryError {
    /// True when the fault is ours, not the caller's: the details stay in logs.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Blob(_) | Self::Store(_) | Self::GitIndex(_))
    }
}
