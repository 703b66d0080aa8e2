//! Reindex jobs (`crateyard_core`'s `reindex_jobs`), two kinds of event:
//! - invoked on demand (`aws lambda invoke … --payload '{"repo":"main"}'`,
//!   or `{}` for every repository): starts a job per repository and
//!   answers `{"jobs": {"main": "<id>"}}`;
//! - S3's notification of a task object under `.tasks/` (a job's plan or
//!   one of its batches, written by a job's start or by its plan): runs the
//!   task and removes the object. An error fails the invocation, and
//!   Lambda retries it (see template.yaml).

use aws_lambda_events::event::s3::S3Event;
use crateyard_core::ObjectKey;
use crateyard_lambda::{git_index, init_logging, registry_from_env, s3_event_key};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRequest {
    repo: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = &registry_from_env().await?.with_index_mirror(git_index);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let payload = event.payload;
        if payload.get("Records").is_none() {
            let request: StartRequest = serde_json::from_value(payload)
                .map_err(|e| format!("expected {{\"repo\": \"NAME\"}} or {{}}: {e}"))?;
            let mut jobs = BTreeMap::new();
            for repo in registry.reindex_targets(request.repo.as_deref()).await? {
                let job = registry.start_reindex_job(None, &repo).await?;
                tracing::info!(repo, job = job.job.id, "reindex job started");
                jobs.insert(repo, job.job.id);
            }
            return Ok::<Value, lambda_http::Error>(json!({ "jobs": jobs }));
        }
        let event: S3Event = serde_json::from_value(payload)?;
        let mut done = Vec::new();
        for record in event.records {
            let Some(key) = record.s3.object.key.as_deref().map(s3_event_key) else {
                continue;
            };
            // Only the layout's task keys: any other object is not ours.
            let Some(task @ ObjectKey::Task { .. }) = ObjectKey::parse(&key) else {
                tracing::warn!(key, "not a task object; ignored");
                continue;
            };
            registry.run_task_object(&task).await?;
            done.push(key);
        }
        Ok(json!({ "tasks": done }))
    }))
    .await
}
