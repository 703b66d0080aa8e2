//! The indexer function: S3 `ObjectCreated` events for `.uploads/{id}.crate`
//! (large uploads through presigned URLs) are ingested like any upload,
//! with `Registry::ingest_upload`, which records the outcome for the
//! uploader and deletes the staging object. The event's key is parsed as an
//! `ObjectKey` first: any other object is not ours to touch.

use aws_lambda_events::event::s3::S3Event;
use crateyard_core::ObjectKey;
use crateyard_lambda::{init_logging, registry_from_env, s3_event_key};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = &registry_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let mut uploads = Vec::new();
        for record in event.payload.records {
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
        Ok::<Value, lambda_http::Error>(json!({ "uploads": uploads }))
    }))
    .await
}
