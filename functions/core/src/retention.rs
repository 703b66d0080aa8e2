//! Retention: a local repository's older versions move to archive storage
//! (S3 Glacier Instant Retrieval through a tag and a lifecycle rule; an
//! archive directory locally). Their index lines stay, and so do their
//! downloads, at once and at the same URL: no lockfile notices. Only the
//! crate page marks them. `crateyard restore` moves them back.

use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::blob_store::StorageTier;
use crate::clock::{now_rfc3339, now_unix};
use crate::publish::lookup_crate_name;
use crate::retry::Retries;
use crate::{
    CrateName, CrateRecord, CrateVersions, CrateWrite, DerivedFiles, ObjectKey, Registry,
    RegistryError, RepoKind, Repository, StoreError, VersionRecord, VersionWrite, parse_lifetime,
};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use std::time::Instant;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// S3 Standard, per GB-month (us-east-1, first 50 TB; AWS's S3 price list,
/// December 2026).
pub const STANDARD_USD_PER_GB_MONTH: f64 = 0.023;
/// S3 Glacier Instant Retrieval, per GB-month, same list: what an archived
/// `.crate` costs once the lifecycle rule has moved it.
pub const ARCHIVE_USD_PER_GB_MONTH: f64 = 0.004;
/// The smallest `.crate` the lifecycle rule moves (template.yaml's
/// `ArchiveTaggedCrates` rule, which a test keeps equal). Glacier IR bills
/// at least 128 KiB an object and each transition costs $0.02 per 1,000:
/// a 30 KB crate would take ten years to earn its transition back, a
/// 128 KiB one nine months, a 1 MB one a month.
pub const ARCHIVE_MIN_OBJECT_SIZE: u64 = 128 * 1024;
/// How many crates a run works on at once.
const CRATES_AT_ONCE: usize = 8;
/// The most errors a report lists (the count goes on).
const MAX_REPORTED_ERRORS: usize = 20;

/// A repository's retention policy: the `keep_latest` highest versions
/// of each crate stay (yanked or not), and of the others those published
/// more than `archive_after_secs` ago (any age without it) are archived,
/// except pinned ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub keep_latest: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_after_secs: Option<u64>,
    /// `name` (every version) or `name@version`, names canonical.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<String>,
}

impl RetentionPolicy {
    /// From the command line's words: `--keep-latest 20 --archive-after 365d`.
    pub fn new(keep_latest: u32, archive_after: Option<&str>) -> Result<Self, RegistryError> {
        if keep_latest == 0 {
            return Err(RegistryError::BadRequest(
                "`--keep-latest` must be at least 1: the newest version always stays".into(),
            ));
        }
        let archive_after_secs = archive_after
            .map(|text| parse_lifetime(text).map(|d| d.as_secs()))
            .transpose()
            .map_err(RegistryError::BadRequest)?;
        Ok(Self {
            keep_latest,
            archive_after_secs,
            pins: Vec::new(),
        })
    }

    /// Adds (`true`) or removes a pin: `name` or `name@version`.
    pub fn pin(&mut self, pin: &str, pinned: bool) -> Result<(), RegistryError> {
        let pin = canonical_pin(pin)?;
        self.pins.retain(|p| *p != pin);
        if pinned {
            self.pins.push(pin);
            self.pins.sort();
        }
        Ok(())
    }

    fn is_pinned(&self, canonical: &str, version: &str) -> bool {
        self.pins.iter().any(|pin| match pin.split_once('@') {
            Some((name, v)) => name == canonical && v == version,
            None => pin == canonical,
        })
    }

    /// The versions of crate `canonical` this policy archives at `now`
    /// (Unix seconds) that are not archived yet, highest first.
    pub fn archivable<'a>(
        &self,
        canonical: &str,
        versions: &'a [VersionRecord],
        now: i64,
    ) -> Vec<&'a VersionRecord> {
        let mut by_version: Vec<(semver::Version, &VersionRecord)> = versions
            .iter()
            // A number semver cannot order is never counted out.
            .filter_map(|v| Some((semver::Version::parse(&v.line.vers).ok()?, v)))
            .collect();
        by_version.sort_by(|a, b| b.0.cmp(&a.0));
        by_version
            .into_iter()
            .skip(self.keep_latest as usize)
            .map(|(_, v)| v)
            .filter(|v| v.archived_at.is_none() && !self.is_pinned(canonical, &v.line.vers))
            .filter(|v| match self.archive_after_secs {
                None => true,
                // Of unknown age: kept.
                Some(after) => published_unix(v).is_some_and(|at| now - at >= after as i64),
            })
            .collect()
    }

    /// In words, for `retention show` and the audit log.
    pub fn describe(&self) -> String {
        let mut words = format!("keep the latest {} versions", self.keep_latest);
        if let Some(after) = self.archive_after_secs {
            words.push_str(&format!(
                ", archive the others {} after publishing",
                days(after)
            ));
        } else {
            words.push_str(", archive the others");
        }
        if !self.pins.is_empty() {
            words.push_str(&format!("; pinned: {}", self.pins.join(", ")));
        }
        words
    }
}

fn days(secs: u64) -> String {
    match secs % 86_400 {
        0 => format!("{}d", secs / 86_400),
        _ => format!("{secs}s"),
    }
}

fn canonical_pin(pin: &str) -> Result<String, RegistryError> {
    let (name, version) = match pin.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (pin, None),
    };
    let name = CrateName::new(name)?;
    match version {
        None => Ok(name.canonical()),
        Some(v) => match semver::Version::parse(v) {
            Ok(_) => Ok(format!("{}@{v}", name.canonical())),
            Err(e) => Err(RegistryError::BadRequest(format!(
                "`{v}` in pin `{pin}` is not a version ({e}): write NAME or NAME@VERSION"
            ))),
        },
    }
}

fn published_unix(v: &VersionRecord) -> Option<i64> {
    let pubtime = v.line.pubtime.as_deref()?;
    Some(
        OffsetDateTime::parse(pubtime, &Rfc3339)
            .ok()?
            .unix_timestamp(),
    )
}

/// One version a run archived (or, dry, would archive).
#[derive(Debug, Clone, Serialize)]
pub struct ArchivedVersion {
    pub name: String,
    pub version: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub versions: Vec<String>,
    /// Whether they were pinned in the repository's policy.
    pub pinned: bool,
}

/// What a retention run did to one repository, or would do (`dry_run`).
#[derive(Debug, Clone, Serialize)]
pub struct RetentionReport {
    pub repo: String,
    pub dry_run: bool,
    pub policy: RetentionPolicy,
    /// Crates looked at.
    pub crates: usize,
    pub versions: Vec<ArchivedVersion>,
    pub bytes: u64,
    /// Of `bytes`, those in `.crate` files the lifecycle rule moves
    /// ([`ARCHIVE_MIN_OBJECT_SIZE`] and up): what the saving counts.
    pub archive_bytes: u64,
    /// On AWS, per month, once moved: `archive_bytes` at Standard's price
    /// less Glacier Instant Retrieval's.
    pub monthly_saving_usd: f64,
    /// False when the run stopped at its deadline; the next one goes on
    /// (a run only ever picks versions not archived yet).
    pub complete: bool,
    pub errors: Vec<String>,
}

impl RetentionReport {
    fn new(repo: &str, dry_run: bool, policy: RetentionPolicy) -> Self {
        Self {
            repo: repo.into(),
            dry_run,
            policy,
            crates: 0,
            versions: Vec::new(),
            bytes: 0,
            archive_bytes: 0,
            monthly_saving_usd: 0.0,
            complete: true,
            errors: Vec::new(),
        }
    }

    fn add(&mut self, version: ArchivedVersion) {
        self.bytes += version.size;
        if version.size >= ARCHIVE_MIN_OBJECT_SIZE {
            self.archive_bytes += version.size;
        }
        // S3 bills a "GB" of 2^30 bytes.
        self.monthly_saving_usd = self.archive_bytes as f64 / (1u64 << 30) as f64
            * (STANDARD_USD_PER_GB_MONTH - ARCHIVE_USD_PER_GB_MONTH);
        self.versions.push(version);
    }

    fn error(&mut self, error: String) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(error);
        }
    }
}

impl Registry {
    /// Changes a local repository's policy (`None`: none) with `change`,
    /// applied to the policy as stored, so concurrent changes (another
    /// pin, a visibility change) are never lost.
    pub async fn update_retention(
        &self,
        repo: &str,
        by: &Actor,
        change: impl Fn(&mut Option<RetentionPolicy>) -> Result<(), RegistryError>,
    ) -> Result<Repository, RegistryError> {
        let (_, repository) = self
            .change_repository(repo, |repository| {
                if repository.kind != RepoKind::Local {
                    return Err(RegistryError::BadRequest(format!(
                        "`{repo}` is not a local repository: retention applies where crates are published"
                    )));
                }
                change(&mut repository.retention)
            })
            .await?;
        let detail = match &repository.retention {
            Some(policy) => format!("retention: {}", policy.describe()),
            None => "retention: none".into(),
        };
        self.audit(AuditEntry::new(by, AuditAction::RepositoryChange, detail).repo(repo))
            .await;
        Ok(repository)
    }

    /// Every repository that has a policy, run in turn until `deadline`.
    /// A repository that fails is reported, and the others still run.
    pub async fn run_all_retention(
        &self,
        dry_run: bool,
        deadline: Option<Instant>,
    ) -> Result<Vec<RetentionReport>, RegistryError> {
        let mut reports = Vec::new();
        for repository in self.store.list_repositories().await? {
            let Some(policy) = repository.retention else {
                continue;
            };
            let report = match self
                .run_retention(&repository.name, dry_run, deadline)
                .await
            {
                Ok(report) => report,
                Err(e) => {
                    let mut failed = RetentionReport::new(&repository.name, dry_run, policy);
                    failed.complete = false;
                    failed.error(e.to_string());
                    failed
                }
            };
            reports.push(report);
        }
        Ok(reports)
    }

    /// Archives what `repo`'s policy picks (or, `dry_run`, lists it),
    /// crate by crate until `deadline`. A failed version is reported and
    /// the run goes on.
    pub async fn run_retention(
        &self,
        repo: &str,
        dry_run: bool,
        deadline: Option<Instant>,
    ) -> Result<RetentionReport, RegistryError> {
        let repository = self.repository(repo).await?;
        let Some(policy) = repository.retention.clone() else {
            return Err(RegistryError::BadRequest(format!(
                "`{repo}` has no retention policy: set one with `crateyard retention set {repo} --keep-latest N`"
            )));
        };
        let mut report = RetentionReport::new(repo, dry_run, policy.clone());
        let now = now_unix();
        let crates = self.store.list_crates_with_versions(repo).await?;
        let detail = format!("archived by the retention policy: {}", policy.describe());
        let (repository, operator) = (&repository, Actor::operator());
        let mut runs = stream::iter(&crates)
            .map(|c| async {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return None;
                }
                let picked = policy.archivable(&c.krate.canonical, &c.versions, now);
                let (mut known, mut done) = (c.clone(), Vec::new());
                for version in picked {
                    let vers = &version.line.vers;
                    let moved = match dry_run {
                        true => Ok(true),
                        false => {
                            self.move_version(
                                repository, &mut known, vers, true, &operator, &detail,
                            )
                            .await
                        }
                    };
                    done.push((version, moved));
                }
                let page = match !dry_run && done.iter().any(|(_, moved)| matches!(moved, Ok(true)))
                {
                    true => self.rewrite_page(repo, &c.krate.canonical).await,
                    false => Ok(()),
                };
                Some((&c.krate, done, page))
            })
            .buffer_unordered(CRATES_AT_ONCE);
        while let Some(outcome) = runs.next().await {
            let Some((krate, done, page)) = outcome else {
                report.complete = false;
                continue;
            };
            report.crates += 1;
            if let Err(e) = page {
                report.error(format!("{}'s page: {e}", krate.name));
            }
            for (version, moved) in done {
                match moved {
                    Ok(true) => report.add(ArchivedVersion {
                        name: krate.name.clone(),
                        version: version.line.vers.clone(),
                        size: version.size,
                        published_at: version.line.pubtime.clone(),
                    }),
                    Ok(false) => {}
                    Err(e) => {
                        report.error(format!("{} {}: {e}", krate.name, version.line.vers));
                    }
                }
            }
        }
        drop(runs);
        report
            .versions
            .sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(report)
    }

    /// Brings `version` of `name` (every archived version with `None`)
    /// back to standard storage, and pins what it restores where the
    /// repository has a policy, so that the next run does not archive it
    /// again (`crateyard retention unpin` lets it).
    pub async fn restore_versions(
        &self,
        repo: &str,
        name: &str,
        version: Option<&str>,
        by: &Actor,
    ) -> Result<Restored, RegistryError> {
        let crate_name = lookup_crate_name(name)?;
        let repository = self.repository(repo).await?;
        let state = self.crate_state(repo, &crate_name).await?;
        let Some(krate) = state.krate else {
            return Err(RegistryError::UnknownCrate(name.into()));
        };
        if let Some(v) = version
            && !state.versions.iter().any(|r| r.line.vers == v)
        {
            return Err(RegistryError::UnknownVersion {
                name: krate.name,
                version: v.into(),
            });
        }
        let wanted: Vec<String> = state
            .versions
            .iter()
            .filter(|v| v.archived_at.is_some() && version.is_none_or(|want| want == v.line.vers))
            .map(|v| v.line.vers.clone())
            .collect();
        // Pinned first: a scheduled run in between must not archive them again.
        let pinned = repository.retention.is_some() && !wanted.is_empty();
        if pinned {
            self.update_retention(repo, by, |policy| match policy {
                Some(policy) => wanted
                    .iter()
                    .try_for_each(|v| policy.pin(&format!("{}@{v}", krate.name), true)),
                None => Ok(()),
            })
            .await?;
        }
        let mut known = CrateVersions {
            krate,
            versions: state.versions,
        };
        let mut versions = Vec::new();
        for vers in wanted {
            let detail = "restored to standard storage";
            if self
                .move_version(&repository, &mut known, &vers, false, by, detail)
                .await?
            {
                versions.push(vers);
            }
        }
        if !versions.is_empty() {
            self.rewrite_page(repo, &known.krate.canonical).await?;
        }
        Ok(Restored { versions, pinned })
    }

    /// Moves one version's `.crate` to archive storage (`archive`) or back,
    /// then records it over `known` (the crate and its versions as last
    /// read together, which a commit or a re-read advances, so that the
    /// next version of the same crate is decided on a consistent state).
    /// The move comes before each attempt to record it, so the state last
    /// recorded always has its move behind it, whoever else moved the file
    /// in between; both are idempotent, so a run that stopped between them
    /// is completed by the next. `false`: already so, or deleted.
    async fn move_version(
        &self,
        repository: &Repository,
        known: &mut CrateVersions,
        vers: &str,
        archive: bool,
        by: &Actor,
        detail: &str,
    ) -> Result<bool, RegistryError> {
        let repo = repository.name.as_str();
        let key = ObjectKey::crate_file(repo, &known.krate.name, vers)?;
        let tier = match archive {
            true => StorageTier::Archive,
            false => StorageTier::Standard,
        };
        let crate_name = CrateName::new(&known.krate.name)?;
        let mut private = !repository.anonymous_read;
        let mut retries = Retries::new(vers);
        loop {
            retries.next()?;
            let krate = &known.krate;
            let Some(at) = known.versions.iter().position(|v| v.line.vers == vers) else {
                // Deleted meanwhile. On S3 a restore's copy may have made a
                // new stored copy after the deletion's purge listed them:
                // purge again, so a deleted version stays gone.
                if !archive && krate.deleted.iter().any(|d| d.version == vers) {
                    self.blobs.purge(&key).await?;
                }
                return Ok(false);
            };
            if known.versions[at].archived_at.is_some() == archive {
                return Ok(false);
            }
            self.blobs.set_storage(&key, tier, private).await?;
            let now = self.repository(repo).await?;
            // The tags just written carry the visibility this run read; a
            // visibility change since then may have re-tagged the object
            // before they landed. (An existing private tag is always kept.)
            if now.anonymous_read == private {
                private = !now.anonymous_read;
                self.blobs.set_private(&key, private).await?;
            }
            // A restore pins what it restores (or the policy went) after
            // this run read the policy: leave the version where it is.
            let unwanted = now
                .retention
                .is_none_or(|p| p.is_pinned(&known.krate.canonical, vers));
            if archive && unwanted {
                self.blobs
                    .set_storage(&key, StorageTier::Standard, private)
                    .await?;
                return Ok(false);
            }
            let changed = VersionRecord {
                archived_at: archive.then(now_rfc3339),
                ..known.versions[at].clone()
            };
            let (action, what) = match archive {
                true => (AuditAction::Archive, "archived"),
                false => (AuditAction::Restore, "restored"),
            };
            let entry = AuditEntry::new(by, action, detail)
                .repo(repo)
                .krate(&krate.canonical)
                .version(vers);
            let committed = CrateRecord {
                revision: krate.revision + 1,
                updated_at: now_rfc3339(),
                ..krate.clone()
            };
            let write = CrateWrite {
                krate: committed.clone(),
                expected_revision: Some(krate.revision),
                repository_revision: None,
                version: Some(VersionWrite::Replace(changed.clone())),
                audit: Some(self.audit_entry(entry)),
            };
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    tracing::info!(repo, name = %committed.name, version = vers, "version {what}");
                    known.krate = committed;
                    known.versions[at] = changed;
                    return Ok(true);
                }
                Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => {
                    let state = self.crate_state(repo, &crate_name).await?;
                    let Some(krate) = state.krate else {
                        return Ok(false);
                    };
                    (known.krate, known.versions) = (krate, state.versions);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The crate page after archive states changed (the index file's bytes
    /// do not change). On AWS the change stream's consumer writes it.
    async fn rewrite_page(&self, repo: &str, canonical: &str) -> Result<(), RegistryError> {
        match self.config.derived_files {
            DerivedFiles::InRequest => self.rebuild_crate_files(repo, canonical).await,
            DerivedFiles::ChangeStream => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IndexLine, PackageInfo};

    fn version(vers: &str, pubtime: Option<&str>) -> VersionRecord {
        VersionRecord {
            line: IndexLine {
                name: "serde".into(),
                vers: vers.into(),
                deps: vec![],
                cksum: "00".repeat(32),
                features: Default::default(),
                features2: None,
                yanked: false,
                links: None,
                rust_version: None,
                pubtime: pubtime.map(Into::into),
                v: None,
            },
            version_key: vers.into(),
            seq: 0,
            package: PackageInfo::default(),
            size: 1,
            published_by: "alice".into(),
            has_readme: false,
            archived_at: None,
        }
    }

    fn picked(policy: &RetentionPolicy, versions: &[VersionRecord], now: i64) -> Vec<String> {
        policy
            .archivable("serde", versions, now)
            .iter()
            .map(|v| v.line.vers.clone())
            .collect()
    }

    const JAN_2025: &str = "2025-01-01T00:00:00Z";
    const JUN_2026: &str = "2026-06-01T00:00:00Z";
    // 2026-12-01T00:00:00Z
    const NOW: i64 = 1_796_083_200;

    #[test]
    fn keeps_the_highest_versions_by_semver_not_by_publish_order() {
        let versions = [
            version("1.10.0", Some(JAN_2025)),
            version("1.9.0", Some(JAN_2025)),
            version("2.0.0-rc.1", Some(JAN_2025)),
            version("1.2.0", Some(JAN_2025)),
        ];
        let policy = RetentionPolicy::new(2, None).unwrap();
        assert_eq!(picked(&policy, &versions, NOW), ["1.9.0", "1.2.0"]);
    }

    #[test]
    fn archives_only_what_is_older_than_archive_after() {
        let versions = [
            version("1.0.0", Some(JAN_2025)),
            version("1.1.0", Some(JUN_2026)),
            version("1.2.0", None),
            version("2.0.0", Some(JAN_2025)),
        ];
        let policy = RetentionPolicy::new(1, Some("365d")).unwrap();
        // 1.1.0 is six months old; 1.2.0's age is unknown.
        assert_eq!(picked(&policy, &versions, NOW), ["1.0.0"]);
    }

    #[test]
    fn pins_and_archived_versions_are_left_alone() {
        let mut archived = version("1.0.0", Some(JAN_2025));
        archived.archived_at = Some(JUN_2026.into());
        let versions = [
            archived,
            version("1.1.0", Some(JAN_2025)),
            version("1.2.0", Some(JAN_2025)),
            version("1.3.0", Some(JAN_2025)),
        ];
        let mut policy = RetentionPolicy::new(1, None).unwrap();
        policy.pin("Serde@1.1.0", true).unwrap();
        assert_eq!(policy.pins, ["serde@1.1.0"]);
        assert_eq!(picked(&policy, &versions, NOW), ["1.2.0"]);
        policy.pin("serde", true).unwrap();
        assert!(picked(&policy, &versions, NOW).is_empty());
        policy.pin("serde", false).unwrap();
        policy.pin("serde@1.1.0", false).unwrap();
        assert_eq!(picked(&policy, &versions, NOW), ["1.2.0", "1.1.0"]);
    }

    #[test]
    fn bad_policies_say_what_to_write() {
        for (keep, after, says) in [
            (0, None, "at least 1"),
            (5, Some("a year"), "is not a lifetime"),
            (5, Some("0d"), "is not a lifetime"),
        ] {
            let err = RetentionPolicy::new(keep, after).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
        }
        let mut policy = RetentionPolicy::new(1, None).unwrap();
        for pin in ["serde@one", "no spaces", "@1.0.0"] {
            assert!(policy.pin(pin, true).is_err(), "{pin}");
        }
    }

    #[test]
    fn the_saving_counts_only_crates_the_lifecycle_rule_moves() {
        let mut report = RetentionReport::new("main", true, RetentionPolicy::new(1, None).unwrap());
        for size in [30_000, 1 << 30] {
            report.add(ArchivedVersion {
                name: "serde".into(),
                version: "1.0.0".into(),
                size,
                published_at: None,
            });
        }
        assert_eq!(report.bytes, 30_000 + (1 << 30));
        assert_eq!(report.archive_bytes, 1 << 30);
        assert!((report.monthly_saving_usd - 0.019).abs() < 1e-9);
    }
}
