//! The API function: publish, yank, owners, search and direct uploads, on
//! the same axum router as local mode, over S3 and DynamoDB. Reads of index
//! and crate files never reach it (CloudFront serves them from S3). It
//! answers only requests that came through CloudFront, with bodies Lambda
//! can carry (see `crateyard_lambda::edge`).

use crateyard_http::{AppState, router};
use crateyard_lambda::edge::{MAX_INVOKE_BODY, behind_cloudfront_from_env};
use crateyard_lambda::{init_logging, registry_from_env};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = registry_from_env().await?;
    // The web UI learns the ceiling (`/api/v1/me`) and sends larger files
    // through a presigned URL.
    let state = AppState::new(Arc::new(registry), None).with_max_request_body(MAX_INVOKE_BODY);
    let app = router(state);
    lambda_http::run(behind_cloudfront_from_env(app)).await
}
