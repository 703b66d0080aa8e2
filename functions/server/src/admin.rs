use crate::backend;
use crate::cli::{ReindexArgs, SetupArgs};
use indicatif::{ProgressBar, ProgressStyle};

/// Locally, rebuilds in this process with a progress bar. On AWS, starts a
/// job per repository that the reindex function's invocations fan out
/// (a large registry needs more than one process's minutes), and says how
/// to follow it.
pub async fn reindex(args: ReindexArgs) -> anyhow::Result<()> {
    let backend = backend::open(&args.storage, &args.urls).await?;
    let registry = backend.registry;
    if args.status {
        let repo = args.repo.as_deref().unwrap_or_default();
        let status = registry
            .reindex_status(None, repo, args.job.as_deref())
            .await?;
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    let repos = registry.reindex_targets(args.repo.as_deref()).await?;
    if backend.static_root.is_none() {
        for repo in repos {
            let job = registry.start_reindex_job(None, &repo).await?;
            println!("{}", job.job.id);
            eprintln!(
                "started reindex job {} of repository `{repo}`; follow it with \
                 `crateyard reindex --status --repo {repo} --job {}` (same storage flags)",
                job.job.id, job.job.id
            );
        }
        return Ok(());
    }
    for repo in repos {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} crates ({elapsed})")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(repo.clone());
        let count = registry
            .reindex(&repo, &|done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })
            .await?;
        bar.finish();
        eprintln!("reindexed {count} crates in repository `{repo}`");
    }
    Ok(())
}

#[cfg(not(feature = "aws"))]
pub async fn setup(_: SetupArgs) -> anyhow::Result<()> {
    Err(backend::without_aws().into())
}

#[cfg(feature = "aws")]
pub async fn setup(args: SetupArgs) -> anyhow::Result<()> {
    use crateyard_aws::{AwsClients, create_bucket, create_table};
    let clients = AwsClients::from_env().await;
    create_bucket(&clients.s3, &args.bucket).await?;
    create_table(&clients.dynamodb, &args.table).await?;
    eprintln!(
        "bucket `{}` and table `{}` are ready",
        args.bucket, args.table
    );
    if args.urls.public_url.is_some() {
        let storage = crate::cli::StorageArgs {
            data: Default::default(),
            bucket: Some(args.bucket),
            table: Some(args.table),
            stack: None,
        };
        let registry = backend::open(&storage, &args.urls).await?.registry;
        let repo = crateyard_http::initialise(&registry).await?;
        eprintln!(
            "repository `{}` is ready, the web UI is at {}:\n\n{}",
            repo.name,
            registry.config().ui_url(),
            registry.setup_snippet(&repo)
        );
    }
    Ok(())
}
