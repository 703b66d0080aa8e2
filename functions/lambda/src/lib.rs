//! What every Crateyard Lambda function shares: logging and the registry
//! built from the function's environment.

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
pub async fn registry_from_env() -> Result<Registry, lambda_http::Error> {
    let required = |name: &str| {
        std::env::var(name).map_err(|_| format!("the {name} environment variable must be set"))
    };
    let api_url = std::env::var("CRATEYARD_API_URL").ok();
    let config = RegistryConfig::new(&required("CRATEYARD_PUBLIC_URL")?, api_url.as_deref());
    let clients = AwsClients::from_env().await;
    let table = required("CRATEYARD_TABLE")?;
    // Large uploads only where the indexer function ingests them.
    let uploads = Arc::new(DynamoStore::new(clients.dynamodb.clone(), &table));
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
