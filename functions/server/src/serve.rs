use crate::cli::ServeArgs;
use crate::local;
use anyhow::Context;
use crateyard_http::{AppState, router};
use crateyard_local::DataDir;
use std::io::Write;
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
    let data_display = data.display();
    let banner = format!(
        "Crateyard is running at {url}/\nData directory: {data_display}\n\n\
         Add this to ~/.cargo/config.toml (\"Set Me Up\"):\n\n{snippet}\n\
         Then create a token and log in:\n  \
         crateyard token create --data {data_display} --user $USER\n  \
         cargo login --registry {DEFAULT_REPOSITORY}\n",
        url = registry.config().public_url,
        snippet = registry.setup_snippet(DEFAULT_REPOSITORY),
    );
    // A closed stdout (a supervisor that stopped reading) must not stop the server.
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
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
