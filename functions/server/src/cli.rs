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
    /// Run the registry (creates repository `main` on first start).
    Serve(ServeArgs),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Rebuild every index file and config.json from the metadata store.
    Reindex(ReindexArgs),
    /// Create the S3 bucket and DynamoDB table as template.yaml declares them.
    Setup(SetupArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only its hash is stored).
    Create(TokenCreateArgs),
}

/// Where the registry keeps its state: a data directory (local mode), or
/// an S3 bucket and a DynamoDB table (honouring `AWS_ENDPOINT_URL`).
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// The data directory: objects and the SQLite database.
    #[arg(long, env = "CRATEYARD_DATA", default_value = "crateyard-data")]
    pub data: PathBuf,
    /// S3 bucket for index and crate files (with --table: the AWS backend).
    #[arg(long, env = "CRATEYARD_BUCKET", requires = "table")]
    pub bucket: Option<String>,
    /// DynamoDB table for metadata (with --bucket).
    #[arg(long, env = "CRATEYARD_TABLE", requires = "bucket")]
    pub table: Option<String>,
}

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// Where clients read index and crate files (local mode default:
    /// http://ADDR; AWS: CloudFront or the bucket's endpoint).
    #[arg(long, env = "CRATEYARD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where clients reach `{repo}/api/…` (default: the public URL).
    #[arg(long, env = "CRATEYARD_API_URL")]
    pub api_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub urls: UrlArgs,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "CRATEYARD_ADDR", default_value = "127.0.0.1:7878")]
    pub addr: SocketAddr,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
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
    pub storage: StorageArgs,
    #[command(flatten)]
    pub urls: UrlArgs,
    /// Only this repository (default: all).
    #[arg(long)]
    pub repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[arg(long, env = "CRATEYARD_BUCKET")]
    pub bucket: String,
    #[arg(long, env = "CRATEYARD_TABLE")]
    pub table: String,
    /// With --public-url, also create repository `main` and its config.json.
    #[command(flatten)]
    pub urls: UrlArgs,
}
