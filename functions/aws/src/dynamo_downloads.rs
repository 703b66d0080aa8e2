//! Download counts in DynamoDB: one item per version and day under the
//! crate's partition (`DOWNLOADS#{repo}#{canonical}`, sk `{version}#{day}`),
//! added to with `ADD`, so concurrent writers all count. A batch (a
//! CloudFront log file) is written in transactions of at most 99 counts,
//! each with a marker item that must not exist yet (`DLBATCH#{batch}`, sk
//! the chunk's number, expiring after 30 days): a chunk delivered again is
//! refused whole, so nothing counts twice.

use crate::dynamo_store::{DynamoStore, TTL_ATTRIBUTE, backend, cancelled_at};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use crateyard_core::{DownloadCount, StoreError};
use futures_util::{StreamExt, TryStreamExt, stream};
use std::collections::HashMap;

/// Counts per transaction: DynamoDB takes 100 items, one is the marker.
const CHUNK: usize = 99;
/// How long a batch's markers are kept: longer than any redelivery.
const MARKER_LIFETIME_SECS: u64 = 30 * 24 * 60 * 60;

fn downloads_pk(repo: &str, canonical: &str) -> String {
    format!("DOWNLOADS#{repo}#{canonical}")
}

fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk)),
        ("sk".to_string(), AttributeValue::S(sk)),
    ])
}

fn count_key(c: &DownloadCount) -> HashMap<String, AttributeValue> {
    key(
        downloads_pk(&c.repo, &c.canonical),
        format!("{}#{}", c.version, c.day),
    )
}

impl DynamoStore {
    fn add_count(&self, c: &DownloadCount) -> Update {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(count_key(c)))
            .update_expression("ADD n :n")
            .expression_attribute_values(":n", AttributeValue::N(c.count.to_string()))
            .build()
            .expect("table, key and expression are set")
    }

    pub(crate) async fn add_download_counts(
        &self,
        batch: Option<&str>,
        counts: &[DownloadCount],
    ) -> Result<bool, StoreError> {
        let Some(batch) = batch else {
            // Each request owns its input: built here, sent 16 at a time.
            let requests: Vec<_> = counts
                .iter()
                .map(|c| {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(count_key(c)))
                        .update_expression("ADD n :n")
                        .expression_attribute_values(":n", AttributeValue::N(c.count.to_string()))
                        .send()
                })
                .collect();
            stream::iter(requests)
                .buffer_unordered(16)
                .try_collect::<Vec<_>>()
                .await
                .map_err(backend)?;
            return Ok(true);
        };
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + MARKER_LIFETIME_SECS;
        let mut added = false;
        for (number, chunk) in counts.chunks(CHUNK).enumerate() {
            let mut marker = key(format!("DLBATCH#{batch}"), number.to_string());
            marker.insert(TTL_ATTRIBUTE.into(), AttributeValue::N(expires.to_string()));
            let marker = self.put(marker, "attribute_not_exists(pk)", None);
            let items = std::iter::once(marker)
                .chain(chunk.iter().map(|c| {
                    TransactWriteItem::builder()
                        .update(self.add_count(c))
                        .build()
                }))
                .collect();
            // No client request token: a retry of a chunk that committed
            // (the SDK's, or Lambda's) fails on its marker, which is the
            // answer wanted: counted already.
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => added = true,
                Err(e) => match e.as_service_error().and_then(cancelled_at) {
                    // This chunk was counted before.
                    Some(0) => {}
                    _ => return Err(backend(e)),
                },
            }
        }
        Ok(added)
    }

    pub(crate) async fn download_counts(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<DownloadCount>, StoreError> {
        let mut out = Vec::new();
        for item in self.query(downloads_pk(repo, canonical)).await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok());
            let n = item.get("n").and_then(|v| v.as_n().ok());
            let (Some((version, day)), Some(n)) = (sk.and_then(|s| s.rsplit_once('#')), n) else {
                continue;
            };
            out.push(DownloadCount {
                repo: repo.into(),
                canonical: canonical.into(),
                version: version.into(),
                day: day.into(),
                count: n.parse().unwrap_or(0),
            });
        }
        Ok(out)
    }
}
