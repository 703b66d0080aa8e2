//! The API function: publish, yank, owners, search and direct uploads, on
//! the same axum router as local mode, over S3 and DynamoDB. Reads of index
//! and crate files never reach it (CloudFront serves them from S3).

use crateyard_http::{AppState, router};
use crateyard_lambda::{init_logging, registry_from_env};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = registry_from_env().await?;
    lambda_http::run(router(AppState::new(Arc::new(registry), None))).await
}
