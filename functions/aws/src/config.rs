//! The SDK's configuration: every AWS client Crateyard makes (S3, DynamoDB,
//! CloudFront, and the credential providers behind them) starts here.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_runtime::env_config::EnvConfigValue;
use aws_sdk_s3::config::ConfigBag;
use aws_sdk_s3::config::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::os_shim_internal::Env;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use std::time::Duration;

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

/// The configuration of a Lambda function, from its environment alone:
/// Lambda always sets `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN` and `AWS_REGION`. Unlike [`sdk_config_from_env`]
/// (the `crateyard` command: profiles, SSO, IMDS, web identity…), it never
/// calls `aws_config`'s loader, so none of that chain, nor the STS client
/// it carries, is linked into a binary that only calls this (0.65 MB of
/// the API function's binary, 255 KB of its zip). `AWS_ENDPOINT_URL` and
/// `AWS_ENDPOINT_URL_<SERVICE>` (emulators) are honoured as the loader
/// honours them; retries and the connect timeout are the loader's defaults.
pub fn sdk_config_from_lambda_env() -> SdkConfig {
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .map(Region::new);
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .service_config(EnvOnly(Env::real()))
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(3100))
                .build(),
        )
        .build()
}

/// Per-service settings from environment variables only (no profile
/// files): `AWS_ENDPOINT_URL_S3` before `AWS_ENDPOINT_URL`, and so on.
#[derive(Debug)]
struct EnvOnly(Env);

impl LoadServiceConfig for EnvOnly {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let (value, _source) = EnvConfigValue::new()
            .env(key.env())
            .service_id(key.service_id())
            .load(&self.0, None)?;
        Some(value.into_owned())
    }
}

/// The SDK's client without its eager start: it builds a connection pool,
/// reading and parsing the system's root certificates, whenever a client
/// is constructed (`validate_base_client_config`): for S3 and DynamoDB
/// before a Lambda function polls for its first event, and for the STS
/// client inside `aws_config`'s loader (the `crateyard` command). Here the
/// pool is made by the first request that needs it.
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

/// Who writes derived files on this deployment: `CRATEYARD_DERIVED_FILES`
/// (`in-request`, the default, or `change-stream`, where the stack's
/// indexer function consumes the table's stream).
pub fn derived_files_from_env() -> Result<crateyard_core::DerivedFiles, String> {
    match std::env::var("CRATEYARD_DERIVED_FILES") {
        Ok(name) if !name.is_empty() => crateyard_core::DerivedFiles::parse(&name),
        _ => Ok(crateyard_core::DerivedFiles::InRequest),
    }
}
