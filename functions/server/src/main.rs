//! `crateyard`: the local-mode server and the admin commands.

mod access_admin;
mod admin;
mod backend;
mod cli;
mod error;
mod logging;
mod mirror;
mod retention;
mod serve;
#[cfg(feature = "aws")]
mod stack;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc: a reindex's many small allocations over several threads cost
/// glibc's arenas a `mprotect` per growth and more CPU (README,
/// Performance, Reindex).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // On one core (a small VM, or a pinned process) the single-threaded
    // scheduler does the same work without cross-thread hand-offs.
    let mut runtime = if std::thread::available_parallelism().map_or(1, |n| n.get()) == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let result = match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not anyhow's `Termination`: it prints a backtrace for user
            // mistakes too when RUST_BACKTRACE is set (see error.rs).
            eprint!("{}", error::render(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    logging::init();
    match cli::Cli::parse().command {
        cli::Command::Serve(args) => serve::run(args).await,
        cli::Command::Token { command } => access_admin::token(command).await,
        cli::Command::User { command } => access_admin::user(command).await,
        cli::Command::Repo { command } => access_admin::repo(command).await,
        cli::Command::Reindex(args) => admin::reindex(args).await,
        cli::Command::Audit(args) => access_admin::audit(args).await,
        cli::Command::Delete(args) => access_admin::delete(args).await,
        cli::Command::Retention { command } => retention::run(command).await,
        cli::Command::Restore(args) => retention::restore(args).await,
        cli::Command::Mirror(args) => mirror::run(args).await,
        cli::Command::Setup(args) => admin::setup(args).await,
    }
}
