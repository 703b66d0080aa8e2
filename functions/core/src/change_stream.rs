//! The consumer side of [`DerivedFiles::ChangeStream`]: a commit's derived
//! files (index file, crate page, a new version's page and README,
//! `recent.json`) written from the metadata store's change stream instead
//! of by the request that committed. Every write is idempotent (compare-and-swap by
//! crate revision; READMEs rendered from the committed `.crate`;
//! `recent.json` keeps a crate's latest publish), so a record delivered
//! twice, late or out of order converges on the same files.
//!
//! [`DerivedFiles::ChangeStream`]: crate::DerivedFiles::ChangeStream

use crate::pages::RecentPublish;
use crate::search_index::SearchEntry;
use crate::{CrateName, Registry, RegistryError, Repository};
use std::collections::BTreeMap;

/// A committed change to one crate, as a change stream's record names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedChange {
    pub repo: String,
    pub canonical: String,
    /// The version key of a version this change inserted (a publish).
    pub new_version: Option<String>,
}

impl Registry {
    /// Brings the derived files of every crate these changes touched up to
    /// the store's current state: one rebuild per crate, however many of
    /// its records the batch holds.
    pub async fn write_changed_crates(
        &self,
        changes: &[CommittedChange],
    ) -> Result<(), RegistryError> {
        let mut crates: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for change in changes {
            let new_versions = crates.entry((&change.repo, &change.canonical)).or_default();
            new_versions.extend(change.new_version.as_deref());
        }
        // Every crate, even after a failure (each is logged by name): the
        // batch is retried whole, and what succeeded is then found current.
        let mut first_failure = None;
        // Per repository, the crates whose index files were written: the
        // mirror (the git index) takes them in one commit.
        let mut written: BTreeMap<&str, (Repository, Vec<CrateName>)> = BTreeMap::new();
        // Per repository, the search entries to bring up to date (a crate
        // gone has none), in one write per shard.
        let mut searched: BTreeMap<&str, Vec<(String, Option<SearchEntry>)>> = BTreeMap::new();
        // Per repository, the settings the files are written with: read
        // once a batch, and followed after it, failures included (a retry
        // would take the new settings as its own).
        let mut used: BTreeMap<&str, Repository> = BTreeMap::new();
        for ((repo, canonical), new_versions) in crates {
            let repository = match used.get(repo) {
                Some(repository) => repository.clone(),
                None => match self.repository(repo).await {
                    Ok(repository) => used.entry(repo).or_insert(repository).clone(),
                    // Deleted since: nothing of it is served any more.
                    Err(RegistryError::UnknownRepository(_)) => continue,
                    Err(e) => {
                        tracing::error!(repo, canonical, error = %e, "derived files not written");
                        first_failure.get_or_insert(e);
                        continue;
                    }
                },
            };
            match self
                .write_changed_crate(&repository, canonical, &new_versions)
                .await
            {
                Ok(krate) => {
                    let (name, entry) = krate.unzip();
                    searched
                        .entry(repo)
                        .or_default()
                        .push((canonical.to_string(), entry));
                    if let Some(name) = name {
                        written
                            .entry(repo)
                            .or_insert_with(|| (repository, Vec::new()))
                            .1
                            .push(name);
                    }
                }
                Err(e) => {
                    tracing::error!(repo, canonical, error = %e, "derived files not written");
                    first_failure.get_or_insert(e);
                }
            }
        }
        if self.keeps_search_shards() {
            for (repo, entries) in searched {
                if let Err(e) = self.update_search_entries(repo, entries).await {
                    tracing::error!(repo, error = %e, "search entries not updated");
                    first_failure.get_or_insert(e);
                }
            }
        }
        for (repo, (repository, names)) in written {
            if let Err(e) = self.mirror_crates(&repository, &names).await {
                tracing::error!(repo, error = %e, "git index not updated");
                first_failure.get_or_insert(e);
            }
        }
        for (repo, repository) in used {
            if let Err(e) = self.follow_visibility_change(&repository).await {
                tracing::error!(repo, error = %e, "objects not re-tagged after a visibility change");
                first_failure.get_or_insert(e);
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    async fn write_changed_crate(
        &self,
        repository: &Repository,
        canonical: &str,
        new_versions: &[&str],
    ) -> Result<Option<(CrateName, SearchEntry)>, RegistryError> {
        // The index file, the page and any version page or README missing,
        // from a fresh read.
        let Some(krate) = self.reindex_one_crate(repository, canonical).await? else {
            return Ok(None);
        };
        for key in new_versions {
            let Some(version) = krate.versions.iter().find(|v| v.version_key == *key) else {
                continue;
            };
            let recent = RecentPublish {
                name: krate.krate.name.clone(),
                version: version.line.vers.clone(),
                description: version.package.description.clone(),
                published_at: version.line.pubtime.clone().unwrap_or_default(),
            };
            self.try_record_recent_publish(repository, recent, None)
                .await?;
        }
        let name = CrateName::new(&krate.krate.name)?;
        Ok(Some((name, SearchEntry::of(&krate.krate))))
    }
}
