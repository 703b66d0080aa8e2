use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Crateyard: a private Cargo registry.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry on a data directory (creates repository `main` on first start).
    Serve(ServeArgs),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Rebuild every index file and config.json from the metadata store.
    Reindex(ReindexArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only its hash is stored).
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct DataArgs {
    /// The data directory: objects and the SQLite database.
    #[arg(long, env = "CRATEYARD_DATA", default_value = "crateyard-data")]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "CRATEYARD_ADDR", default_value = "127.0.0.1:7878")]
    pub addr: SocketAddr,
    /// The URL clients use to reach this server (default: http://ADDR).
    #[arg(long, env = "CRATEYARD_PUBLIC_URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The user the token acts as; created if new.
    #[arg(long)]
    pub user: String,
    /// A label to recognise the token by.
    #[arg(long, default_value = "cli")]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Only this repository (default: all).
    #[arg(long)]
    pub repo: Option<String>,
}
