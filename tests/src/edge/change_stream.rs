//! The table's DynamoDB stream as Lambda's event source mapping reads it:
//! records read from moto's DynamoDB Streams API (moto keeps the stream but
//! invokes nothing), filtered by the mapping's `FilterCriteria` and handed,
//! in order and in batches of its `BatchSize`, to the function the template
//! wires to the table's `StreamArn`. A batch that fails is offered again,
//! as Lambda retries it.

use super::stack::Stack;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The function a `DynamoDB` event source of the template feeds from the
/// table's stream, as the pump needs it.
#[derive(Debug, Clone)]
pub struct StreamConsumer {
    pub function: String,
    pub batch: usize,
    /// `FilterCriteria`'s patterns (Lambda's event filtering, EventBridge's
    /// syntax): a record is delivered if any matches, or if there are none.
    pub filters: Vec<Value>,
}

impl StreamConsumer {
    fn wants(&self, record: &Value) -> bool {
        self.filters.is_empty()
            || self
                .filters
                .iter()
                .any(|pattern| super::s3_events::pattern_matches(pattern, record))
    }
}

pub fn stream_consumer(stack: &Stack) -> Option<StreamConsumer> {
    let resources = stack.template["Resources"].as_object().unwrap();
    resources.iter().find_map(|(id, resource)| {
        let events = resource["Properties"]["Events"].as_object()?;
        events.values().find_map(|event| {
            let properties = &event["Properties"];
            let from_table =
                properties["Stream"]["Fn::GetAtt"] == json!(["RegistryTable", "StreamArn"]);
            (event["Type"] == "DynamoDB" && from_table).then(|| StreamConsumer {
                function: id.clone(),
                batch: properties["BatchSize"].as_u64().unwrap_or(100) as usize,
                filters: properties["FilterCriteria"]["Filters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|filter| {
                        let pattern = filter["Pattern"].as_str().expect("a Pattern is JSON text");
                        serde_json::from_str(pattern).expect("a Pattern parses")
                    })
                    .collect(),
            })
        })
    })
}

/// How far the pump has got: `settle` waits for a poll that began after
/// it was called and found the stream drained.
#[derive(Debug, Default)]
pub struct Progress {
    polls_started: AtomicU64,
    drained_at: AtomicU64,
}

impl Progress {
    /// The poll count now; drained once [`Self::drained_since`] it.
    pub fn mark(&self) -> u64 {
        self.polls_started.load(Ordering::SeqCst)
    }

    /// Whether a poll that began after `mark` found nothing left to deliver.
    pub fn drained_since(&self, mark: u64) -> bool {
        self.drained_at.load(Ordering::SeqCst) > mark
    }
}

/// A DynamoDB Streams call to moto (or one of DynamoDB's, for the table).
async fn call(
    http: &reqwest::Client,
    moto: &str,
    action: &str,
    body: Value,
) -> Result<Value, String> {
    let target = match action {
        "DescribeTable" | "UpdateTable" => format!("DynamoDB_20120810.{action}"),
        _ => format!("DynamoDBStreams_20120810.{action}"),
    };
    let answer = http
        .post(moto)
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .header("authorization", super::SIGNED.replace("/s3/", "/dynamodb/"))
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{action}: {e}"))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{action}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{action}: {e}: {text}"))
}

/// Reads the table's stream from its start and delivers every record the
/// consumer's filters let through to `deliver` (its invocation), for as
/// long as the runtime runs. Setting out, it panics on moto's errors;
/// afterwards it retries them.
pub async fn pump<F, Fut>(
    moto: String,
    table: String,
    consumer: StreamConsumer,
    progress: Arc<Progress>,
    deliver: F,
) where
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Value, String>>,
{
    let http = reqwest::Client::new();
    let setting_out = |action: &str, body: Value| {
        let (http, moto, action) = (http.clone(), moto.clone(), action.to_string());
        async move { call(&http, &moto, &action, body).await.unwrap() }
    };
    let described = setting_out("DescribeTable", json!({ "TableName": table })).await;
    let arn = described["Table"]["LatestStreamArn"]
        .as_str()
        .expect("the table has a stream (template: StreamSpecification)")
        .to_string();
    let stream = setting_out("DescribeStream", json!({ "StreamArn": arn })).await;
    // moto keeps one shard per table.
    let shard = stream["StreamDescription"]["Shards"][0]["ShardId"].clone();
    let first = json!({ "StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON" });
    let mut iterator = setting_out("GetShardIterator", first).await["ShardIterator"].clone();
    let mut failures = 0;
    loop {
        let poll = progress.polls_started.fetch_add(1, Ordering::SeqCst) + 1;
        let read = json!({ "ShardIterator": iterator, "Limit": consumer.batch });
        let answer = match call(&http, &moto, "GetRecords", read).await {
            Ok(answer) => answer,
            Err(e) => {
                eprintln!("edge: reading the change stream failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let next = answer["NextShardIterator"].clone();
        let records = answer["Records"].as_array().cloned().unwrap_or_default();
        if records.is_empty() {
            progress.drained_at.fetch_max(poll, Ordering::SeqCst);
            iterator = next;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let records: Vec<Value> = records
            .into_iter()
            .map(|mut record| {
                record["eventSourceARN"] = json!(arn);
                // Lambda's events give epoch seconds here.
                record["dynamodb"]["ApproximateCreationDateTime"] = json!(0);
                record
            })
            .filter(|record| consumer.wants(record))
            .collect();
        if records.is_empty() {
            iterator = next;
            continue;
        }
        match deliver(json!({ "Records": records })).await {
            Ok(_) => {
                failures = 0;
                iterator = next;
            }
            // The same records again, as Lambda retries a failed batch;
            // given up after the template's retries would be.
            Err(e) if failures < 5 => {
                failures += 1;
                eprintln!("edge: the change stream's batch failed ({e}); retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                eprintln!("edge: the change stream's batch failed ({e}); dropped");
                failures = 0;
                iterator = next;
            }
        }
    }
}

/// Turns on a `KEYS_ONLY` stream for a table created without one (the
/// `crateyard setup` table a benchmark's server uses), as the template's
/// table has.
pub async fn enable_stream(moto: &str, table: &str) {
    let spec = json!({ "StreamEnabled": true, "StreamViewType": "KEYS_ONLY" });
    let body = json!({ "TableName": table, "StreamSpecification": spec });
    call(&reqwest::Client::new(), moto, "UpdateTable", body)
        .await
        .unwrap();
}
