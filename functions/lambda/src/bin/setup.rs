//! The setup function: the stack's CloudFormation custom resource, which
//! initialises the registry on Create and Update (see
//! `crateyard_lambda::custom_resource`).

use crateyard_aws::AwsClients;
use crateyard_lambda::custom_resource;
use crateyard_lambda::init_logging;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let clients = &AwsClients::from_lambda_env();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_http::Error>(custom_resource::handle(event, clients).await?)
    }))
    .await
}
