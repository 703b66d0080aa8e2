//! Opens the registry on the storage the flags name: a data directory, or
//! S3 and DynamoDB.

use crate::cli::{StorageArgs, UrlArgs};
use crate::error::UserError;
use anyhow::Context;
use crateyard_core::{Registry, RegistryConfig, ReindexTask, TaskQueue};
use crateyard_http::HttpUpstream;
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:7878";

pub struct Backend {
    pub registry: Arc<Registry>,
    /// Local mode serves index and crate files itself; on AWS, S3 does.
    pub static_root: Option<PathBuf>,
    /// The reindex jobs' tasks, for `serve` to run: always in local mode,
    /// and when `serve` is the API on S3 and DynamoDB. Other commands on
    /// AWS send them as objects, which the stack's reindex function runs.
    pub tasks: Option<mpsc::UnboundedReceiver<ReindexTask>>,
}

/// Where reindex jobs' tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tasks {
    /// In `serve`, whatever the storage.
    InProcess,
    /// Locally in `serve` (no other command starts jobs locally); on AWS
    /// by the stack's reindex function.
    WhereTheStorageRunsThem,
}

/// Gives `registry` a task queue in this process: its reindex jobs' tasks
/// come out of the receiver, for `serve` to run.
fn run_tasks_here(registry: Registry) -> (Registry, mpsc::UnboundedReceiver<ReindexTask>) {
    let (queue, tasks) = mpsc::unbounded_channel();
    (registry.with_task_queue(TaskQueue::InProcess(queue)), tasks)
}

/// Opens the storage. The public URL comes from the flags; local mode
/// falls back to the one `serve` last announced (see [`remember_public_url`]).
pub async fn open(storage: &StorageArgs, urls: &UrlArgs) -> anyhow::Result<Backend> {
    open_with(storage, urls, Tasks::WhereTheStorageRunsThem).await
}

/// [`open`], with reindex jobs' tasks run where `tasks` says.
pub async fn open_with(
    storage: &StorageArgs,
    urls: &UrlArgs,
    tasks: Tasks,
) -> anyhow::Result<Backend> {
    if storage.is_aws() {
        return open_aws(storage, urls, tasks).await;
    }
    let dirs = DataDir::new(&storage.data);
    std::fs::create_dir_all(dirs.root()).map_err(|e| data_dir_error(&storage.data, e))?;
    let blobs = FsBlobStore::new(dirs.clone()).context("cannot open the object directory")?;
    let store = SqliteStore::open(&dirs.database()).context("cannot open the SQLite database")?;
    let public_url = match &urls.public_url {
        Some(url) => url.clone(),
        None => std::fs::read_to_string(dirs.public_url_file())
            .unwrap_or_else(|_| DEFAULT_PUBLIC_URL.into()),
    };
    let mut config = RegistryConfig::new(public_url.trim(), urls.api_url.as_deref());
    config.audit_retention =
        crateyard_core::audit_retention_from_env().map_err(anyhow::Error::msg)?;
    let registry = Registry::new(Arc::new(blobs), Arc::new(store), config)
        .with_upstream(Arc::new(HttpUpstream::new()))
        .with_index_mirror(|blobs| git_index(blobs, matches!(tasks, Tasks::InProcess)));
    let (registry, tasks) = run_tasks_here(registry);
    Ok(Backend {
        registry: Arc::new(registry),
        static_root: Some(dirs.objects()),
        tasks: Some(tasks),
    })
}

/// S3 and DynamoDB: a stack's (looked up by name) or a bucket and table.
#[cfg(feature = "aws")]
async fn open_aws(storage: &StorageArgs, urls: &UrlArgs, tasks: Tasks) -> anyhow::Result<Backend> {
    use crateyard_aws::{AwsClients, DynamoStore, aws_registry};
    let (bucket, table) = match (&storage.stack, &storage.bucket, &storage.table) {
        (Some(stack), _, _) => {
            let found = crate::stack::storage(stack).await?;
            (found.bucket, found.table)
        }
        (None, Some(bucket), Some(table)) => (bucket.clone(), table.clone()),
        _ => {
            return Err(UserError::new(
                "--bucket and --table go together",
                "give both, or --stack NAME",
            )
            .into());
        }
    };
    let clients = AwsClients::from_env().await;
    // A stack's setup stores its public URL in the table.
    let public_url = match &urls.public_url {
        Some(url) => url.clone(),
        None => match DynamoStore::new(clients.dynamodb.clone(), &table)
            .public_url()
            .await
            .context("cannot read the public URL stored in the table")?
        {
            Some(url) => url,
            None => {
                return Err(UserError::new(
                    "--public-url is needed with --bucket (the URL clients read index and \
                     crate files from): the table holds none",
                    "give --public-url (CloudFront's or the bucket's URL), or use --stack \
                     NAME, whose setup stores it in the table",
                )
                .into());
            }
        },
    };
    let mut config = RegistryConfig::new(&public_url, urls.api_url.as_deref());
    config.derived_files = crateyard_aws::derived_files_from_env().map_err(anyhow::Error::msg)?;
    config.audit_retention =
        crateyard_core::audit_retention_from_env().map_err(anyhow::Error::msg)?;
    let registry = aws_registry(clients, &bucket, &table, config)
        .with_upstream(Arc::new(HttpUpstream::new()))
        .with_index_mirror(|blobs| git_index(blobs, false));
    let (registry, tasks) = match tasks {
        Tasks::InProcess => {
            let (registry, tasks) = run_tasks_here(registry);
            (registry, Some(tasks))
        }
        Tasks::WhereTheStorageRunsThem => (registry, None),
    };
    Ok(Backend {
        registry: Arc::new(registry),
        static_root: None,
        tasks,
    })
}

#[cfg(not(feature = "aws"))]
async fn open_aws(_: &StorageArgs, _: &UrlArgs, _: Tasks) -> anyhow::Result<Backend> {
    Err(without_aws().into())
}

/// What a build without the `aws` feature says to `--bucket`, `--stack` and
/// `setup`.
#[cfg(not(feature = "aws"))]
pub fn without_aws() -> UserError {
    UserError::new(
        "this crateyard was built without AWS support (`--no-default-features`), so it \
         cannot open S3 and DynamoDB",
        "build it with the default features: `cargo install --path functions/server` or \
         `cargo run --profile local -p crateyard_server -- ARGS`",
    )
}

/// Local mode: records the URL `serve` announces, so that admin commands run
/// beside it (`reindex`) write the same `config.json`.
pub fn remember_public_url(storage: &StorageArgs, url: &str) -> anyhow::Result<()> {
    if !storage.is_aws() {
        let dirs = DataDir::new(&storage.data);
        std::fs::create_dir_all(dirs.root()).map_err(|e| data_dir_error(&storage.data, e))?;
        std::fs::write(dirs.public_url_file(), url).context("cannot record the public URL")?;
    }
    Ok(())
}

/// A data directory that cannot be made is the user's to fix (a read-only
/// or someone else's directory).
fn data_dir_error(data: &Path, error: std::io::Error) -> anyhow::Error {
    UserError::new(
        format!("cannot create data directory {}: {error}", data.display()),
        "choose a directory you can write with `--data DIR` (or CRATEYARD_DATA), the same for \
         `serve` and the admin commands",
    )
    .into()
}

/// The git index, written beside the sparse index by whatever this process
/// writes (see `crateyard_git`). `background`: repack after answering, for
/// local `serve`, which runs on. A command ends after its change, and on S3
/// a pack must be written before the change re-tags its repository after a
/// visibility change: those repack inside the change.
fn git_index(
    blobs: Arc<dyn crateyard_core::BlobStore>,
    background: bool,
) -> Arc<dyn crateyard_core::IndexMirror> {
    let git = crateyard_git::GitIndex::from_env(blobs);
    Arc::new(match background {
        true => git.repacking_in_background(),
        false => git,
    })
}
