//! What every Crateyard Lambda function shares: logging and the registry
//! built from the function's environment.

use crateyard_aws::{AwsClients, aws_registry};
use crateyard_core::{Registry, RegistryConfig};

/// JSON logs for CloudWatch, level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
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
    let registry = aws_registry(
        clients,
        &required("CRATEYARD_BUCKET")?,
        &required("CRATEYARD_TABLE")?,
        config,
    );
    Ok(registry.with_upstream(std::sync::Arc::new(crateyard_http::HttpUpstream::new())))
}
