use crate::{KeyPrefix, ObjectKey};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The object-metadata key holding the crate revision an index file was built from.
pub const REVISION_METADATA: &str = "crate-revision";

/// How a put treats an existing object, as S3 conditional writes do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    Overwrite,
    /// Only if nothing is there (`If-None-Match: *`); else [`BlobError::AlreadyExists`].
    Create,
    /// Only if the object still has this ETag (`If-Match`); else [`BlobError::Precondition`].
    Update(String),
}

/// What a put says beyond the key. The object's `Content-Type` and
/// `Cache-Control` are not here: they follow from its key
/// ([`ObjectKey::content_type`], [`ObjectKey::cache_control`]), and
/// [`ObjectKey::put_options`] decides privacy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// User metadata stored with the object (S3 `x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
    /// Belongs to a private repository: not readable on the static read path.
    pub private: bool,
}

/// Where an object's bytes are kept. Both read at once and at the same
/// key: archive storage only costs less to keep and more to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageTier {
    Standard,
    /// S3: tagged for the lifecycle rule that moves it to Glacier Instant
    /// Retrieval; locally: the data directory's `archive/`.
    Archive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Opaque; changes whenever the content changes.
    pub etag: String,
    pub size: u64,
    pub last_modified: SystemTime,
    pub metadata: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// The crate revision an index file was written for (0 when unknown).
    pub fn revision(&self) -> u64 {
        self.metadata
            .get(REVISION_METADATA)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }
}

/// One write of [`BlobStore::put_many`].
#[derive(Debug, Clone)]
pub struct Put {
    pub key: ObjectKey,
    pub body: Bytes,
    pub mode: PutMode,
    pub options: PutOptions,
}

/// Requests a default [`BlobStore::put_many`] keeps in flight.
const PUT_MANY_CONCURRENCY: usize = 16;

/// What [`BlobStore::get_if_changed`] found.
#[derive(Debug)]
pub enum Freshness {
    Unchanged,
    Changed(Bytes, ObjectMeta),
    Missing,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object `{0}` already exists")]
    AlreadyExists(String),
    #[error("object `{0}` changed since it was read")]
    Precondition(String),
    #[error("object `{0}` does not exist")]
    NotFound(String),
    #[error("blob store: {0}")]
    Backend(String),
    #[error("this blob store cannot {0}")]
    Unsupported(&'static str),
}

/// Object storage with S3's semantics: whole-object puts, conditional on
/// absence or on an ETag, and strongly consistent reads after writes.
/// Objects are named by [`ObjectKey`] only, so no call site can invent a
/// key outside the layout.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError>;
    async fn get(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError>;
    /// [`Self::put`] of each, answered in order: a few concurrent requests,
    /// or for local files one blocking task for all (a reindex writes
    /// tens of thousands). Puts of the same key must not be in one call.
    async fn put_many(&self, puts: Vec<Put>) -> Vec<Result<ObjectMeta, BlobError>> {
        futures_util::stream::iter(puts)
            .map(|put| async move { self.put(&put.key, put.body, put.mode, put.options).await })
            .buffered(PUT_MANY_CONCURRENCY)
            .collect()
            .await
    }
    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BlobError>;
    /// [`Self::get`] of each key, in order: concurrent requests, or for
    /// local files one blocking task for all (a reindex reads thousands).
    async fn get_many(
        &self,
        keys: &[ObjectKey],
    ) -> Vec<Result<Option<(Bytes, ObjectMeta)>, BlobError>> {
        futures_util::future::join_all(keys.iter().map(|key| self.get(key))).await
    }
    /// The object, unless it still has `etag` (S3: `If-None-Match`, one
    /// round trip whichever the answer). Stores without conditional reads
    /// compare a `head` first.
    async fn get_if_changed(
        &self,
        key: &ObjectKey,
        etag: Option<&str>,
    ) -> Result<Freshness, BlobError> {
        if let Some(etag) = etag
            && self.head(key).await?.is_some_and(|meta| meta.etag == etag)
        {
            return Ok(Freshness::Unchanged);
        }
        Ok(match self.get(key).await? {
            Some((bytes, meta)) => Freshness::Changed(bytes, meta),
            None => Freshness::Missing,
        })
    }
    /// Deleting a missing object succeeds.
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError>;
    /// Removes every stored copy of `key`, earlier versions included (a
    /// versioned bucket keeps them after a delete): what deleting a version
    /// for a leaked secret needs. Stores that keep one copy just delete.
    async fn purge(&self, key: &ObjectKey) -> Result<(), BlobError> {
        self.delete(key).await
    }
    /// Deletes the object only while it still has `etag` (S3: `If-Match` on
    /// DeleteObject), so a cleanup removes what it wrote and never what
    /// replaced it. A missing object succeeds; a changed one is
    /// [`BlobError::Precondition`].
    async fn delete_if(&self, key: &ObjectKey, etag: &str) -> Result<(), BlobError>;
    /// Every object under `prefix`, in lexicographic order of their keys.
    /// Anything stored there whose name is not a key of the layout (the
    /// registry never writes one) is left out.
    async fn list(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, BlobError>;
    /// Makes an object unreadable (`true`) or readable on the static read
    /// path (S3 behind CloudFront) when its repository changes visibility.
    /// A store without a static read path of its own has nothing to do.
    async fn set_private(&self, _key: &ObjectKey, _private: bool) -> Result<(), BlobError> {
        Ok(())
    }
    /// Moves an existing object to `tier` (a no-op where it is already),
    /// keeping it readable throughout. `private` is its repository's
    /// visibility, which S3 keeps in the same tag set.
    async fn set_storage(
        &self,
        key: &ObjectKey,
        tier: StorageTier,
        private: bool,
    ) -> Result<(), BlobError> {
        let _ = (key, tier, private);
        Err(BlobError::Unsupported("move objects between storage tiers"))
    }
    /// A URL from which a client can read the object itself for `ttl`, if
    /// the store offers one (S3 presigned GET); `None` otherwise.
    async fn presigned_get(
        &self,
        _key: &ObjectKey,
        _ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        Ok(None)
    }

    /// A URL anyone may `PUT` the object to until `expires_in` has passed
    /// (S3 presigning): how uploads too large for a Lambda request come in.
    async fn presign_put(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<String, BlobError> {
        let _ = (key, expires_in);
        Err(BlobError::Unsupported("hand out upload URLs"))
    }
}
