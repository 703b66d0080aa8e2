//! `crateyard token|user|repo …`: access control from the command line.
//! They act on the store directly, so a running server sees the change on
//! its next request.

use crate::backend;
use crate::cli::{
    AuditArgs, DeleteArgs, RepoCommand, RepoKindArg, StorageArgs, TokenCommand, UrlArgs,
    UserCommand,
};
use crate::error::UserError;
use crateyard_core::{
    AUDIT_PAGE_MAX, Actor, AuditEntry, AuditRequest, Registry, RepositoryChange, RepositorySpec,
    TokenRequest, Upstream, UserChange,
};
use std::sync::Arc;

/// Opens the registry for commands that write no index files, where the
/// public URL does not matter.
pub(crate) async fn open_for_admin(storage: &StorageArgs) -> anyhow::Result<Arc<Registry>> {
    // A command run from another directory than `serve` would quietly make
    // a second, empty registry (./crateyard-data is relative): say so.
    if !storage.is_aws() && !storage.data.exists() {
        eprintln!(
            "note: {} did not exist; a new, empty registry is made there. A running \
             `crateyard serve` must use the same directory: run this where it runs, or give \
             both the same `--data DIR`.",
            storage.data.display()
        );
    }
    let urls = UrlArgs {
        public_url: Some("http://unused.invalid".into()),
        api_url: None,
    };
    Ok(backend::open(storage, &urls).await?.registry)
}

/// The name a token without `--user` is for, when nothing names one.
pub const FALLBACK_USER: &str = "you";

/// `--user`, else the login name from the environment, else
/// [`FALLBACK_USER`] (containers and CI shells often have no `$USER`); with
/// where a default came from.
fn token_user(flag: Option<String>) -> Result<(String, Option<&'static str>), UserError> {
    match flag {
        Some(user) if user.is_empty() => Err(UserError::new(
            "`--user` is empty",
            format!(
                "`--user \"$USER\"` passes nothing when $USER is unset: give a name, like \
                 `--user alice`, or leave --user out (the name is then $USER's, or `{FALLBACK_USER}`)"
            ),
        )),
        Some(user) => Ok((user, None)),
        None => Ok(["USER", "LOGNAME"]
            .into_iter()
            .find_map(|var| {
                let value = std::env::var(var).ok().filter(|v| !v.is_empty())?;
                let from = if var == "USER" {
                    "from $USER"
                } else {
                    "from $LOGNAME"
                };
                Some((value, Some(from)))
            })
            .unwrap_or((FALLBACK_USER.to_string(), Some("the default without $USER")))),
    }
}

pub async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => {
            let (user, from) = token_user(args.user)?;
            let registry = open_for_admin(&args.storage).await?;
            let created = registry
                .create_token(TokenRequest {
                    user: user.clone(),
                    name: args.name,
                    scopes: args.scopes,
                    crates: args.crates,
                    repos: args.repos,
                    lifetime: args.expires,
                })
                .await;
            let created = match (created, from) {
                // A login name from the environment may not suit a registry:
                // say where the refused name came from.
                (Err(e), Some(from)) if e.to_string().starts_with(&format!("`{user}` ")) => {
                    return Err(UserError::new(
                        format!("no --user given, so the name came {from}: {e}"),
                        "give one with `--user NAME`",
                    )
                    .into());
                }
                (created, _) => created?,
            };
            eprintln!(
                "token {} for `{}`{} created; it is shown once, here:",
                created.record.id(),
                created.record.user,
                from.map(|f| format!(" ({f}; --user NAME picks another)"))
                    .unwrap_or_default()
            );
            // The token alone on stdout, for scripts.
            println!("{}", created.token);
        }
        TokenCommand::List(args) => {
            let registry = open_for_admin(&args.storage).await?;
            println!(
                "{:<16}  {:<16}  {:<12}  {:<24}  {:<16}  {:<16}  LIMITS",
                "ID", "USER", "NAME", "SCOPES", "EXPIRES", "LAST USED"
            );
            for t in registry.tokens(args.user.as_deref()).await? {
                let scopes = t.scopes.as_ref().map_or_else(
                    || "all".to_string(),
                    |s| s.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
                );
                let unix = |at: Option<i64>, none: &str| {
                    at.map_or_else(|| none.to_string(), |at| format!("unix {at}"))
                };
                let mut limits = Vec::new();
                if !t.crates.is_empty() {
                    limits.push(format!("crates {}", t.crates.join(" ")));
                }
                if !t.repos.is_empty() {
                    limits.push(format!("repos {}", t.repos.join(" ")));
                }
                println!(
                    "{:<16}  {:<16}  {:<12}  {:<24}  {:<16}  {:<16}  {}",
                    t.id(),
                    t.user,
                    t.name,
                    scopes,
                    unix(t.expires_at, "never"),
                    unix(t.last_used_at, "never"),
                    limits.join("; ")
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let registry = open_for_admin(&args.storage).await?;
            let revoked = registry.revoke_token(&args.id, None).await?;
            eprintln!("token {} of `{}` revoked", revoked.id(), revoked.user);
        }
    }
    Ok(())
}

pub async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Set(args) => {
            let registry = open_for_admin(&args.storage).await?;
            let user = registry
                .put_user(
                    &args.login,
                    UserChange {
                        admin: args.admin,
                        groups: args.groups,
                    },
                    &Actor::operator(),
                )
                .await?;
            eprintln!(
                "user `{}`: admin {}, groups [{}]",
                user.login,
                user.admin,
                user.groups.join(", ")
            );
        }
        UserCommand::List(args) => {
            let registry = open_for_admin(&args.storage).await?;
            println!("{:<24}  {:<5}  GROUPS", "LOGIN", "ADMIN");
            for u in registry.users().await? {
                println!("{:<24}  {:<5}  {}", u.login, u.admin, u.groups.join(","));
            }
        }
    }
    Ok(())
}

pub async fn repo(command: RepoCommand) -> anyhow::Result<()> {
    match command {
        RepoCommand::Create(args) => {
            let registry = backend::open(&args.storage, &args.urls).await?.registry;
            let spec = match args.kind {
                RepoKindArg::Local => RepositorySpec::Local,
                RepoKindArg::Remote => RepositorySpec::Remote(Upstream {
                    index_url: args.upstream.unwrap_or_default(),
                    token: args.upstream_token,
                    revalidate_secs: args.revalidate.as_secs(),
                }),
                RepoKindArg::Virtual => RepositorySpec::Virtual {
                    members: args.members,
                    default_member: args.default_member,
                },
            };
            let repo = registry
                .create_repository(&args.name, spec, !args.private, &Actor::operator())
                .await?;
            eprintln!(
                "repository `{}` is ready ({}):\n\n{}",
                repo.name,
                if repo.anonymous_read {
                    "public"
                } else {
                    "private"
                },
                registry.setup_snippet(&repo)
            );
        }
        RepoCommand::Set(args) => {
            let registry = backend::open(&args.storage, &args.urls).await?.registry;
            let change = RepositoryChange {
                anonymous_read: args.anonymous_read,
                grants: args.grants,
            };
            let repo = registry
                .update_repository(&args.name, change, &Actor::operator())
                .await?;
            eprintln!("repository `{}` updated", repo.name);
        }
        RepoCommand::List(args) => {
            let registry = open_for_admin(&args.storage).await?;
            println!("{:<20}  {:<8}  {:<8}  GRANTS", "NAME", "KIND", "READS");
            for r in registry.repositories().await? {
                let grants: Vec<String> = r
                    .grants
                    .iter()
                    .map(|g| {
                        let perms: Vec<&str> = g.permissions.iter().map(|p| p.as_str()).collect();
                        format!("{}={}", g.to, perms.join(","))
                    })
                    .collect();
                let reads = if r.anonymous_read {
                    "public"
                } else {
                    "private"
                };
                let kind = format!("{:?}", r.kind).to_lowercase();
                println!(
                    "{:<20}  {:<8}  {:<8}  {}",
                    r.name,
                    kind,
                    reads,
                    grants.join(" ")
                );
            }
        }
    }
    Ok(())
}

/// `crateyard audit`: pages through the log, newest first, up to `--limit`.
pub async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let registry = open_for_admin(&args.storage).await?;
    let mut query = AuditRequest {
        repo: args.repo,
        krate: args.krate,
        since: args.since,
        before: None,
        limit: Some(args.limit.min(AUDIT_PAGE_MAX)),
    }
    .parse()?;
    let mut left = args.limit;
    while left > 0 {
        query.limit = left.min(AUDIT_PAGE_MAX);
        let page = registry.audit_log(query.clone()).await?;
        left -= page.entries.len();
        for entry in &page.entries {
            match args.json {
                true => println!("{}", serde_json::to_string(entry)?),
                false => println!("{}", audit_line(entry)),
            }
        }
        match page.next {
            Some(next) => query.before = Some(next),
            None => break,
        }
    }
    Ok(())
}

/// `2026-12-02T16:01:02.345Z  alice (token 1a2b…)  yank  main/foo 1.0.0  yanked 1.0.0`
fn audit_line(entry: &AuditEntry) -> String {
    let token = entry
        .token_id
        .as_ref()
        .map(|id| format!(" (token {id})"))
        .unwrap_or_default();
    let action = serde_json::to_value(entry.action)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let mut target = entry.repo.clone().unwrap_or_default();
    if let Some(krate) = &entry.krate {
        target = format!("{target}/{krate}");
    }
    if let Some(version) = &entry.version {
        target = format!("{target} {version}");
    }
    // Reasons and token names are anyone's text: no line breaks or
    // terminal escapes of theirs reach an admin's terminal.
    let detail: String = entry
        .detail
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    format!(
        "{}  {}{token}  {action}  {}  {detail}",
        entry.at,
        entry.actor,
        if target.is_empty() { "-" } else { &target },
    )
}

/// `crateyard delete NAME[@VERSION] --repo R --reason "…"`.
pub async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let registry = open_for_admin(&args.storage).await?;
    let (name, version) = match args.target.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (args.target.as_str(), None),
    };
    let deleted = registry
        .delete_versions(&args.repo, None, name, version, &args.reason)
        .await?;
    match deleted.is_empty() {
        true => eprintln!(
            "nothing left to delete of `{}` in `{}`: its files were removed again",
            args.target, args.repo
        ),
        false => eprintln!(
            "deleted {name} {} from `{}`; the numbers stay reserved",
            deleted.join(", "),
            args.repo
        ),
    }
    Ok(())
}
