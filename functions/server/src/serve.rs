use crate::backend;
use crate::cli::{ServeArgs, UrlArgs};
use anyhow::Context;
use axum::ServiceExt;
use crateyard_http::{AppState, app};
use std::io::Write;

/// The repository every new registry starts with.
pub const DEFAULT_REPOSITORY: &str = crateyard_http::DEFAULT_REPOSITORY;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let bound = listener.local_addr()?;
    let own_url = format!("http://{bound}");
    let aws = args.storage.is_aws();
    let urls = UrlArgs {
        // Local mode serves everything itself; on AWS this server is the API.
        public_url: args
            .urls
            .public_url
            .or_else(|| (!aws).then(|| own_url.clone())),
        api_url: args.urls.api_url.or_else(|| aws.then(|| own_url.clone())),
    };
    if let Some(url) = &urls.public_url {
        backend::remember_public_url(&args.storage, url)?;
    }
    let backend = backend::open(&args.storage, &urls).await?;
    let registry = backend.registry.clone();
    for repo in registry.repositories().await? {
        // The public URL may have changed since the last start.
        registry.write_index_config(&repo).await?;
    }
    let main = registry.ensure_repository(DEFAULT_REPOSITORY).await?;

    let state = AppState::new(registry.clone(), backend.static_root);
    let storage = match (
        &args.storage.stack,
        &args.storage.bucket,
        &args.storage.table,
    ) {
        (Some(stack), _, _) => format!("--stack {stack}"),
        (None, Some(bucket), Some(table)) => format!("--bucket {bucket} --table {table}"),
        _ => format!("--data {}", args.storage.data.display()),
    };
    let banner = format!(
        "Crateyard is running at {own_url}/\nWeb UI: {own_url}/ui/\nSparse index: {index}\n\n\
         Add this to ~/.cargo/config.toml (\"Set Me Up\"):\n\n{snippet}\n\
         Then create a token and log in:\n  \
         crateyard token create {storage} --user $USER\n  \
         cargo login --registry {DEFAULT_REPOSITORY}\n",
        index = registry.index_url(&main),
        snippet = registry.setup_snippet(&main),
    );
    // A closed stdout (a supervisor that stopped reading) must not stop the server.
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    tracing::info!(%bound, "listening");

    // The static fast path in front of the router: see crateyard_http::app.
    axum::serve(listener, app(state).into_make_service())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish requests in flight, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
