//! Download counts, per version and per day. Downloads are static reads
//! (no code of ours runs on them on AWS), so counts arrive afterwards in
//! batches: locally from the server's read path (`crateyard_http`'s
//! counter), on AWS from CloudFront's access logs. A batch with an id is
//! added once, however often it is delivered.

use crate::access::Principal;
use crate::{CrateName, CrateRecord, ObjectKey, Registry, RegistryError, VersionRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Downloads of one version on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadCount {
    pub repo: String,
    /// The crate's canonical name.
    pub canonical: String,
    pub version: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub count: u64,
}

impl DownloadCount {
    /// One download of the `.crate` `key` names, on `day`; `None` for any
    /// other object.
    pub fn of(key: &ObjectKey, day: &str) -> Option<Self> {
        let ObjectKey::CrateFile {
            repo,
            name,
            version,
        } = key
        else {
            return None;
        };
        Some(Self {
            repo: repo.to_string(),
            canonical: name.canonical(),
            version: version.to_string(),
            day: day.into(),
            count: 1,
        })
    }
}

/// Sums counts of the same version and day.
pub fn merge_counts(counts: impl IntoIterator<Item = DownloadCount>) -> Vec<DownloadCount> {
    let mut merged: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
    for c in counts {
        *merged
            .entry((c.repo, c.canonical, c.version, c.day))
            .or_default() += c.count;
    }
    merged
        .into_iter()
        .map(|((repo, canonical, version, day), count)| DownloadCount {
            repo,
            canonical,
            version,
            day,
            count,
        })
        .collect()
}

/// What `GET /R/api/v1/crates/{name}` answers, before crates.io's shape.
#[derive(Debug, Clone)]
pub struct CrateInfo {
    pub krate: CrateRecord,
    /// Ordered by publication.
    pub versions: Vec<VersionRecord>,
    pub downloads: CrateDownloads,
}

/// "Recent" as crates.io counts it: the last 90 days.
pub const RECENT_DAYS: i64 = 90;

/// A crate's downloads, as crates.io's API names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CrateDownloads {
    pub downloads: u64,
    pub recent_downloads: u64,
    /// By version.
    pub versions: BTreeMap<String, u64>,
}

impl CrateDownloads {
    pub fn from_counts(counts: &[DownloadCount], today: OffsetDateTime) -> Self {
        let since = (today - time::Duration::days(RECENT_DAYS))
            .date()
            .to_string();
        let mut out = Self::default();
        for c in counts {
            out.downloads += c.count;
            if c.day.as_str() > since.as_str() {
                out.recent_downloads += c.count;
            }
            *out.versions.entry(c.version.clone()).or_default() += c.count;
        }
        out
    }
}

impl Registry {
    /// Adds downloads counted elsewhere; with a `batch` id, once only
    /// (returns whether this call added them).
    pub async fn record_downloads(
        &self,
        batch: Option<&str>,
        counts: &[DownloadCount],
    ) -> Result<bool, RegistryError> {
        if counts.is_empty() {
            return Ok(false);
        }
        Ok(self
            .store
            .add_downloads(batch, &merge_counts(counts.iter().cloned()))
            .await?)
    }

    /// A crate, its versions and their downloads (`GET /R/api/v1/crates/{name}`),
    /// for a caller who may read it.
    pub async fn crate_info(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        name: &str,
    ) -> Result<CrateInfo, RegistryError> {
        let owning = self.owning_repository(caller, repo, name).await?;
        let repo = owning.name.as_str();
        let canonical = CrateName::new(name)
            .map_err(|_| RegistryError::UnknownCrate(name.into()))?
            .canonical();
        let (krate, versions, counts) = tokio::join!(
            self.store.get_crate(repo, &canonical),
            self.store.list_versions(repo, &canonical),
            self.store.downloads(repo, &canonical),
        );
        let krate = krate?.ok_or_else(|| RegistryError::UnknownCrate(name.into()))?;
        Ok(CrateInfo {
            krate,
            versions: versions?,
            downloads: CrateDownloads::from_counts(&counts?, OffsetDateTime::now_utc()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(version: &str, day: &str, count: u64) -> DownloadCount {
        DownloadCount {
            repo: "main".into(),
            canonical: "foo".into(),
            version: version.into(),
            day: day.into(),
            count,
        }
    }

    #[test]
    fn counts_add_up_by_version_and_recent_days() {
        let today = OffsetDateTime::from_unix_timestamp(1_764_633_600).unwrap(); // 2025-12-02
        let counts = merge_counts([
            count("1.0.0", "2025-01-01", 5),
            count("1.0.0", "2025-12-01", 2),
            count("1.0.0", "2025-12-01", 1),
            count("1.1.0", "2025-11-30", 4),
        ]);
        assert_eq!(counts.len(), 3);
        let downloads = CrateDownloads::from_counts(&counts, today);
        assert_eq!(downloads.downloads, 12);
        assert_eq!(downloads.recent_downloads, 7);
        assert_eq!(downloads.versions["1.0.0"], 8);
        assert_eq!(downloads.versions["1.1.0"], 4);
    }

    #[test]
    fn only_crate_files_count() {
        let key = ObjectKey::crate_file("main", "Foo_Bar", "1.0.0").unwrap();
        let c = DownloadCount::of(&key, "2026-12-02").unwrap();
        assert_eq!(
            (c.canonical.as_str(), c.version.as_str()),
            ("foo_bar", "1.0.0")
        );
        let index = ObjectKey::index_file("main", "foo").unwrap();
        assert_eq!(DownloadCount::of(&index, "2026-12-02"), None);
    }
}
