//! DynamoDB Streams events as Lambda delivers them, reduced to what the
//! indexer reads. The stream is `KEYS_ONLY`: each record names an item by
//! its `pk` and `sk` strings, and whether it was created. (aws_lambda_events'
//! `dynamodb` feature models every attribute type through serde_dynamo; for
//! two string keys and an event name this is all that is needed.)

use crateyard_core::CommittedChange;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
struct StreamRecord {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName")]
    event_name: String,
    dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
struct StreamChange {
    #[serde(rename = "Keys")]
    keys: Keys,
}

#[derive(Debug, Deserialize)]
struct Keys {
    pk: StringValue,
    sk: StringValue,
}

#[derive(Debug, Deserialize)]
struct StringValue {
    #[serde(rename = "S")]
    s: String,
}

/// Whether Lambda delivers this event from a DynamoDB stream (its records'
/// `eventSource`), rather than from S3.
pub fn is_stream_event(event: &Value) -> bool {
    event["Records"][0]["eventSource"] == "aws:dynamodb"
}

impl StreamEvent {
    /// The crate changes the records report, in stream order.
    pub fn committed_changes(&self) -> Vec<CommittedChange> {
        self.records
            .iter()
            .filter_map(|r| {
                let keys = &r.dynamodb.keys;
                crateyard_aws::committed_change(&keys.pk.s, &keys.sk.s, r.event_name == "INSERT")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_become_crate_changes() {
        // As AWS documents a DynamoDB event (KEYS_ONLY), one record per item.
        let record = |name: &str, pk: &str, sk: &str| {
            json!({
                "eventID": "1", "eventName": name, "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": { "pk": { "S": pk }, "sk": { "S": sk } },
                    "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "KEYS_ONLY"
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026"
            })
        };
        let event = json!({ "Records": [
            record("MODIFY", "CRATES#main", "foo"),
            record("INSERT", "VERSIONS#main#foo", "0001.0002"),
            record("INSERT", "TOKENS", "abc"),
        ]});
        assert!(is_stream_event(&event));
        let changes = serde_json::from_value::<StreamEvent>(event)
            .unwrap()
            .committed_changes();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[1].new_version.as_deref(), Some("0001.0002"));
        assert!(!is_stream_event(
            &json!({ "Records": [{ "eventSource": "aws:s3" }] })
        ));
    }
}
