//! The retention function: EventBridge Scheduler invokes it (daily, see
//! template.yaml's `RetentionFunction`) with `{}`, or an operator with
//! `{"repo": "main", "dry_run": true}`. It archives what each repository's
//! policy picks (`crateyard_core`'s `retention`) and answers the reports.
//! A run stops a minute before the invocation's deadline; the next goes on
//! where it left off, since a run only picks versions not archived yet.

use crateyard_lambda::{init_logging, registry_from_env};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    repo: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// The versions an answer lists per repository (all are in the log).
const MAX_LISTED: usize = 1000;

/// Left for answering (and for writing the last commit) at the deadline.
const MARGIN: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = &registry_from_env().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let request: RunRequest = serde_json::from_value(event.payload).map_err(|e| {
            format!("expected {{}} or {{\"repo\": \"NAME\", \"dry_run\": true}}: {e}")
        })?;
        let left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let deadline = Some(Instant::now() + left.saturating_sub(MARGIN));
        let reports = match &request.repo {
            Some(repo) => vec![
                registry
                    .run_retention(repo, request.dry_run, deadline)
                    .await?,
            ],
            None => {
                registry
                    .run_all_retention(request.dry_run, deadline)
                    .await?
            }
        };
        for report in &reports {
            tracing::info!(
                repo = report.repo,
                dry_run = report.dry_run,
                versions = report.versions.len(),
                bytes = report.bytes,
                complete = report.complete,
                errors = report.errors.len(),
                "retention run"
            );
        }
        // Within Lambda's 6 MB response: the first versions of each report.
        let reports: Vec<Value> = reports
            .iter()
            .map(|report| {
                let mut value = json!(report);
                value["versions_total"] = json!(report.versions.len());
                if let Some(listed) = value["versions"].as_array_mut() {
                    listed.truncate(MAX_LISTED);
                }
                value
            })
            .collect();
        Ok::<Value, lambda_http::Error>(json!({ "reports": reports }))
    }))
    .await
}
