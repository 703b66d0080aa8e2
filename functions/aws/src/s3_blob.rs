use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{StorageClass, Tag, Tagging};
use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, Freshness, KeyPrefix, ObjectKey, ObjectMeta, PutMode, PutOptions,
    StorageTier,
};
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// Objects in one S3 bucket, keys as the core lays them out.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    async fn delete_key(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The object's tags; [`BlobError::NotFound`] when it does not exist.
    async fn tags(&self, key: &ObjectKey) -> Result<Vec<Tag>, BlobError> {
        match self
            .client
            .get_object_tagging()
            .bucket(&self.bucket)
            .key(key.to_string())
            .send()
            .await
        {
            Ok(output) => Ok(output.tag_set().to_vec()),
            Err(e) if status(&e) == Some(404) => Err(BlobError::NotFound(key.to_string())),
            Err(e) => Err(backend(e)),
        }
    }

    /// Replaces the object's tag set (none: removes it).
    async fn put_tags(&self, key: &ObjectKey, tags: Vec<Tag>) -> Result<(), BlobError> {
        let key = key.to_string();
        let sent = match tags.is_empty() {
            true => self
                .client
                .delete_object_tagging()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map(drop)
                .map_err(|e| (status(&e), backend(e))),
            false => {
                let tagging = Tagging::builder()
                    .set_tag_set(Some(tags))
                    .build()
                    .map_err(backend)?;
                self.client
                    .put_object_tagging()
                    .bucket(&self.bucket)
                    .key(&key)
                    .tagging(tagging)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| (status(&e), backend(e)))
            }
        };
        match sent {
            Err((Some(404), _)) => Err(BlobError::NotFound(key)),
            sent => sent.map_err(|(_, e)| e),
        }
    }

    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

/// The object tag that keeps a private repository's objects off the static
/// read path: the bucket policy (`setup.rs`, `template.yaml`) lets readers
/// get only objects without it.
pub const PRIVATE_TAG: &str = "crateyard-private";

/// The object tag, with [`ARCHIVE_TAG_VALUE`], that marks an archived
/// `.crate`: the bucket's lifecycle rule `ArchiveTaggedCrates`
/// (`template.yaml`, `setup.rs`) moves tagged objects of
/// [`crateyard_core::ARCHIVE_MIN_OBJECT_SIZE`] and up to Glacier Instant
/// Retrieval, which reads at once like Standard.
pub const STORAGE_TAG: &str = "crateyard-storage";
pub const ARCHIVE_TAG_VALUE: &str = "archive";

fn tag(key: &str, value: &str) -> Result<Tag, BlobError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(backend)
}

/// The HTTP status S3 answered a failed request with, if it answered.
fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn backend(e: impl std::error::Error) -> BlobError {
    BlobError::Backend(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

/// What GET and HEAD both answer about an object.
fn object_meta(
    etag: Option<&str>,
    size: Option<i64>,
    last_modified: Option<&aws_sdk_s3::primitives::DateTime>,
    metadata: Option<&HashMap<String, String>>,
) -> ObjectMeta {
    ObjectMeta {
        etag: etag.unwrap_or_default().to_string(),
        size: size.unwrap_or_default().max(0) as u64,
        last_modified: last_modified
            .and_then(|t| SystemTime::try_from(*t).ok())
            .unwrap_or_else(SystemTime::now),
        metadata: metadata
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        let size = body.len() as u64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .body(ByteStream::from(body))
            .content_type(key.content_type())
            .cache_control(key.cache_control())
            .set_metadata(Some(options.metadata.clone().into_iter().collect()))
            .set_tagging(options.private.then(|| format!("{PRIVATE_TAG}=true")));
        request = match &mode {
            PutMode::Overwrite => request,
            PutMode::Create => request.if_none_match("*"),
            PutMode::Update(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(out) => Ok(ObjectMeta {
                etag: out.e_tag().unwrap_or_default().to_string(),
                size,
                last_modified: SystemTime::now(),
                metadata: options.metadata,
            }),
            // 412: the condition failed; 409: a concurrent conditional write
            // won; 404: `If-Match` on an object that is gone.
            Err(e) => match (status(&e), &mode) {
                (Some(412 | 409), PutMode::Create) => {
                    Err(BlobError::AlreadyExists(key.to_string()))
                }
                (Some(412 | 409 | 404), PutMode::Update(_)) => {
                    Err(BlobError::Precondition(key.to_string()))
                }
                _ => Err(backend(e)),
            },
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError> {
        match self.get_if_changed(key, None).await? {
            Freshness::Changed(bytes, meta) => Ok(Some((bytes, meta))),
            Freshness::Missing => Ok(None),
            // Without an ETag to compare, S3 has nothing to answer 304 to.
            Freshness::Unchanged => Err(BlobError::Backend(format!("{key}: 304 to a plain GET"))),
        }
    }

    async fn get_if_changed(
        &self,
        key: &ObjectKey,
        etag: Option<&str>,
    ) -> Result<Freshness, BlobError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .set_if_none_match(etag.map(str::to_string))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(304) => return Ok(Freshness::Unchanged),
            Err(e) if status(&e) == Some(404) => return Ok(Freshness::Missing),
            Err(e) => return Err(backend(e)),
        };
        let meta = object_meta(
            out.e_tag(),
            out.content_length(),
            out.last_modified(),
            out.metadata(),
        );
        let body = out.body.collect().await.map_err(backend)?.into_bytes();
        Ok(Freshness::Changed(body, meta))
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .send()
            .await
        {
            Ok(out) => Ok(Some(object_meta(
                out.e_tag(),
                out.content_length(),
                out.last_modified(),
                out.metadata(),
            ))),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        self.delete_key(&key.to_string()).await
    }

    /// Every version and delete marker of exactly `key`, then gone: S3
    /// reports each removal ("Object Deleted"), which invalidates it at
    /// CloudFront.
    async fn purge(&self, key: &ObjectKey) -> Result<(), BlobError> {
        let key = key.to_string();
        let mut versions = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            let mut request = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&key);
            if let Some((key_marker, version_marker)) = marker.take() {
                request = request
                    .key_marker(key_marker)
                    .version_id_marker(version_marker);
            }
            let page = request.send().await.map_err(backend)?;
            let copies = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            versions.extend(
                copies
                    .chain(markers)
                    .filter(|(k, _)| *k == Some(key.as_str()))
                    .filter_map(|(_, v)| v.map(String::from)),
            );
            match (
                page.is_truncated(),
                page.next_key_marker(),
                page.next_version_id_marker(),
            ) {
                (Some(true), Some(k), Some(v)) => marker = Some((k.into(), v.into())),
                _ => break,
            }
        }
        if versions.is_empty() {
            // Unversioned, or nothing there: a plain delete is all there is.
            return self.delete_key(&key).await;
        }
        for version in versions {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .version_id(version)
                .send()
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    async fn delete_if(&self, key: &ObjectKey, etag: &str) -> Result<(), BlobError> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .if_match(etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // `If-Match` on a missing object: nothing left to delete.
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) if matches!(status(&e), Some(412 | 409)) => {
                Err(BlobError::Precondition(key.to_string()))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<String, BlobError> {
        let config = PresigningConfig::expires_in(expires_in).map_err(backend)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .presigned(config)
            .await
            .map_err(backend)?;
        Ok(request.uri().to_string())
    }

    async fn list(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, BlobError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix.to_string())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(backend)?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys.sort();
        Ok(keys
            .into_iter()
            .filter_map(|key| {
                let parsed = ObjectKey::parse(&key);
                if parsed.is_none() {
                    tracing::warn!(key, "not a key of the object layout; left out of a listing");
                }
                parsed
            })
            .collect())
    }

    /// Keeps the object's other tags (its storage tier): a read, then a
    /// write of the whole set, as S3 has no other way.
    async fn set_private(&self, key: &ObjectKey, private: bool) -> Result<(), BlobError> {
        let mut tags: Vec<Tag> = self
            .tags(key)
            .await?
            .into_iter()
            .filter(|t| t.key() != PRIVATE_TAG)
            .collect();
        if private {
            tags.push(tag(PRIVATE_TAG, "true")?);
        }
        self.put_tags(key, tags).await
    }

    /// Archive: a tag, which the lifecycle rule acts on (within a day, as
    /// S3 runs lifecycle rules). Standard: the tag goes, and an object the
    /// rule has moved already is written again in Standard (in a versioned
    /// bucket the moved copy becomes a noncurrent version, which the
    /// bucket's rule expires after 30 days).
    async fn set_storage(
        &self,
        key: &ObjectKey,
        tier: StorageTier,
        private: bool,
    ) -> Result<(), BlobError> {
        // Fails closed: a private tag already there stays, whatever
        // `private` says (a visibility change may have set it since the
        // caller read the repository); only `set_private` removes it.
        let current = self.tags(key).await?;
        let keep_private = private || current.iter().any(|t| t.key() == PRIVATE_TAG);
        let mut tags = Vec::new();
        if keep_private {
            tags.push(tag(PRIVATE_TAG, "true")?);
        }
        if tier == StorageTier::Archive {
            tags.push(tag(STORAGE_TAG, ARCHIVE_TAG_VALUE)?);
        }
        self.put_tags(key, tags).await?;
        if tier == StorageTier::Standard {
            let head = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key.to_string())
                .send()
                .await
                .map_err(backend)?;
            if head
                .storage_class()
                .is_some_and(|class| *class != StorageClass::Standard)
            {
                // Written again in Standard, over the same object only
                // (If-Match), with its metadata and visibility. (A GET and
                // a PUT rather than CopyObject, whose client code would
                // weigh on every function's zip: the API's must stay
                // under 4 MB.)
                let (body, meta) = self
                    .get(key)
                    .await?
                    .ok_or_else(|| BlobError::NotFound(key.to_string()))?;
                let options = PutOptions {
                    metadata: meta.metadata,
                    private: keep_private,
                };
                self.put(key, body, PutMode::Update(meta.etag), options)
                    .await?;
            }
        }
        Ok(())
    }

    async fn presigned_get(
        &self,
        key: &ObjectKey,
        ttl: Duration,
    ) -> Result<Option<String>, BlobError> {
        let config = PresigningConfig::expires_in(ttl).map_err(backend)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .presigned(config)
            .await
            .map_err(backend)?;
        Ok(Some(request.uri().to_string()))
    }
}
