//! What a new registry needs before its first `cargo publish`, shared by
//! `crateyard setup` and the stack's setup function (a CloudFormation
//! custom resource): the default repository, each repository's
//! `config.json` at the current URLs, and the web UI's files.

use crate::ui_files;
use crateyard_core::{Registry, RegistryError, Repository};

/// The repository every registry starts with.
pub const DEFAULT_REPOSITORY: &str = "main";

/// Creates [`DEFAULT_REPOSITORY`] unless it exists, rewrites every
/// repository's `config.json` (the public or API URL may have changed) and
/// writes the web UI's shell and assets. Idempotent; deletes nothing.
pub async fn initialise(registry: &Registry) -> Result<Repository, RegistryError> {
    let main = registry.ensure_repository(DEFAULT_REPOSITORY).await?;
    for repo in registry.repositories().await? {
        registry.write_index_config(&repo).await?;
        registry.ensure_search_shards(&repo.name).await?;
    }
    // The web UI's shell and assets; its pages follow from publishes.
    for (file, body) in ui_files(registry.config()) {
        registry.write_ui_file(file, body).await?;
    }
    Ok(main)
}
