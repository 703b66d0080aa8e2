//! The SDK's configuration: every AWS client Crateyard makes (S3, DynamoDB,
//! CloudFront, and the credential providers behind them) starts here.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The SDK's HTTPS client on rustls with ring. The SDK's default
/// (`default-https-client`) is rustls on aws-lc, whose C library is over a
/// megabyte of each Lambda binary. Its connections, and the system's root
/// certificates, are made on the first request.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The configuration from the environment (credentials, region,
/// `AWS_ENDPOINT_URL`, profile files), as `aws_config::load_from_env`.
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}
