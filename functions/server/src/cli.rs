use clap::{Args, Parser, Subcommand};
use crateyard_core::{Grant, Permission, parse_grant, parse_lifetime};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Manage users, their groups and admin rights.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage repositories: visibility and permissions.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// Fill a remote repository's cache ahead of time (for air-gapped builds).
    Mirror(MirrorArgs),
    /// Rebuild every index file and config.json from the metadata store.
    Reindex(ReindexArgs),
    /// Show the audit log: every change and refused attempt, newest first.
    Audit(AuditArgs),
    /// Delete a version (NAME@VERSION) or every version of a crate (NAME),
    /// for a leaked secret or a legal request; the numbers stay reserved.
    Delete(DeleteArgs),
    /// Archive older versions to cheaper storage by a repository's policy;
    /// they stay downloadable.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Bring archived versions (NAME@VERSION, or every one of NAME) back to
    /// standard storage.
    Restore(RestoreArgs),
    /// Create the S3 bucket and DynamoDB table as template.yaml declares them.
    Setup(SetupArgs),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (only its hash is stored).
    Create(TokenCreateArgs),
    /// List tokens (never the tokens themselves: they are not kept).
    List(TokenListArgs),
    /// Revoke a token by the id `token list` shows.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user or change one.
    Set(UserSetArgs),
    /// List users.
    List(StorageOnly),
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a local repository.
    Create(RepoCreateArgs),
    /// Change a repository's visibility or permissions.
    Set(RepoSetArgs),
    /// List repositories with their settings.
    List(StorageOnly),
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Set a repository's policy (pins stay as they are).
    Set(RetentionSetArgs),
    /// Pin versions that must never be archived: NAME (every version) or
    /// NAME@VERSION.
    Pin(RetentionPinArgs),
    /// Unpin them.
    Unpin(RetentionPinArgs),
    /// Show the policies.
    Show(RetentionShowArgs),
    /// Remove a repository's policy (archived versions stay archived).
    Off(RetentionShowArgs),
    /// Archive what the policies pick now, or list it (`--dry-run`).
    Run(RetentionRunArgs),
}

#[derive(Debug, Args)]
pub struct RetentionSetArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    pub repo: String,
    /// Each crate's highest versions that stay (yanked ones count).
    #[arg(long)]
    pub keep_latest: u32,
    /// Archive only versions published longer ago than this (`365d`).
    #[arg(long)]
    pub archive_after: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetentionPinArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    pub repo: String,
    /// NAME or NAME@VERSION.
    #[arg(required = true)]
    pub pins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RetentionShowArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// One repository (default for `show`: all).
    pub repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct RetentionRunArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// One repository (default: every repository with a policy).
    pub repo: Option<String>,
    /// List what would be archived, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// `NAME@VERSION`, or `NAME` for every archived version.
    pub target: String,
    #[arg(long, default_value = "main")]
    pub repo: String,
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
    /// A deployed stack (template.yaml): its BucketName and TableName outputs,
    /// looked up with CloudFormation's DescribeStacks, instead of --bucket/--table.
    #[arg(long, env = "CRATEYARD_STACK", conflicts_with_all = ["bucket", "table"])]
    pub stack: Option<String>,
}

impl StorageArgs {
    /// S3 and DynamoDB rather than a data directory.
    pub fn is_aws(&self) -> bool {
        self.bucket.is_some() || self.stack.is_some()
    }
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
    /// The user the token acts as; created if new (default: $USER, else
    /// `you`).
    #[arg(long, env = "CRATEYARD_USER")]
    pub user: Option<String>,
    /// A label to recognise the token by.
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// What the token may do, comma-separated: read, publish-new,
    /// publish-update, yank, change-owners, admin (default: all its user may).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(Permission))]
    pub scopes: Option<Vec<Permission>>,
    /// Limit the token to crates matching these globs, like `serde-*`.
    #[arg(long = "crates", num_args = 1..)]
    pub crates: Vec<String>,
    /// Limit the token to these repositories.
    #[arg(long = "repo", num_args = 1..)]
    pub repos: Vec<String>,
    /// Lifetime, like `30d`, `12h` or `15m` (default: no expiry).
    #[arg(long, value_parser = parse_lifetime)]
    pub expires: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Only this user's tokens.
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The token's id, from `crateyard token list`.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct StorageOnly {
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct UserSetArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    pub login: String,
    /// Make the user a registry admin (true) or not (false).
    #[arg(long)]
    pub admin: Option<bool>,
    /// The user's groups, comma-separated (replaces the current ones).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub groups: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct RepoCreateArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub urls: UrlArgs,
    pub name: String,
    /// Refuse anonymous downloads and search: every read needs a token.
    #[arg(long)]
    pub private: bool,
    #[arg(long, value_enum, default_value = "local")]
    pub kind: RepoKindArg,
    /// Remote: the upstream's sparse index URL, e.g. https://index.crates.io/
    #[arg(long, required_if_eq("kind", "remote"))]
    pub upstream: Option<String>,
    /// Remote: a token for a private upstream (sent raw in `Authorization`).
    #[arg(long, env = "CRATEYARD_UPSTREAM_TOKEN", hide_env_values = true)]
    pub upstream_token: Option<String>,
    /// Remote: how long a cached index file is served before revalidation.
    #[arg(long, default_value = "10m", value_parser = parse_lifetime)]
    pub revalidate: Duration,
    /// Virtual: member repositories, in order (first match wins).
    #[arg(long, value_delimiter = ',', required_if_eq("kind", "virtual"))]
    pub members: Vec<String>,
    /// Virtual: the local member publishes go to (default: the first local member).
    #[arg(long)]
    pub default_member: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RepoKindArg {
    Local,
    Remote,
    Virtual,
}

#[derive(Debug, Args)]
pub struct MirrorArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub urls: UrlArgs,
    /// The remote repository to fill.
    #[arg(long)]
    pub repo: String,
    /// Every crates.io package of this Cargo.lock.
    #[arg(long)]
    pub lockfile: Option<std::path::PathBuf>,
    /// Crates as NAME@VERSION.
    #[arg(long, num_args = 1..)]
    pub crates: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RepoSetArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub urls: UrlArgs,
    pub name: String,
    /// Artifactory's "allow anonymous download and search".
    #[arg(long)]
    pub anonymous_read: Option<bool>,
    /// Give SUBJECT exactly these permissions, e.g. `group:devs=read,publish-new`,
    /// `user:ann=admin` or `authenticated=read`; `SUBJECT=none` removes its grant.
    #[arg(long = "grant", value_parser = parse_grant, num_args = 1..)]
    pub grants: Vec<Grant>,
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
    /// Show a reindex job's progress instead (`--job ID`, or the
    /// repository's latest job), as JSON.
    #[arg(long, requires = "repo")]
    pub status: bool,
    /// The job `--status` shows.
    #[arg(long, requires = "status")]
    pub job: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// `NAME@VERSION`, or `NAME` for every version.
    pub target: String,
    #[arg(long, default_value = "main")]
    pub repo: String,
    /// Why: kept in the audit log and the crate's record.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Only entries about this repository.
    #[arg(long)]
    pub repo: Option<String>,
    /// Only entries about this crate.
    #[arg(long = "crate")]
    pub krate: Option<String>,
    /// How far back: `12h`, `7d` (default: everything kept).
    #[arg(long)]
    pub since: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
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
