//! `crateyard retention …` and `crateyard restore`: archiving older
//! versions by a repository's policy, on either backend.

use crate::access_admin::open_for_admin;
use crate::cli::{RestoreArgs, RetentionCommand, RetentionPinArgs};
use anyhow::bail;
use crateyard_core::{
    ARCHIVE_MIN_OBJECT_SIZE, Actor, RegistryError, RetentionPolicy, RetentionReport,
};

pub async fn run(command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::Set(args) => {
            let registry = open_for_admin(&args.storage).await?;
            let policy = RetentionPolicy::new(args.keep_latest, args.archive_after.as_deref())?;
            let set = registry
                .update_retention(&args.repo, &Actor::operator(), |current| {
                    let pins = current.take().map(|p| p.pins).unwrap_or_default();
                    *current = Some(RetentionPolicy {
                        pins,
                        ..policy.clone()
                    });
                    Ok(())
                })
                .await?;
            print_policy(&set.name, set.retention.as_ref());
        }
        RetentionCommand::Pin(args) => pin(args, true).await?,
        RetentionCommand::Unpin(args) => pin(args, false).await?,
        RetentionCommand::Show(args) => {
            let registry = open_for_admin(&args.storage).await?;
            for repo in registry.repositories().await? {
                if args.repo.as_ref().is_none_or(|r| *r == repo.name) {
                    print_policy(&repo.name, repo.retention.as_ref());
                }
            }
        }
        RetentionCommand::Off(args) => {
            let Some(repo) = args.repo else {
                bail!("name the repository: `crateyard retention off REPO`");
            };
            let registry = open_for_admin(&args.storage).await?;
            registry
                .update_retention(&repo, &Actor::operator(), |current| {
                    *current = None;
                    Ok(())
                })
                .await?;
            print_policy(&repo, None);
        }
        RetentionCommand::Run(args) => {
            let registry = open_for_admin(&args.storage).await?;
            let reports = match &args.repo {
                Some(repo) => vec![registry.run_retention(repo, args.dry_run, None).await?],
                None => registry.run_all_retention(args.dry_run, None).await?,
            };
            if reports.is_empty() {
                eprintln!("no repository has a retention policy: nothing to do");
            }
            for report in &reports {
                match args.json {
                    true => println!("{}", serde_json::to_string(report)?),
                    false => print_report(report),
                }
            }
            let errors: usize = reports.iter().map(|r| r.errors.len()).sum();
            if errors > 0 {
                bail!("{errors} versions could not be archived (listed above); run again to retry");
            }
        }
    }
    Ok(())
}

async fn pin(args: RetentionPinArgs, pinned: bool) -> anyhow::Result<()> {
    let registry = open_for_admin(&args.storage).await?;
    let set = registry
        .update_retention(&args.repo, &Actor::operator(), |current| {
            let Some(policy) = current else {
                return Err(RegistryError::BadRequest(format!(
                    "`{}` has no retention policy to pin versions in: set one first with `crateyard retention set {} --keep-latest N`",
                    args.repo, args.repo
                )));
            };
            args.pins.iter().try_for_each(|pin| policy.pin(pin, pinned))
        })
        .await?;
    print_policy(&set.name, set.retention.as_ref());
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let registry = open_for_admin(&args.storage).await?;
    let (name, version) = match args.target.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (args.target.as_str(), None),
    };
    let restored = registry
        .restore_versions(&args.repo, name, version, &Actor::operator())
        .await?;
    if restored.versions.is_empty() {
        eprintln!("`{}` in `{}` is not archived", args.target, args.repo);
        return Ok(());
    }
    eprintln!(
        "restored {name} {} in `{}` to standard storage",
        restored.versions.join(", "),
        args.repo
    );
    if restored.pinned {
        eprintln!(
            "pinned in the retention policy, so that it stays restored \
             (`crateyard retention unpin {} {name}@VERSION` lets the policy archive it again)",
            args.repo
        );
    }
    Ok(())
}

fn print_policy(repo: &str, policy: Option<&RetentionPolicy>) {
    match policy {
        Some(policy) => println!("{repo}: {}", policy.describe()),
        None => println!("{repo}: no retention policy"),
    }
}

/// One line per version, then the totals and what they save on AWS.
fn print_report(report: &RetentionReport) {
    let verb = match report.dry_run {
        true => "would archive",
        false => "archived",
    };
    for v in &report.versions {
        println!(
            "{}: {verb} {} {} ({} bytes, published {})",
            report.repo,
            v.name,
            v.version,
            v.size,
            v.published_at.as_deref().unwrap_or("at an unknown time")
        );
    }
    println!(
        "{}: {verb} {} versions of {} crates checked, {} bytes; on AWS {} bytes in \
         .crate files of {} KiB and up move to Glacier Instant Retrieval, saving \
         ${:.4} a month ({})",
        report.repo,
        report.versions.len(),
        report.crates,
        report.bytes,
        report.archive_bytes,
        ARCHIVE_MIN_OBJECT_SIZE / 1024,
        report.monthly_saving_usd,
        report.policy.describe(),
    );
    if !report.complete {
        println!(
            "{}: stopped at its deadline; the next run goes on",
            report.repo
        );
    }
    for e in &report.errors {
        println!("{}: error: {e}", report.repo);
    }
}
