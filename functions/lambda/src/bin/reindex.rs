//! Reindex, invoked on demand (`aws lambda invoke … --payload '{"repo":"main"}'`):
//! rebuilds `config.json` and every index file of one repository, or of all
//! when `repo` is absent, from DynamoDB.

use crateyard_lambda::{init_logging, registry_from_env};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct ReindexRequest {
    repo: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReindexResponse {
    /// Crates reindexed, by repository.
    reindexed: BTreeMap<String, usize>,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let registry = &registry_from_env().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ReindexRequest>| async move {
            let repos = registry
                .reindex_targets(event.payload.repo.as_deref())
                .await?;
            let mut reindexed = BTreeMap::new();
            for repo in repos {
                let count = registry.reindex(&repo, &|_, _| {}).await?;
                tracing::info!(repo, count, "reindexed");
                reindexed.insert(repo, count);
            }
            Ok::<_, lambda_http::Error>(ReindexResponse { reindexed })
        },
    ))
    .await
}
