//! The shared port conformance suite against S3 and DynamoDB, served by
//! moto_server on 127.0.0.1 (`tests/run.sh` starts it and sets
//! `CRATEYARD_TEST_MOTO`). Without an emulator these tests fail, never skip.

use crateyard_aws::{AwsClients, DynamoStore, S3BlobStore, create_bucket, create_table};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

fn clients() -> AwsClients {
    let endpoint = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)");
    AwsClients::for_emulator(&endpoint)
}

/// A name no other test in any process uses.
fn unique(kind: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "cy-{kind}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn s3_store(_: &Path) -> S3BlobStore {
    let clients = clients();
    let bucket = unique("bucket");
    create_bucket(&clients.s3, &bucket).await.unwrap();
    S3BlobStore::new(clients.s3, bucket)
}

async fn dynamo_store(_: &Path) -> DynamoStore {
    let clients = clients();
    let table = unique("table");
    create_table(&clients.dynamodb, &table).await.unwrap();
    DynamoStore::new(clients.dynamodb, table)
}

mod blob {
    use super::*;
    crateyard_conformance::blob_suite!(s3_store);
}

mod metadata {
    use super::*;
    crateyard_conformance::metadata_suite!(dynamo_store);
}

/// `setup` mirrors template.yaml: TTL on `expires_at`, stale uploads expire;
/// running it again changes nothing.
#[tokio::test]
async fn setup_enables_ttl_and_expires_stale_uploads() {
    let clients = clients();
    let name = unique("setup");
    for _ in 0..2 {
        create_table(&clients.dynamodb, &name).await.unwrap();
        create_bucket(&clients.s3, &name).await.unwrap();
    }
    let ttl = clients
        .dynamodb
        .describe_time_to_live()
        .table_name(&name)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(crateyard_aws::TTL_ATTRIBUTE));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    let lifecycle = clients
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let rule = &lifecycle.rules()[0];
    assert_eq!(
        rule.filter().and_then(|f| f.prefix()),
        Some(crateyard_core::KeyPrefix::Uploads.to_string().as_str())
    );
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(1));
}
