//! AWS adapters for the storage ports: S3 for blobs (conditional writes for
//! create-only and compare-and-swap puts) and DynamoDB for metadata
//! (conditional transactions), on the official AWS SDK for Rust.

mod dynamo_store;
mod s3_blob;
mod setup;

pub use dynamo_store::DynamoStore;
pub use s3_blob::S3BlobStore;
pub use setup::{AwsClients, create_bucket, create_table};
