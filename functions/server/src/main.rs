//! `crateyard`: the local-mode server and the admin commands.

mod admin;
mod backend;
mod cli;
mod serve;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    // On one core (a small VM, or a pinned process) the single-threaded
    // scheduler does the same work without cross-thread hand-offs.
    let mut runtime = if std::thread::available_parallelism().map_or(1, |n| n.get()) == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    runtime.enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Token {
            command: cli::TokenCommand::Create(args),
        } => admin::create_token(args).await,
        cli::Command::Reindex(args) => admin::reindex(args).await,
        cli::Command::Setup(args) => admin::setup(args).await,
    }
}
