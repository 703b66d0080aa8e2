//! The downloads function: CloudFront writes its standard access logs
//! (gzip) to the access-logs bucket, whose `ObjectCreated` notification
//! invokes this. Each log file's `.crate` downloads are added to the
//! table's counters (`crateyard_core::access_log_counts`), once per file
//! however often the event is delivered: the file's bucket and key are the
//! batch id (see `MetadataStore::add_downloads`).

use aws_lambda_events::event::s3::S3Event;
use crateyard_aws::{AwsClients, DynamoStore};
use crateyard_core::{MetadataStore, access_log_counts};
use crateyard_lambda::{init_logging, s3_event_key};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::io::Read;

/// CloudFront delivers a distribution's logs several times an hour, each
/// file far smaller than this; a larger object is not one of its logs.
/// Well inside the function's memory (template.yaml: 512 MB).
const MAX_LOG_BYTES: u64 = 128 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let table = std::env::var("CRATEYARD_TABLE")
        .map_err(|_| "the CRATEYARD_TABLE environment variable must be set")?;
    let clients = &AwsClients::from_lambda_env();
    let store = &DynamoStore::new(clients.dynamodb.clone(), table);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let mut files = Vec::new();
        for record in event.payload.records {
            let (Some(bucket), Some(key)) = (
                record.s3.bucket.name.as_deref(),
                record.s3.object.key.as_deref().map(s3_event_key),
            ) else {
                continue;
            };
            let object = clients
                .s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await?;
            let compressed = object.body.collect().await?.into_bytes();
            let mut log = String::new();
            flate2::read::MultiGzDecoder::new(&compressed[..])
                .take(MAX_LOG_BYTES)
                .read_to_string(&mut log)?;
            let counts = access_log_counts(&log);
            let batch = format!("{bucket}/{key}");
            // An error fails the event: Lambda retries it, and chunks
            // already counted are not counted again.
            let added = store.add_downloads(Some(&batch), &counts).await?;
            let downloads: u64 = counts.iter().map(|c| c.count).sum();
            tracing::info!(key, downloads, added, "access log counted");
            files.push(json!({ "key": key, "downloads": downloads, "added": added }));
        }
        Ok::<Value, lambda_http::Error>(json!({ "files": files }))
    }))
    .await
}
