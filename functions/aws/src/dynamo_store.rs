use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use crateyard_core::{
    AuditEntry, AuditPage, AuditQuery, CommittedChange, CrateRecord, CrateVersions, CrateWrite,
    DownloadCount, MetadataStore, REINDEX_JOB_LIFETIME, ReindexBatch, ReindexJob, Repository,
    StoreError, TokenRecord, UploadRecord, UploadState, UploadStore, User, VersionRecord,
    VersionWrite,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// Single-table design. Every item has `pk`, `sk` and `body` (the record as
/// JSON); crate items add `revision` (the compare-and-swap guard). Search
/// does not read the table: see `crateyard_core`'s search shards.
///
/// | item | pk | sk |
/// |---|---|---|
/// | repository | `REPOS` | name |
/// | crate | `CRATES#{repo}` | canonical name |
/// | version | `VERSIONS#{repo}#{canonical}` | version without build metadata |
/// | user | `USERS` | login |
/// | token | `TOKENS` | sha256 of the token |
/// | large upload | `UPLOAD#{id}` | `UPLOAD` |
/// | deployment setting | `SETTINGS` | name (`public_url`) |
/// | reindex job | `REINDEX#{repo}` | job id |
/// | reindex job's batch | `REINDEX#{repo}` | `{job id}#{number, 6 digits}` |
/// | audit entry | `AUDIT#{YYYY-MM-DD}` | entry id (see `dynamo_audit.rs`) |
/// | download count | `DOWNLOADS#{repo}#{canonical}` | `{version}#{day}` (see `dynamo_downloads.rs`) |
/// | counted log file's chunk | `DLBATCH#{batch}` | chunk number |
///
/// Token items with an expiry, upload items, reindex jobs' and audit items carry
/// the number `expires_at` (epoch seconds), the table's TTL attribute, so
/// DynamoDB deletes them some time after. Upload items also carry `state`,
/// the compare-and-swap guard of their outcome.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

pub(crate) type Item = HashMap<String, AttributeValue>;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The registry's public URL as the stack's setup stored it (see
    /// `template.yaml`: the functions cannot be told the distribution's name).
    pub async fn public_url(&self) -> Result<Option<String>, StoreError> {
        self.get(SETTINGS_PK.into(), PUBLIC_URL_SETTING.into())
            .await?
            .map(|item| parse::<String>(&item))
            .transpose()
    }

    /// Stores the registry's public URL for the functions to read at start.
    pub async fn set_public_url(&self, url: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(SETTINGS_PK.into(), PUBLIC_URL_SETTING, &url)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    /// Every item of a partition, strongly consistent, in `sk` order.
    pub(crate) async fn query(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        self.query_sk_prefix(pk, None).await
    }

    /// [`Self::query`], only the items whose `sk` starts with `sk_prefix`.
    async fn query_sk_prefix(
        &self,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let condition = match sk_prefix {
            Some(_) => "pk = :pk AND begins_with(sk, :sk)",
            None => "pk = :pk",
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(condition)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .consistent_read(true);
        if let Some(prefix) = sk_prefix {
            request = request.expression_attribute_values(":sk", AttributeValue::S(prefix.into()));
        }
        let mut items = Vec::new();
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            items.extend(page.map_err(backend)?.items.unwrap_or_default());
        }
        Ok(items)
    }

    /// Puts an item that DynamoDB's TTL removes after [`REINDEX_JOB_LIFETIME`].
    async fn put_expiring(&self, mut item: Item) -> Result<(), StoreError> {
        let expires = std::time::SystemTime::now() + REINDEX_JOB_LIFETIME;
        let expires = expires
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Puts an item unless its key is taken.
    pub(crate) async fn put_new(&self, item: Item, what: &str) -> Result<(), StoreError> {
        let failed = StoreError::AlreadyExists(what.into());
        self.put_if(item, "attribute_not_exists(pk)", None, failed)
            .await
    }

    /// Puts an item if `condition` holds (with `#state` standing for the
    /// `state` attribute and `value` for `:value`); `failed` when it does not.
    async fn put_if(
        &self,
        item: Item,
        condition: &str,
        value: Option<AttributeValue>,
        failed: StoreError,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some(value) = value {
            request = request
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":value", value);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(failed)
            }
            Err(e) => Err(backend(e)),
        }
    }

    /// Replaces an item that must exist.
    async fn replace(&self, item: Item, what: &str) -> Result<(), StoreError> {
        let failed = StoreError::NotFound(what.into());
        self.put_if(item, "attribute_exists(pk)", None, failed)
            .await
    }

    /// Deletes an item that must exist.
    async fn delete_existing(&self, pk: String, sk: String, what: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::NotFound(what.into()))
            }
            Err(e) => Err(backend(e)),
        }
    }

    pub(crate) fn put(
        &self,
        item: Item,
        condition: &str,
        values: Option<(&str, AttributeValue)>,
    ) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values(
                values.map(|(k, v)| HashMap::from([(k.to_string(), v)])),
            )
            .build()
            .expect("table, item and condition are set");
        TransactWriteItem::builder().put(put).build()
    }
}

impl DynamoStore {
    /// A transaction's check that repository `repo` is still at `revision`.
    fn repository_unchanged(&self, repo: &str, revision: u64) -> TransactWriteItem {
        let key = HashMap::from([
            ("pk".to_string(), AttributeValue::S("REPOS".into())),
            ("sk".to_string(), AttributeValue::S(repo.into())),
        ]);
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(repository_at(revision))
            .expression_attribute_names("#rev", REVISION_ATTRIBUTE)
            .expression_attribute_values(":rev", AttributeValue::N(revision.to_string()))
            .build()
            .expect("table, key and condition are set");
        TransactWriteItem::builder().condition_check(check).build()
    }
}

/// The condition that a repository's item is at `revision` (`#rev` and
/// `:rev`); items written before revisions existed have none: revision 0.
fn repository_at(revision: u64) -> &'static str {
    match revision {
        0 => "attribute_exists(pk) AND (attribute_not_exists(#rev) OR #rev = :rev)",
        _ => "#rev = :rev",
    }
}

pub(crate) fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

pub(crate) fn item(pk: String, sk: &str, body: &impl Serialize) -> Item {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
        (
            "body".to_string(),
            AttributeValue::S(serde_json::to_string(body).expect("records serialize")),
        ),
    ])
}

fn token_item(token: &TokenRecord) -> Item {
    let mut item = item(TOKENS_PK.into(), &token.hash, token);
    if let Some(at) = token.expires_at {
        item.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(at.to_string()));
    }
    item
}

/// Queries in flight at once in a bulk read.
const BULK_QUERIES: usize = 32;

/// The table's TTL attribute (Unix seconds), as `template.yaml` declares it.
pub const TTL_ATTRIBUTE: &str = "expires_at";
const TOKENS_PK: &str = "TOKENS";
/// A repository item's revision, beside its body, for conditional updates.
const REVISION_ATTRIBUTE: &str = "rev";
const SETTINGS_PK: &str = "SETTINGS";
const PUBLIC_URL_SETTING: &str = "public_url";

pub(crate) fn parse<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let body = item
        .get("body")
        .and_then(|b| b.as_s().ok())
        .ok_or_else(|| StoreError::Backend("an item has no body".into()))?;
    serde_json::from_str(body).map_err(|e| StoreError::Backend(format!("corrupt record: {e}")))
}

/// The partition key prefixes of crate and version items, which the
/// stream's records are read back by (and template.yaml's stream filter
/// names).
const CRATES_PREFIX: &str = "CRATES#";
const VERSIONS_PREFIX: &str = "VERSIONS#";

fn crates_pk(repo: &str) -> String {
    format!("{CRATES_PREFIX}{repo}")
}

fn versions_pk(repo: &str, canonical: &str) -> String {
    format!("{VERSIONS_PREFIX}{repo}#{canonical}")
}

/// The crate change a record of the table's stream reports, from the
/// item's keys: a crate's record written (any change to it), or a version
/// item (`inserted`: created, which is a publish). Any other item (tokens,
/// users, jobs) is no crate's change.
pub fn committed_change(pk: &str, sk: &str, inserted: bool) -> Option<CommittedChange> {
    if let Some(repo) = pk.strip_prefix(CRATES_PREFIX) {
        return Some(CommittedChange {
            repo: repo.into(),
            canonical: sk.into(),
            new_version: None,
        });
    }
    // Neither repository names nor crate names hold a `#`.
    let (repo, canonical) = pk.strip_prefix(VERSIONS_PREFIX)?.split_once('#')?;
    Some(CommittedChange {
        repo: repo.into(),
        canonical: canonical.into(),
        new_version: inserted.then(|| sk.into()),
    })
}

fn crate_item(repo: &str, krate: &CrateRecord) -> Item {
    let mut it = item(crates_pk(repo), &krate.canonical, krate);
    it.insert(
        "revision".into(),
        AttributeValue::N(krate.revision.to_string()),
    );
    it
}

/// Which part of a cancelled transaction failed its condition.
pub(crate) fn cancelled_at(err: &TransactWriteItemsError) -> Option<usize> {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => e
            .cancellation_reasons()
            .iter()
            .position(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => None,
    }
}

#[async_trait]
impl MetadataStore for DynamoStore {
    async fn create_repository(&self, repo: &Repository) -> Result<(), StoreError> {
        self.put_new(item("REPOS".into(), &repo.name, repo), &repo.name)
            .await
    }

    async fn get_repository(&self, name: &str) -> Result<Option<Repository>, StoreError> {
        self.get("REPOS".into(), name.into())
            .await?
            .as_ref()
            .map(parse)
            .transpose()
    }

    async fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        self.query("REPOS".into())
            .await?
            .iter()
            .map(parse)
            .collect()
    }

    async fn get_crate(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Option<CrateRecord>, StoreError> {
        self.get(crates_pk(repo), canonical.into())
            .await?
            .as_ref()
            .map(parse)
            .transpose()
    }

    async fn list_crates(&self, repo: &str) -> Result<Vec<CrateRecord>, StoreError> {
        self.query(crates_pk(repo))
            .await?
            .iter()
            .map(parse)
            .collect()
    }

    async fn list_versions(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let mut versions: Vec<VersionRecord> = self
            .query(versions_pk(repo, canonical))
            .await?
            .iter()
            .map(parse)
            .collect::<Result<_, _>>()?;
        versions.sort_by_key(|v| v.seq);
        Ok(versions)
    }

    /// A crate's versions are a partition of their own: one paginated
    /// Query per crate, after the crates' Query, [`BULK_QUERIES`] at a time.
    async fn list_crates_with_versions(
        &self,
        repo: &str,
    ) -> Result<Vec<CrateVersions>, StoreError> {
        let crates = self.list_crates(repo).await?;
        stream::iter(crates)
            .map(|krate| async move {
                let versions = self.list_versions(repo, &krate.canonical).await?;
                Ok::<_, StoreError>(CrateVersions { krate, versions })
            })
            .buffered(BULK_QUERIES)
            .try_collect()
            .await
    }

    async fn commit(&self, repo: &str, write: CrateWrite) -> Result<(), StoreError> {
        let krate = &write.krate;
        let crate_put = match write.expected_revision {
            None => self.put(crate_item(repo, krate), "attribute_not_exists(pk)", None),
            Some(r) => self.put(
                crate_item(repo, krate),
                "revision = :r",
                Some((":r", AttributeValue::N(r.to_string()))),
            ),
        };
        let mut items = vec![crate_put];
        let version_name = |v: &VersionRecord| format!("{} {}", krate.name, v.line.vers);
        match &write.version {
            Some(VersionWrite::Insert(v)) => {
                items.push(self.put(
                    item(versions_pk(repo, &krate.canonical), &v.version_key, v),
                    "attribute_not_exists(pk)",
                    None,
                ));
            }
            Some(VersionWrite::Replace(v)) => {
                items.push(self.put(
                    item(versions_pk(repo, &krate.canonical), &v.version_key, v),
                    "attribute_exists(pk)",
                    None,
                ));
            }
            Some(VersionWrite::Delete(v)) => {
                let key = HashMap::from([
                    (
                        "pk".to_string(),
                        AttributeValue::S(versions_pk(repo, &krate.canonical)),
                    ),
                    ("sk".to_string(), AttributeValue::S(v.version_key.clone())),
                ]);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .condition_expression("attribute_exists(pk)")
                    .build()
                    .expect("table, key and condition are set");
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            None => {}
        }
        if let Some(entry) = &write.audit {
            items.push(self.audit_put(entry));
        }
        if let Some(revision) = write.repository_revision {
            // Last, so that the version's item keeps index 1 below.
            items.push(self.repository_unchanged(repo, revision));
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let Some(service) = e.as_service_error() else {
            return Err(backend(e));
        };
        match (cancelled_at(service), &write.version) {
            (Some(1), Some(VersionWrite::Insert(v))) => {
                Err(StoreError::AlreadyExists(version_name(v)))
            }
            (Some(1), Some(VersionWrite::Replace(v) | VersionWrite::Delete(v))) => {
                Err(StoreError::NotFound(version_name(v)))
            }
            // The crate's condition failed, or a concurrent transaction
            // touched the same items: either way, read again and retry.
            (Some(_), _) => Err(StoreError::Conflict(krate.canonical.clone())),
            (None, _)
                if matches!(
                    service,
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                Err(StoreError::Conflict(krate.canonical.clone()))
            }
            // Anything else, TransactionInProgressException included (the
            // SDK's retry of this very transaction, whose first attempt may
            // still commit), has an unknown outcome: not a conflict to
            // re-read and redo, but an error the client retries, and a
            // retried identical publish is idempotent.
            (None, _) => Err(backend(e)),
        }
    }

    async fn update_repository(&self, repo: &Repository) -> Result<(), StoreError> {
        let mut item = item("REPOS".into(), &repo.name, repo);
        item.insert(
            REVISION_ATTRIBUTE.into(),
            AttributeValue::N(repo.revision.to_string()),
        );
        let expected = repo.revision.saturating_sub(1);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(repository_at(expected))
            .expression_attribute_names("#rev", REVISION_ATTRIBUTE)
            .expression_attribute_values(":rev", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                match self.get_repository(&repo.name).await? {
                    Some(_) => Err(StoreError::Conflict(format!("repository `{}`", repo.name))),
                    None => Err(StoreError::NotFound(repo.name.clone())),
                }
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.put_new(item("USERS".into(), &user.login, user), &user.login)
            .await
    }

    async fn get_user(&self, login: &str) -> Result<Option<User>, StoreError> {
        self.get("USERS".into(), login.into())
            .await?
            .as_ref()
            .map(parse)
            .transpose()
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let item = item("USERS".into(), &user.login, user);
        self.replace(item, &user.login).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.query("USERS".into())
            .await?
            .iter()
            .map(parse)
            .collect()
    }

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.put_new(token_item(token), "token").await
    }

    async fn get_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get(TOKENS_PK.into(), hash.into())
            .await?
            .as_ref()
            .map(parse)
            .transpose()
    }

    async fn update_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.replace(token_item(token), "token").await
    }

    async fn delete_token(&self, hash: &str) -> Result<(), StoreError> {
        self.delete_existing(TOKENS_PK.into(), hash.into(), "token")
            .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.query(TOKENS_PK.into())
            .await?
            .iter()
            .map(parse)
            .collect()
    }

    async fn put_reindex_job(&self, job: &ReindexJob) -> Result<(), StoreError> {
        self.put_expiring(item(reindex_pk(&job.repo), &job.id, job))
            .await
    }

    async fn put_reindex_batch(
        &self,
        repo: &str,
        job: &str,
        batch: &ReindexBatch,
    ) -> Result<(), StoreError> {
        let sk = format!("{job}#{:06}", batch.number);
        self.put_expiring(item(reindex_pk(repo), &sk, batch)).await
    }

    async fn get_reindex_job(
        &self,
        repo: &str,
        id: &str,
    ) -> Result<Option<(ReindexJob, Vec<ReindexBatch>)>, StoreError> {
        let items = self.query_sk_prefix(reindex_pk(repo), Some(id)).await?;
        // `{id}` sorts before its batches, `{id}#{number}`; another job
        // whose id merely starts with `id` is not this one.
        let sk = |item: &Item| item.get("sk").and_then(|v| v.as_s().ok()).cloned();
        let Some(job) = items.iter().find(|i| sk(i).as_deref() == Some(id)) else {
            return Ok(None);
        };
        let batch_prefix = format!("{id}#");
        let batches = items
            .iter()
            .filter(|i| sk(i).is_some_and(|sk| sk.starts_with(&batch_prefix)))
            .map(parse)
            .collect::<Result<_, _>>()?;
        Ok(Some((parse(job)?, batches)))
    }

    async fn latest_reindex_job(&self, repo: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(reindex_pk(repo)))
            .scan_index_forward(false)
            .limit(1)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        // The last item is the latest job's, or one of its batches'.
        Ok(out
            .items
            .unwrap_or_default()
            .first()
            .and_then(|item| item.get("sk")?.as_s().ok())
            .map(|sk| sk.split('#').next().unwrap_or(sk).to_string()))
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.put_audit(entry).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.query_audit(query).await
    }

    async fn add_downloads(
        &self,
        batch: Option<&str>,
        counts: &[DownloadCount],
    ) -> Result<bool, StoreError> {
        self.add_download_counts(batch, counts).await
    }

    async fn downloads(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<DownloadCount>, StoreError> {
        self.download_counts(repo, canonical).await
    }
}

/// A repository's reindex jobs and their batches (`sk`: `{id}`, `{id}#{number}`).
fn reindex_pk(repo: &str) -> String {
    format!("REINDEX#{repo}")
}

fn upload_item(upload: &UploadRecord) -> Item {
    let mut it = item(format!("UPLOAD#{}", upload.id), "UPLOAD", upload);
    let state = match upload.state {
        UploadState::Pending => "pending",
        UploadState::Published { .. } => "published",
        UploadState::Rejected { .. } => "rejected",
    };
    it.insert("state".into(), AttributeValue::S(state.into()));
    it.insert(
        TTL_ATTRIBUTE.into(),
        AttributeValue::N(upload.expires_at.to_string()),
    );
    it
}

#[async_trait]
impl UploadStore for DynamoStore {
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        self.put_new(upload_item(upload), &format!("upload {}", upload.id))
            .await
    }

    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>, StoreError> {
        self.get(format!("UPLOAD#{id}"), "UPLOAD".into())
            .await?
            .as_ref()
            .map(parse)
            .transpose()
    }

    async fn finish_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let pending = AttributeValue::S("pending".into());
        let failed = StoreError::Conflict(format!("upload {}", upload.id));
        self.put_if(
            upload_item(upload),
            "#state = :value",
            Some(pending),
            failed,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_keys_name_the_crate_they_change() {
        let change = |repo: &str, canonical: &str, new_version: Option<&str>| {
            Some(CommittedChange {
                repo: repo.into(),
                canonical: canonical.into(),
                new_version: new_version.map(Into::into),
            })
        };
        // The keys as this store's own writers build them.
        assert_eq!(
            committed_change(&crates_pk("main"), "foo-bar", false),
            change("main", "foo-bar", None)
        );
        let versions = versions_pk("team-a", "foo");
        assert_eq!(
            committed_change(&versions, "v-key", true),
            change("team-a", "foo", Some("v-key"))
        );
        // A version replaced (a yank) is a change, not a publish.
        assert_eq!(
            committed_change(&versions, "v-key", false),
            change("team-a", "foo", None)
        );
        assert_eq!(committed_change(TOKENS_PK, "hash", true), None);
        assert_eq!(
            committed_change(&reindex_pk("main"), "job#000001", true),
            None
        );
        assert_eq!(committed_change("VERSIONS#no-crate", "v", true), None);
    }
}
