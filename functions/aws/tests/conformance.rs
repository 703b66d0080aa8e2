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
