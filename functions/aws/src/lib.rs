//! AWS adapters for the storage ports: S3 for blobs (conditional writes for
//! create-only and compare-and-swap puts) and DynamoDB for metadata
//! (conditional transactions), on the official AWS SDK for Rust.

mod config;
mod dynamo_audit;
mod dynamo_downloads;
mod dynamo_store;
mod s3_blob;
mod setup;

pub use config::{
    derived_files_from_env, https_client, sdk_config_from_env, sdk_config_from_lambda_env,
};
pub use dynamo_store::{DynamoStore, committed_change};
pub use s3_blob::{ARCHIVE_TAG_VALUE, PRIVATE_TAG, S3BlobStore, STORAGE_TAG};
pub use setup::{
    AwsClients, STACK_TAG, SetupError, TTL_ATTRIBUTE, bucket_stack, create_bucket, create_table,
    owning_stack, table_stack,
};

use crateyard_core::{Registry, RegistryConfig, TaskQueue};
use std::sync::Arc;

/// The registry on a bucket and a table: what the Lambda functions and
/// `crateyard serve --bucket --table` run.
pub fn aws_registry(
    clients: AwsClients,
    bucket: &str,
    table: &str,
    config: RegistryConfig,
) -> Registry {
    Registry::new(
        Arc::new(S3BlobStore::new(clients.s3, bucket)),
        Arc::new(DynamoStore::new(clients.dynamodb, table)),
        config,
    )
    // Reindex jobs' tasks as `.tasks/` objects: their S3 notification
    // invokes the reindex function (template.yaml).
    .with_task_queue(TaskQueue::Objects)
}
