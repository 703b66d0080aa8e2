//! The indexer function, for two event sources:
//! - S3 `ObjectCreated` events for `.uploads/{id}.crate` (large uploads
//!   through presigned URLs) are ingested like any upload, with
//!   `Registry::ingest_upload`, which records the outcome for the uploader
//!   and deletes the staging object. The event's key is parsed as an
//!   `ObjectKey` first: any other object is not ours to touch.
//! - The table's DynamoDB stream, where the API commits and leaves the
//!   derived files to this function (`CRATEYARD_DERIVED_FILES=change-stream`
//!   on the API): each batch's crates are rebuilt with
//!   `Registry::write_changed_crates`.

use aws_lambda_events::event::s3::S3Event;
use crateyard_core::{ObjectKey, Registry};
use crateyard_lambda::change_stream::{StreamEvent, is_stream_event};
use crateyard_lambda::{git_index, init_logging, registry_from_env, s3_event_key};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = &registry_from_env().await?.with_index_mirror(git_index);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if is_stream_event(&event.payload) {
            let event: StreamEvent = serde_json::from_value(event.payload)?;
            let changes = event.committed_changes();
            // An error fails the batch: Lambda retries it (every write is
            // idempotent), then sends it to the failure queue.
            registry.write_changed_crates(&changes).await?;
            return Ok(json!({ "crates_changed": changes.len() }));
        }
        ingest_uploads(registry, serde_json::from_value(event.payload)?).await
    }))
    .await
}

async fn ingest_uploads(registry: &Registry, event: S3Event) -> Result<Value, lambda_http::Error> {
    let mut uploads = Vec::new();
    for record in event.records {
        let created = record
            .event_name
            .as_deref()
            .is_some_and(|name| name.starts_with("ObjectCreated:"));
        let Some(key) = record.s3.object.key.as_deref().map(s3_event_key) else {
            continue;
        };
        if !created {
            tracing::warn!(key, event = ?record.event_name, "not an ObjectCreated event; ignored");
            continue;
        }
        let Some(object) = ObjectKey::parse(&key) else {
            tracing::warn!(key, "not an object of the registry's layout; ignored");
            continue;
        };
        let size = record.s3.object.size.and_then(|s| u64::try_from(s).ok());
        // An error leaves the object in place: Lambda retries the event.
        if let Some(upload) = registry.ingest_upload(&object, size).await? {
            uploads.push(serde_json::to_value(upload)?);
        }
    }
    Ok(json!({ "uploads": uploads }))
}
