//! The SDK's configuration: every AWS client Crateyard makes (S3, DynamoDB,
//! CloudFront, and the credential providers behind them) starts here.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::ConfigBag;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// The SDK's HTTPS client on rustls with ring. The SDK's default
/// (`default-https-client`) is rustls on aws-lc, whose C library is over a
/// megabyte of each Lambda binary. The system's root certificates are read
/// when a client makes its first request (see [`OnFirstRequest`]).
pub fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(OnFirstRequest(
        aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https(),
    ))
}

/// The configuration from the environment (credentials, region,
/// `AWS_ENDPOINT_URL`, profile files), as `aws_config::load_from_env`.
pub async fn sdk_config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}

/// The SDK's client without its eager start: it builds a connection pool,
/// reading and parsing the system's root certificates, whenever a client
/// is constructed (`validate_base_client_config`), which is three times
/// before a Lambda function polls for its first event (STS inside
/// `aws_config`'s loader, which Lambda never calls, then S3 and DynamoDB).
/// Here the pool is made by the first request that needs it.
#[derive(Debug)]
struct OnFirstRequest(SharedHttpClient);

impl HttpClient for OnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}
