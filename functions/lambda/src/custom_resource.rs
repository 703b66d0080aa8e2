//! The stack's setup, as a CloudFormation custom resource
//! (`Custom::CrateyardSetup` in `template.yaml`): on Create and Update it
//! stores the registry's public URL in the table (the other functions read
//! it there: they cannot name the distribution, which depends on them),
//! creates repository `main`, rewrites every repository's `config.json` and
//! writes the web UI's files ([`crateyard_http::initialise`]). On Delete it
//! keeps everything: the bucket and table outlive the stack.
//!
//! Whatever happens, CloudFormation gets an answer (SUCCESS, or FAILED with
//! the reason) PUT to the event's presigned `ResponseURL`, before the
//! function's own time runs out; without one the stack would wait for an hour.

use crateyard_aws::{AwsClients, DynamoStore, aws_registry};
use crateyard_core::{RegistryConfig, RegistryError, StoreError};
use lambda_http::lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The resource's id: the same on every answer, so an Update is never
/// taken for a replacement (which would make CloudFormation delete the old one).
pub const PHYSICAL_RESOURCE_ID: &str = "crateyard-setup";

/// Time kept back from the function's deadline to send the answer.
const ANSWER_MARGIN: Duration = Duration::from_secs(10);

/// CloudFormation accepts answers up to 4 096 bytes.
const MAX_REASON: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("not a CloudFormation custom resource event: {0}")]
    BadEvent(String),
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("the setup did not finish within the function's time limit")]
    TimedOut,
    #[error("could not send the answer to CloudFormation: {0}")]
    Answer(String),
}

/// A custom resource request, as CloudFormation documents it. Fields other
/// than `ResponseURL` may be missing from a broken event: it still gets an answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Request {
    request_type: String,
    #[serde(rename = "ResponseURL")]
    response_url: String,
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
    physical_resource_id: Option<String>,
    resource_properties: Value,
}

/// `ResourceProperties` (besides `ServiceToken` and `Version`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetupProperties {
    public_url: String,
    bucket: String,
    table: String,
}

/// Handles one event and answers CloudFormation; returns the answer sent.
pub async fn handle(event: LambdaEvent<Value>, clients: &AwsClients) -> Result<Value, SetupError> {
    let request: Request =
        serde_json::from_value(event.payload).map_err(|e| SetupError::BadEvent(e.to_string()))?;
    if request.response_url.is_empty() {
        // Nobody to answer: the error goes to the log.
        return Err(SetupError::BadEvent("it has no ResponseURL".into()));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms))
        .saturating_sub(ANSWER_MARGIN);
    let outcome = match tokio::time::timeout(left, apply(&request, clients)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(SetupError::TimedOut),
    };
    match &outcome {
        Ok(_) => tracing::info!(request_type = request.request_type, "setup done"),
        Err(e) => tracing::error!(request_type = request.request_type, error = %e, "setup failed"),
    }
    let answer = answer(&request, outcome);
    send(&request.response_url, &answer).await?;
    Ok(answer)
}

async fn apply(request: &Request, clients: &AwsClients) -> Result<Value, SetupError> {
    match request.request_type.as_str() {
        // The data stays: the bucket and table are retained with the stack.
        "Delete" => Ok(json!({})),
        "Create" | "Update" => {
            let properties: SetupProperties =
                serde_json::from_value(request.resource_properties.clone())
                    .map_err(|e| SetupError::BadEvent(format!("ResourceProperties: {e}")))?;
            let url = properties.public_url.trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(SetupError::BadEvent(format!(
                    "PublicUrl `{url}` is not an http(s) URL"
                )));
            }
            DynamoStore::new(clients.dynamodb.clone(), &properties.table)
                .set_public_url(url)
                .await?;
            let registry = aws_registry(
                clients.clone(),
                &properties.bucket,
                &properties.table,
                RegistryConfig::new(url, None),
            );
            let main = crateyard_http::initialise(&registry).await?;
            Ok(json!({ "PublicUrl": registry.config().public_url, "Repository": main.name }))
        }
        other => Err(SetupError::BadEvent(format!(
            "RequestType `{other}` is none of Create, Update, Delete"
        ))),
    }
}

/// The response document CloudFormation expects.
fn answer(request: &Request, outcome: Result<Value, SetupError>) -> Value {
    let log = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
    let (status, reason, data) = match outcome {
        Ok(data) => ("SUCCESS", format!("See CloudWatch log stream {log}"), data),
        Err(e) => {
            let mut reason = e.to_string();
            if reason.len() > MAX_REASON {
                let mut end = MAX_REASON;
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
                reason.push('…');
            }
            (
                "FAILED",
                format!("{reason} (CloudWatch log stream {log})"),
                json!({}),
            )
        }
    };
    json!({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": request
            .physical_resource_id
            .as_deref()
            .unwrap_or(PHYSICAL_RESOURCE_ID),
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": data,
    })
}

/// PUTs the answer to the presigned URL, with no Content-Type (the URL's
/// signature covers none), retrying twice.
async fn send(url: &str, answer: &Value) -> Result<(), SetupError> {
    let body = serde_json::to_vec(answer).map_err(|e| SetupError::Answer(e.to_string()))?;
    let client = crateyard_http::https_client()
        .map_err(|e| SetupError::Answer(e.to_string()))?
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| SetupError::Answer(e.to_string()))?;
    let mut last = String::new();
    for _ in 0..3 {
        match client.put(url).body(body.clone()).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(SetupError::Answer(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_the_physical_id_and_a_short_reason() {
        let request = Request {
            request_type: "Update".into(),
            physical_resource_id: Some("earlier".into()),
            ..Request::default()
        };
        let long = SetupError::BadEvent("x".repeat(5_000));
        let answer = answer(&request, Err(long));
        assert_eq!(answer["Status"], "FAILED");
        assert_eq!(answer["PhysicalResourceId"], "earlier");
        assert!(
            answer.to_string().len() < 4_096,
            "{}",
            answer.to_string().len()
        );
        let created = super::answer(&Request::default(), Ok(json!({})));
        assert_eq!(created["Status"], "SUCCESS");
        assert_eq!(created["PhysicalResourceId"], PHYSICAL_RESOURCE_ID);
    }
}
