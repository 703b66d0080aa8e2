//! Large uploads: a `.crate` too big for a Lambda request (6 MB) goes
//! straight to S3 through a presigned URL; the object's S3 event then
//! ingests it with [`Registry::publish`], like every other way in. The
//! upload's record (who, where, what became of it) lives in an
//! [`UploadStore`], which only the AWS backend has.

use crate::clock::now_rfc3339;
use crate::keys::crate_file_name;
use crate::versions::parse_version;
use crate::{
    BlobError, CrateName, ObjectKey, Principal, Registry, RegistryError, StoreError, Upload,
    UploadId,
};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a presigned upload URL works.
pub const UPLOAD_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How long an upload's status stays readable (then DynamoDB's TTL drops it).
pub const UPLOAD_RECORD_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// One large upload, from the URL handed out to its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub id: String,
    pub repo: String,
    /// Who asked for the URL: the upload is published as them.
    pub user: String,
    /// The SHA-256 of the token that asked: ingestion applies its limits
    /// (scopes, crate globs) and fails if it was revoked meanwhile.
    #[serde(default)]
    pub token_hash: String,
    pub created_at: String,
    /// Until then (epoch seconds) the presigned URL accepts the `.crate`.
    pub url_expires_at: u64,
    /// When the record may be forgotten (epoch seconds): the table's TTL attribute.
    pub expires_at: u64,
    /// What the uploader announced, if anything; the tarball must agree.
    pub announced_name: Option<String>,
    pub announced_version: Option<String>,
    #[serde(flatten)]
    pub state: UploadState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum UploadState {
    /// Waiting for the `.crate` (or for the indexer to finish with it).
    Pending,
    Published {
        name: String,
        version: String,
        warnings: Vec<String>,
    },
    /// `detail` says why, as a publish rejection would.
    Rejected { detail: String },
}

/// Storage port for upload records (DynamoDB; items expire by TTL).
#[async_trait]
pub trait UploadStore: Send + Sync + 'static {
    /// Fails with [`StoreError::AlreadyExists`] if the id is taken.
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), StoreError>;
    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>, StoreError>;
    /// Stores the outcome if the record is still pending; fails with
    /// [`StoreError::Conflict`] if another delivery of the event got there first.
    async fn finish_upload(&self, upload: &UploadRecord) -> Result<(), StoreError>;
}

/// `POST {repo}/api/v1/uploads`: what the uploader announces (optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub name: Option<String>,
    pub version: Option<String>,
}

/// Where to `PUT` the `.crate`, and until when.
#[derive(Debug, Clone, Serialize)]
pub struct UploadSlot {
    pub id: String,
    pub url: String,
    /// Epoch seconds after which the URL no longer works.
    pub expires_at: u64,
}

fn epoch_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 128 random bits: ids are unguessable, and double as the object key.
fn new_upload_id() -> Result<UploadId, RegistryError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| RegistryError::Blob(BlobError::Backend(format!("no randomness: {e}"))))?;
    Ok(UploadId::new(&hex::encode(bytes)).expect("hex digits make an upload id"))
}

/// `{name}-{version}` → its parts. Names have no `.` and versions start
/// with `major.`, so the version begins after the last `-` before the first `.`.
fn split_package_dir(dir: &str) -> Option<(&str, &str)> {
    let dot = dir.find('.')?;
    let dash = dir[..dot].rfind('-')?;
    Some((&dir[..dash], &dir[dash + 1..]))
}

impl Registry {
    /// Adds the upload records store: large uploads become available.
    pub fn with_uploads(mut self, uploads: Arc<dyn UploadStore>) -> Self {
        self.uploads = Some(uploads);
        self
    }

    /// Whether large uploads (presigned URLs) are available here.
    pub fn has_large_uploads(&self) -> bool {
        self.uploads.is_some()
    }

    fn upload_store(&self, repo: &str) -> Result<&dyn UploadStore, RegistryError> {
        self.uploads.as_deref().ok_or_else(|| {
            RegistryError::NotSupported(format!(
                "large uploads need the serverless deployment (S3 presigned URLs and the indexer function); here use `cargo publish`, or `PUT /{repo}/crates/<name>/<name>-<version>.crate` with the .crate as the body"
            ))
        })
    }

    /// Hands out a presigned URL for one `.crate`, after the checks a publish
    /// would make up front (token, repository, and the announced name and
    /// version, if any); everything else is checked on ingestion.
    pub async fn create_upload(
        &self,
        repo: &str,
        who: &Principal,
        request: UploadRequest,
    ) -> Result<UploadSlot, RegistryError> {
        let store = self.upload_store(repo)?;
        self.repository(repo).await?;
        match (&request.name, &request.version) {
            (Some(name), Some(version)) => {
                let name = CrateName::new(name)?;
                let semver = parse_version(version)?;
                self.check_publish_allowed(repo, who, &name, &semver)
                    .await?;
            }
            (None, None) => {}
            _ => {
                return Err(RegistryError::BadRequest(
                    "give both `name` and `version` of the crate, or neither".into(),
                ));
            }
        }
        let id = new_upload_id()?;
        let key = ObjectKey::Upload { id: id.clone() };
        let url = self.blobs.presign_put(&key, UPLOAD_URL_LIFETIME).await?;
        let id = id.as_str().to_string();
        let now = epoch_seconds();
        let record = UploadRecord {
            id: id.clone(),
            repo: repo.into(),
            user: who.login().into(),
            token_hash: who.token.hash.clone(),
            created_at: now_rfc3339(),
            url_expires_at: now + UPLOAD_URL_LIFETIME.as_secs(),
            expires_at: now + UPLOAD_RECORD_LIFETIME.as_secs(),
            announced_name: request.name,
            announced_version: request.version,
            state: UploadState::Pending,
        };
        store.create_upload(&record).await?;
        tracing::info!(repo, id, user = %who.login(), "upload URL handed out");
        Ok(UploadSlot {
            id,
            url,
            expires_at: record.url_expires_at,
        })
    }

    /// The upload's record, for the user who asked for it; anyone else, and
    /// an expired id, gets [`RegistryError::UnknownUpload`].
    pub async fn upload_status(
        &self,
        repo: &str,
        who: &Principal,
        id: &str,
    ) -> Result<UploadRecord, RegistryError> {
        let store = self.upload_store(repo)?;
        let unknown = || RegistryError::UnknownUpload(id.into());
        if UploadId::new(id).is_none() {
            return Err(unknown());
        }
        // TTL deletes lazily (within days): an expired record is gone already.
        store
            .get_upload(id)
            .await?
            .filter(|u| u.repo == repo && u.user == who.login() && u.expires_at > epoch_seconds())
            .ok_or_else(unknown)
    }

    /// Ingests the object an upload URL received (`key` and `size` as the
    /// S3 event reported them): publishes it as the upload's user, records
    /// the outcome and deletes the object. Returns `Ok(None)` for an object
    /// that is not (or no longer) a pending upload. Errors are ours
    /// (storage): the object stays, and a retry of the event completes the
    /// work.
    pub async fn ingest_upload(
        &self,
        key: &ObjectKey,
        size: Option<u64>,
    ) -> Result<Option<UploadRecord>, RegistryError> {
        let ObjectKey::Upload { id } = key else {
            tracing::warn!(%key, "not an upload object; ignored");
            return Ok(None);
        };
        let id = id.as_str();
        let Some(store) = self.uploads.as_deref() else {
            return Err(RegistryError::NotSupported(
                "this registry has no upload store to ingest uploads with".into(),
            ));
        };
        let pending = store
            .get_upload(id)
            .await?
            .filter(|u| u.state == UploadState::Pending);
        let Some(mut record) = pending else {
            // Unknown, or already done (a redelivered event, a second PUT).
            tracing::warn!(%key, "no pending upload for this object; deleting it");
            self.blobs.delete(key).await?;
            return Ok(None);
        };
        let size = match size {
            Some(size) => size,
            None => match self.blobs.head(key).await? {
                Some(meta) => meta.size,
                None => return Ok(None),
            },
        };
        let limit = self.config.limits.max_compressed;
        let result = if size > limit {
            // Refused before downloading it.
            Err(RegistryError::TooLarge { size, limit })
        } else {
            match self.blobs.get(key).await? {
                Some((tarball, _)) => self.publish_upload(&record, tarball).await,
                None => return Ok(None),
            }
        };
        record.state = match result {
            Ok(state) => state,
            // Retried by the event's redelivery, on the settings then.
            Err(e)
                if e.is_internal()
                    || matches!(
                        e,
                        RegistryError::Contention(_) | RegistryError::RepositoryChanged(_)
                    ) =>
            {
                return Err(e);
            }
            Err(e) => UploadState::Rejected {
                detail: e.to_string(),
            },
        };
        match store.finish_upload(&record).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.blobs.delete(key).await?;
        tracing::info!(repo = %record.repo, id, user = %record.user, state = ?record.state, "upload ingested");
        Ok(Some(record))
    }

    async fn publish_upload(
        &self,
        record: &UploadRecord,
        tarball: bytes::Bytes,
    ) -> Result<UploadState, RegistryError> {
        let (name, version) = match (&record.announced_name, &record.announced_version) {
            (Some(name), Some(version)) => (name.clone(), version.clone()),
            _ => {
                let dir = crateyard_tarball::package_dir(&tarball)?;
                let (name, version) = split_package_dir(&dir).ok_or_else(|| {
                    RegistryError::BadRequest(format!(
                        "the .crate's top directory `{dir}` is not `<name>-<version>`; upload a file made by `cargo package`"
                    ))
                })?;
                (name.to_string(), version.to_string())
            }
        };
        let who = self.principal_for_token(&record.token_hash).await?;
        let upload = Upload::Direct {
            file_name: crate_file_name(&name, &version),
            name,
            tarball,
        };
        let outcome = self.publish(&record.repo, &who, upload).await?;
        Ok(UploadState::Published {
            name: outcome.line.name,
            version: outcome.line.vers,
            warnings: outcome.warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_dirs_split_at_the_version() {
        assert_eq!(split_package_dir("foo-1.0.0"), Some(("foo", "1.0.0")));
        assert_eq!(
            split_package_dir("foo-bar-2d-0.1.0-rc.1+b.2"),
            Some(("foo-bar-2d", "0.1.0-rc.1+b.2"))
        );
        assert_eq!(split_package_dir("foo"), None);
        assert_eq!(split_package_dir("foo.1"), None);
    }

    #[test]
    fn records_serialize_with_a_status_tag() {
        let record = UploadRecord {
            id: "ab".into(),
            repo: "main".into(),
            user: "alice".into(),
            token_hash: String::new(),
            created_at: "2026-01-01T00:00:00Z".into(),
            url_expires_at: 1,
            expires_at: 2,
            announced_name: Some("x".into()),
            announced_version: None,
            state: UploadState::Rejected {
                detail: "no".into(),
            },
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "rejected");
        assert_eq!(json["detail"], "no");
        assert_eq!(
            serde_json::from_value::<UploadRecord>(json).unwrap(),
            record
        );
    }
}
