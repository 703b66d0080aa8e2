//! What every Crateyard Lambda function shares: logging and the registry
//! built from the function's environment.

pub mod change_stream;
pub mod custom_resource;
pub mod edge;

use crateyard_aws::{AwsClients, DynamoStore, aws_registry};
use crateyard_core::{Registry, RegistryConfig};
use std::sync::Arc;
use tracing_subscriber::filter::LevelFilter;

/// JSON logs for CloudWatch, at the level in `RUST_LOG` (`error`, `warn`,
/// `info` or `debug`; default `info`).
pub fn init_logging() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .without_time()
        .init();
}

/// The registry on `CRATEYARD_BUCKET` and `CRATEYARD_TABLE`, published at
/// `CRATEYARD_PUBLIC_URL` (API at `CRATEYARD_API_URL`, default the same).
/// Without `CRATEYARD_PUBLIC_URL` (a stack without a custom domain), the
/// public URL is the one the stack's setup stored in the table.
pub async fn registry_from_env() -> Result<Registry, lambda_http::Error> {
    let required = |name: &str| {
        std::env::var(name).map_err(|_| format!("the {name} environment variable must be set"))
    };
    let clients = AwsClients::from_lambda_env();
    let table = required("CRATEYARD_TABLE")?;
    let store = DynamoStore::new(clients.dynamodb.clone(), &table);
    let public_url = match std::env::var("CRATEYARD_PUBLIC_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => store.public_url().await?.ok_or(
            "neither CRATEYARD_PUBLIC_URL nor the table's stored public URL is set: \
             the stack's setup (custom resource) has not run",
        )?,
    };
    let api_url = std::env::var("CRATEYARD_API_URL").ok();
    let mut config = RegistryConfig::new(&public_url, api_url.as_deref());
    config.derived_files = crateyard_aws::derived_files_from_env()?;
    config.audit_retention = crateyard_core::audit_retention_from_env()?;
    // Large uploads only where the indexer function ingests them.
    let uploads = Arc::new(store);
    Ok(
        aws_registry(clients, &required("CRATEYARD_BUCKET")?, &table, config)
            .with_uploads(uploads)
            .with_upstream(Arc::new(crateyard_http::HttpUpstream::new())),
    )
}

/// An object key as S3 event notifications carry it: URL-encoded, with a
/// space as `+`.
pub fn s3_event_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The git index, for the functions that write derived files (the indexer
/// and reindex): the API function leaves it out, and its zip stays lighter.
pub fn git_index(
    blobs: Arc<dyn crateyard_core::BlobStore>,
) -> Arc<dyn crateyard_core::IndexMirror> {
    Arc::new(crateyard_git::GitIndex::from_env(blobs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_event_keys_are_decoded() {
        assert_eq!(
            s3_event_key("main/uploads/ab.crate"),
            "main/uploads/ab.crate"
        );
        assert_eq!(
            s3_event_key("main/crates/foo/foo-1.0.0%2Bb.crate"),
            "main/crates/foo/foo-1.0.0+b.crate"
        );
        assert_eq!(s3_event_key("a+b"), "a b");
    }
}
