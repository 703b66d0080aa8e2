//! The API function: publish, yank, owners, search and direct uploads, on
//! the same axum router as local mode, over S3 and DynamoDB. Reads of index
//! and crate files never reach it (CloudFront serves them from S3).

use crateyard_aws::{AwsClients, aws_registry};
use crateyard_core::RegistryConfig;
use crateyard_http::{AppState, router};
use std::sync::Arc;

fn required(name: &str) -> Result<String, lambda_http::Error> {
    std::env::var(name).map_err(|_| format!("the {name} environment variable must be set").into())
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .without_time()
        .init();
    let config = RegistryConfig::new(
        &required("CRATEYARD_PUBLIC_URL")?,
        std::env::var("CRATEYARD_API_URL").ok().as_deref(),
    );
    let clients = AwsClients::from_env().await;
    let registry = aws_registry(
        clients,
        &required("CRATEYARD_BUCKET")?,
        &required("CRATEYARD_TABLE")?,
        config,
    );
    lambda_http::run(router(AppState::new(Arc::new(registry), None))).await
}
