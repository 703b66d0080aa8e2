use crate::backend;
use crate::cli::{ServeArgs, UrlArgs};
use crate::error::UserError;
use crateyard_http::{App, AppState, DownloadCounter, app};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// The repository every new registry starts with.
pub const DEFAULT_REPOSITORY: &str = crateyard_http::DEFAULT_REPOSITORY;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| bind_error(args.addr, e))?;
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
    let mut backend = backend::open_with(&args.storage, &urls, backend::Tasks::InProcess).await?;
    let registry = backend.registry.clone();
    if let Some(tasks) = backend.tasks.take() {
        tokio::spawn(crateyard_core::run_reindex_tasks(registry.clone(), tasks));
    }
    for repo in registry.repositories().await? {
        // The public URL may have changed since the last start.
        registry.write_index_config(&repo).await?;
    }
    let main = registry.ensure_repository(DEFAULT_REPOSITORY).await?;

    if let Some(objects) = &backend.static_root {
        // A server killed mid-write leaves a temporary file no one renames.
        let removed = crateyard_local::remove_abandoned_temp_files(objects);
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files of processes that ended mid-write"
            );
        }
    }
    // Local mode counts downloads as it serves them; on AWS CloudFront's
    // access logs are counted (README, "Download counts").
    let counter = backend
        .static_root
        .is_some()
        .then(|| Arc::new(DownloadCounter::default()));
    let mut state = AppState::new(registry.clone(), backend.static_root);
    if let Some(counter) = &counter {
        state = state.with_download_counter(counter.clone());
    }
    let flusher = counter.as_ref().map(|c| c.spawn_flusher(registry.clone()));
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
         Add this to ~/.cargo/config.toml (\"Set Me Up\"):\n\n{snippet}\n{git}\
         Then, in another terminal, create a token and log in:\n  \
         TOKEN=$({exe} token create {storage})\n  \
         cargo login --registry {DEFAULT_REPOSITORY} \"$TOKEN\"\n",
        // The path that works from any directory, before `crateyard` is on PATH.
        exe = std::env::current_exe()
            .map_or_else(|_| "crateyard".into(), |p| p.display().to_string()),
        index = registry.index_url(&main),
        snippet = registry.setup_snippet(&main),
        git = registry
            .git_setup_snippet(&main)
            .map(|git| {
                format!(
                    "Or, for cargo before 1.68 or git-fetch-with-cli, the git index:\n\n{git}\n"
                )
            })
            .unwrap_or_default(),
    );
    // A closed stdout (a supervisor that stopped reading) must not stop the server.
    let mut stdout = std::io::stdout();
    let _ = stdout
        .write_all(banner.as_bytes())
        .and_then(|()| stdout.flush());
    tracing::info!(%bound, "listening");

    // The static fast path in front of the router: see crateyard_http::app.
    serve_connections(listener, app(state)).await;
    if let (Some(counter), Some(flusher)) = (counter, flusher) {
        flusher.abort();
        counter.flush(&registry).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Why `serve` cannot listen, and what to do: the usual first-hour trips
/// (a server already running, a privileged port) are the user's to fix.
fn bind_error(addr: SocketAddr, error: std::io::Error) -> anyhow::Error {
    let next = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1).max(1024));
    let hint = match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "another program listens there (a `crateyard serve` started earlier?): stop it, \
             or pick a free port with `--addr {next}` (or CRATEYARD_ADDR) and use that port \
             in ~/.cargo/config.toml"
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "ports below 1024 need privileges: pick a higher one, like `--addr {}`",
            SocketAddr::new(addr.ip(), 7878)
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "no network interface has that address: use 127.0.0.1 (this machine only) or \
             0.0.0.0 (every interface), like `--addr 127.0.0.1:{}`",
            addr.port()
        ),
        _ => return anyhow::Error::new(error).context(format!("cannot listen on {addr}")),
    };
    UserError::new(format!("cannot listen on {addr}: {error}"), hint).into()
}

/// A client gets this long to send a request's headers (and, between
/// requests on a kept-alive connection, to start the next one). Bodies have
/// their own deadline where they are read (`crateyard_http`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more wait in the listen backlog. Far below
/// the file descriptors a process gets, so half-open connections cannot
/// starve the data directory of them.
const MAX_CONNECTIONS: usize = 1024;
/// How long a connection is kept: after that it closes once the request in
/// flight is answered (`Connection: close`), never in the middle of one, so a
/// client keeping one connection alive for long just opens another.
const MAX_CONNECTION_TIME: Duration = Duration::from_secs(300);
/// The longest a request in flight may still take once its connection is
/// closing: a 10 MiB crate at 100 KB/s, with room. A client that stops
/// reading a response cannot hold a slot longer.
const MAX_RESPONSE_TIME: Duration = Duration::from_secs(300);
/// How long requests in flight may finish after Ctrl-C or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Accepts HTTP/1.1 connections until Ctrl-C or SIGTERM, then lets the
/// requests in flight finish.
async fn serve_connections(listener: TcpListener, app: App) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, or a connection reset before accept.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut app = app.clone();
            async move { app.call(request.map(axum::body::Body::new)).await }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let stop = stop.clone();
        tokio::spawn(async move {
            keep(connection, stop, MAX_CONNECTION_TIME, MAX_RESPONSE_TIME).await;
            drop(slot);
        });
    }
    let _ = stopping.send(true);
    // Every connection gives its slot back once it has closed.
    let all = u32::try_from(MAX_CONNECTIONS).expect("a small constant");
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Serves one connection until the client closes it, `max_time` has passed
/// or `stop` turns true; then answers the request in flight, if any (within
/// `max_response`), and closes.
async fn keep<I, S, B>(
    connection: hyper::server::conn::http1::Connection<I, S>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    max_time: Duration,
    max_response: Duration,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    // Errors here are the client's (a reset, a timeout): nothing to report.
    tokio::select! {
        _ = connection.as_mut() => return,
        () = tokio::time::sleep(max_time) => {}
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(max_response, connection).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server of one connection whose every answer takes `work`, kept at
    /// most `max_time`; returns its address and the stop switch.
    async fn slow_server(
        work: Duration,
        max_time: Duration,
    ) -> (SocketAddr, tokio::sync::watch::Sender<bool>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stopping, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service =
                hyper::service::service_fn(move |_: hyper::Request<Incoming>| async move {
                    tokio::time::sleep(work).await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(axum::body::Body::from(
                        "ok",
                    )))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            keep(connection, stop, max_time, Duration::from_secs(5)).await;
        });
        (addr, stopping)
    }

    /// One GET on a new connection; everything the server sent until it
    /// closed the connection.
    async fn get(addr: SocketAddr) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8(answer).unwrap()
    }

    #[tokio::test]
    async fn a_connection_out_of_time_still_answers_the_request_in_flight() {
        let (addr, _stopping) =
            slow_server(Duration::from_millis(300), Duration::from_millis(50)).await;
        let answer = get(addr).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
        assert!(answer.contains("connection: close\r\n"), "{answer:?}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer:?}");
    }

    #[tokio::test]
    async fn shutting_down_answers_the_request_in_flight() {
        let (addr, stopping) =
            slow_server(Duration::from_millis(300), Duration::from_secs(60)).await;
        let client = tokio::spawn(get(addr));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stopping.send(true).unwrap();
        let answer = client.await.unwrap();
        assert!(answer.ends_with("\r\n\r\nok"), "{answer:?}");
        assert!(answer.contains("connection: close\r\n"), "{answer:?}");
    }
}
