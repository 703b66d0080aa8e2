use crate::cli::ServeArgs;
use crate::local;
use anyhow::Context;
use crateyard_http::{AppState, router};
use crateyard_local::DataDir;
use std::sync::Arc;

/// The repository every new registry starts with.
const DEFAULT_REPOSITORY: &str = "main";

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let bound = listener.local_addr()?;
    let public_url = args.public_url.unwrap_or_else(|| format!("http://{bound}"));
    let data = &args.data.data;
    let registry = Arc::new(local::open(data, Some(public_url.trim_end_matches('/')))?);
    for repo in registry.repositories().await? {
        // The public URL may have changed since the last start.
        registry.write_index_config(&repo).await?;
    }
    registry.ensure_repository(DEFAULT_REPOSITORY).await?;

    let state = AppState::new(registry.clone(), Some(DataDir::new(data).objects()));
    println!("Crateyard is running at {}/", registry.config().public_url);
    println!("Data directory: {}", data.display());
    println!();
    println!("Add this to ~/.cargo/config.toml (\"Set Me Up\"):");
    println!();
    print!("{}", registry.setup_snippet(DEFAULT_REPOSITORY));
    println!();
    println!("Then create a token and log in:");
    println!("  crateyard token create --data {} --user $USER", data.display());
    println!("  cargo login --registry {DEFAULT_REPOSITORY}");
    tracing::info!(%bound, "listening");

    axum::serve(listener, router(state))
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
