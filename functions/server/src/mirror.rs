//! `crateyard mirror`: fills a remote repository's cache ahead of time, so a
//! build works later without the upstream (air-gapped).

use crate::backend;
use crate::cli::MirrorArgs;
use crate::error::UserError;
use anyhow::Context;
use crateyard_core::{CrateName, CrateVersion, RepoKind};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

#[derive(Deserialize)]
struct Lockfile {
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    /// Absent for path dependencies; `git+…` for git ones.
    source: Option<String>,
}

/// `NAME@VERSION` pairs from the flags and the lockfile's registry packages.
fn wanted(args: &MirrorArgs) -> anyhow::Result<Vec<(String, String)>> {
    let mut wanted = Vec::new();
    for spec in &args.crates {
        let Some((name, version)) = spec.split_once('@') else {
            return Err(UserError::new(
                format!("`{spec}` names no version"),
                "write crates as NAME@VERSION, like `serde@1.0.228`",
            )
            .into());
        };
        wanted.push((name.to_string(), version.to_string()));
    }
    if let Some(path) = &args.lockfile {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let lock: Lockfile = toml::from_str(&text)
            .with_context(|| format!("{} is not a Cargo.lock", path.display()))?;
        wanted.extend(
            lock.package
                .into_iter()
                .filter(|p| {
                    p.source
                        .as_deref()
                        .is_some_and(|s| s.starts_with("registry+") || s.starts_with("sparse+"))
                })
                .map(|p| (p.name, p.version)),
        );
    }
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return Err(UserError::new(
            "nothing to mirror",
            "give --lockfile Cargo.lock or --crates NAME@VERSION…",
        )
        .into());
    }
    Ok(wanted)
}

pub async fn run(args: MirrorArgs) -> anyhow::Result<()> {
    let wanted = wanted(&args)?;
    let registry = backend::open(&args.storage, &args.urls).await?.registry;
    let repo = registry.repository(&args.repo).await?;
    if repo.kind != RepoKind::Remote {
        return Err(UserError::new(
            format!("`{}` is not a remote repository", repo.name),
            "mirror fills a remote repository's cache: `crateyard repo list` shows their kinds",
        )
        .into());
    }
    let bar = ProgressBar::new(wanted.len() as u64).with_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {pos}/{len} crates {msg}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_prefix(repo.name.clone());
    let (mut cached, mut failed) = (0, Vec::new());
    for (name, version) in &wanted {
        bar.set_message(format!("{name} {version}"));
        let (Ok(krate), Ok(version)) = (CrateName::new(name), CrateVersion::new(version)) else {
            failed.push(format!(
                "{name} {version}: not a valid crate name and version"
            ));
            bar.inc(1);
            continue;
        };
        let index = registry.remote_index_file(&repo, &krate).await;
        let result = match index {
            Ok(Some(_)) => registry
                .remote_crate_file(&repo, &krate, &version)
                .await
                .map(|file| file.is_some()),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => cached += 1,
            Ok(false) => failed.push(format!("{name} {version}: not found upstream")),
            Err(e) => failed.push(format!("{name} {version}: {e}")),
        }
        bar.inc(1);
    }
    bar.finish_with_message("");
    eprintln!(
        "{cached} of {} crates are cached in `{}`",
        wanted.len(),
        repo.name
    );
    if !failed.is_empty() {
        // Each line says why (not found, or the upstream's answer).
        return Err(UserError::new(
            format!(
                "{} could not be mirrored:\n  {}",
                failed.len(),
                failed.join("\n  ")
            ),
            "run the same command again once the upstream answers: what is cached stays cached",
        )
        .into());
    }
    Ok(())
}
