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

/// An archived `.crate`'s tag set holds its visibility and its storage
/// tier: changing either keeps the other (a lost private tag would put a
/// private crate on the public read path).
#[tokio::test]
async fn visibility_and_storage_tags_keep_each_other() {
    use crateyard_core::{BlobStore, ObjectKey, PutMode, PutOptions, StorageTier};
    let clients = clients();
    let bucket = unique("tags");
    create_bucket(&clients.s3, &bucket).await.unwrap();
    let store = S3BlobStore::new(clients.s3.clone(), &bucket);
    let key = ObjectKey::crate_file("main", "serde", "1.0.0").unwrap();
    let private = PutOptions {
        private: true,
        ..Default::default()
    };
    store
        .put(&key, "bytes".into(), PutMode::Create, private)
        .await
        .unwrap();
    let tags = || async {
        let mut tags: Vec<(String, String)> = clients
            .s3
            .get_object_tagging()
            .bucket(&bucket)
            .key(key.to_string())
            .send()
            .await
            .unwrap()
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        tags.sort();
        tags
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    let archive = pair(crateyard_aws::STORAGE_TAG, crateyard_aws::ARCHIVE_TAG_VALUE);
    let private_tag = pair(crateyard_aws::PRIVATE_TAG, "true");

    store
        .set_storage(&key, StorageTier::Archive, true)
        .await
        .unwrap();
    assert_eq!(tags().await, [private_tag.clone(), archive.clone()]);
    store.set_private(&key, false).await.unwrap();
    assert_eq!(tags().await, std::slice::from_ref(&archive));
    store.set_private(&key, true).await.unwrap();
    assert_eq!(tags().await, [private_tag.clone(), archive.clone()]);
    // A mover that read the repository before it became private keeps
    // the private tag it finds (fails closed).
    store
        .set_storage(&key, StorageTier::Standard, false)
        .await
        .unwrap();
    assert_eq!(tags().await, std::slice::from_ref(&private_tag));
    store
        .set_storage(&key, StorageTier::Archive, false)
        .await
        .unwrap();
    assert_eq!(tags().await, [private_tag.clone(), archive.clone()]);
    store
        .set_storage(&key, StorageTier::Standard, true)
        .await
        .unwrap();
    assert_eq!(tags().await, [private_tag]);
    let missing = ObjectKey::crate_file("main", "serde", "9.0.0").unwrap();
    let err = store
        .set_storage(&missing, StorageTier::Archive, false)
        .await;
    assert!(
        matches!(err, Err(crateyard_core::BlobError::NotFound(_))),
        "{err:?}"
    );
}
