//! What the web UI reads: derived documents written beside the index, so that
//! browsing a public repository is static (S3 and CloudFront on AWS, the data
//! directory locally), and a private one goes through the same read checks
//! as its index.
//!
//! - `{repo}/ui/crates/{canonical}.json`: a crate's page, its owners and
//!   each version in short (number, yanked, published, archived); rewritten
//!   with its index file. Its size grows by about 110 bytes a version, not
//!   by a version's whole metadata.
//! - `{repo}/ui/versions/{canonical}/{version}.json`: one version's details
//!   (dependencies, features, package metadata); written once, since
//!   nothing in it changes (the state that does, yanked and archived, is on
//!   the crate's page): whoever writes a crate's page first creates the
//!   version pages it lacks ([`Registry::complete_version_pages`]).
//! - `{repo}/ui/readmes/{canonical}/{version}.html`: a version's README,
//!   rendered and sanitised once, at publish (again by reindex if lost).
//! - `{repo}/ui/recent.json`: the latest publishes.
//! - `ui/repositories.json`: the public repositories, for the home page.

use crate::access::{Permission, decide};
use crate::{
    CrateRecord, KeyPrefix, ObjectKey, ObjectMeta, PackageInfo, Principal, PutMode, Registry,
    RegistryError, RepoKind, RepoName, Repository, Section, UiFile, VersionRecord,
};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// How many publishes `recent.json` keeps.
const RECENT_PUBLISHES: usize = 20;

/// Version pages of one crate written at once.
const VERSION_PAGE_WRITES: usize = 16;

#[derive(Debug, Serialize)]
pub struct CratePage<'a> {
    pub name: &'a str,
    pub repository: &'a str,
    pub owners: &'a [String],
    pub max_version: &'a str,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    /// Newest first, by version.
    pub versions: Vec<VersionSummary<'a>>,
}

/// A version as the crate's page lists it: what may change after its
/// publish, and where the rest is.
#[derive(Debug, Serialize)]
pub struct VersionSummary<'a> {
    pub vers: &'a str,
    pub yanked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pubtime: Option<&'a str>,
    /// When its `.crate` was archived (see `retention.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<&'a str>,
    /// Its [`VersionPage`], relative to the repository's UI data.
    pub details: String,
}

/// One version's details: what its publish fixed for good.
#[derive(Debug, Serialize)]
pub struct VersionPage<'a> {
    /// The index line as published, without `yanked` (on the crate's page).
    pub line: serde_json::Value,
    pub package: &'a PackageInfo,
    pub size: u64,
    pub published_by: &'a str,
    /// The rendered README, relative to the repository's UI data.
    pub readme: Option<String>,
}

/// The JSON of a crate's page.
pub(crate) fn crate_page(
    repo: &str,
    krate: &CrateRecord,
    versions: &[VersionRecord],
) -> Result<Vec<u8>, RegistryError> {
    let mut ordered: Vec<&VersionRecord> = versions.iter().collect();
    ordered.sort_by_cached_key(|v| std::cmp::Reverse(semver::Version::parse(&v.line.vers).ok()));
    let ui_data = KeyPrefix::Ui(RepoName::new(repo)?);
    let versions = ordered
        .into_iter()
        .map(|v| {
            let details = ObjectKey::version_page(repo, &krate.canonical, &v.line.vers)?
                .below(&ui_data)
                .expect("a version page is below its repository's UI data");
            Ok(VersionSummary {
                vers: &v.line.vers,
                yanked: v.line.yanked,
                pubtime: v.line.pubtime.as_deref(),
                archived_at: v.archived_at.as_deref(),
                details,
            })
        })
        .collect::<Result<_, RegistryError>>()?;
    let page = CratePage {
        name: &krate.name,
        repository: repo,
        owners: &krate.owners,
        max_version: &krate.max_version,
        created_at: &krate.created_at,
        updated_at: &krate.updated_at,
        versions,
    };
    Ok(serde_json::to_vec(&page).expect("pages serialize"))
}

/// A version's page: its key and JSON.
pub(crate) fn version_page(
    repo: &str,
    canonical: &str,
    version: &VersionRecord,
) -> Result<(ObjectKey, Vec<u8>), RegistryError> {
    let vers = &version.line.vers;
    let key = ObjectKey::version_page(repo, canonical, vers)?;
    let readme = match version.has_readme {
        true => {
            ObjectKey::readme(repo, canonical, vers)?.below(&KeyPrefix::Ui(RepoName::new(repo)?))
        }
        false => None,
    };
    let mut line = serde_json::to_value(&version.line).expect("index lines serialize");
    if let Some(fields) = line.as_object_mut() {
        fields.remove("yanked");
    }
    let page = VersionPage {
        line,
        package: &version.package,
        size: version.size,
        published_by: &version.published_by,
        readme,
    };
    Ok((key, serde_json::to_vec(&page).expect("pages serialize")))
}

/// One line of `recent.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentPublish {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub published_at: String,
}

impl RecentPublish {
    /// Whether this publish came after `other`: by time (to the second),
    /// then by version.
    fn published_after(&self, other: &Self) -> bool {
        fn order(p: &RecentPublish) -> (&str, Option<semver::Version>) {
            (&p.published_at, semver::Version::parse(&p.version).ok())
        }
        order(self) > order(other)
    }
}

/// A repository as the UI lists it, with where its data and index are.
#[derive(Debug, Clone, Serialize)]
pub struct RepositorySummary {
    pub name: String,
    pub kind: RepoKind,
    pub private: bool,
    /// `sparse+…/index/`, for `~/.cargo/config.toml`.
    pub index: String,
    /// Where its `ui/…` documents are read, with a trailing slash.
    pub data: String,
    /// Where its API is (uploads, yank, search).
    pub api: String,
    /// Its "Set Me Up" snippet for `~/.cargo/config.toml`.
    pub cargo_config: String,
    /// The same for its git index, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_cargo_config: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

impl Registry {
    /// A repository as `caller` may see it: a virtual repository lists only
    /// the members `caller` may read.
    pub fn repository_summary(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        all: &[Repository],
    ) -> RepositorySummary {
        let members = repo
            .members
            .iter()
            .filter(|m| {
                all.iter()
                    .find(|r| &r.name == *m)
                    .is_some_and(|member| self.may_read(caller, member))
            })
            .cloned()
            .collect();
        RepositorySummary {
            name: repo.name.clone(),
            kind: repo.kind,
            private: !repo.anonymous_read,
            index: self.index_url(repo),
            data: format!("{}/{}/", self.read_base(repo), Section::Ui.as_str()),
            api: format!("{}/{}", self.config.api_url, repo.name),
            cargo_config: self.setup_snippet(repo),
            git_cargo_config: self.git_setup_snippet(repo),
            members,
        }
    }

    /// Whether `caller` may read anything in `repo` (unlogged: this builds
    /// listings, it grants nothing).
    pub(crate) fn may_read(&self, caller: Option<&Principal>, repo: &Repository) -> bool {
        decide(caller, repo, Permission::Read, None).is_ok()
    }

    /// The repositories `caller` may read, public ones included.
    pub async fn readable_repositories(
        &self,
        caller: Option<&Principal>,
    ) -> Result<Vec<RepositorySummary>, RegistryError> {
        let all = self.repositories().await?;
        Ok(all
            .iter()
            .filter(|repo| self.may_read(caller, repo))
            .map(|repo| self.repository_summary(caller, repo, &all))
            .collect())
    }

    /// Rewrites `ui/repositories.json` from the store: what an anonymous
    /// caller may read (public repositories), since anyone may read the
    /// file. Called after any repository change.
    pub async fn write_repository_list(&self) -> Result<(), RegistryError> {
        let public = self.readable_repositories(None).await?;
        let body = serde_json::to_vec(&serde_json::json!({ "repositories": public }))
            .expect("summaries serialize");
        let key = ObjectKey::Repositories;
        self.blobs
            .put(
                &key,
                body.into(),
                PutMode::Overwrite,
                key.put_options(false),
            )
            .await?;
        Ok(())
    }

    /// Writes one of the web UI's own files (its shell, script and
    /// stylesheet) where the public read path serves them, for AWS.
    pub async fn write_ui_file(&self, file: UiFile, body: String) -> Result<(), RegistryError> {
        let key = ObjectKey::Ui(file);
        self.blobs
            .put(
                &key,
                body.into(),
                PutMode::Overwrite,
                key.put_options(false),
            )
            .await?;
        Ok(())
    }

    /// Renders and keeps a version's README (at `readme_path` in a crate
    /// whose manifest names `repository_url`). Losing it loses no crate, so
    /// a failure is logged, not returned: the page then says the README
    /// could not be loaded.
    pub(crate) async fn store_readme(
        &self,
        repo: &Repository,
        canonical: &str,
        version: &str,
        readme_path: Option<&str>,
        repository_url: Option<&str>,
        markdown: &str,
    ) {
        let html = crateyard_readme::render_readme(markdown, readme_path, repository_url);
        if let Err(e) = self.put_readme(repo, canonical, version, html).await {
            tracing::error!(repo = %repo.name, canonical, version, error = %e, "could not store the README");
        }
    }

    /// Writes a committed version's page and returns its key, or `None` when
    /// it was there: its content never changes, so one already there is
    /// left alone (`If-None-Match: *`).
    async fn put_version_page(
        &self,
        repo: &Repository,
        canonical: &str,
        version: &VersionRecord,
    ) -> Result<Option<ObjectKey>, RegistryError> {
        let (key, body) = version_page(&repo.name, canonical, version)?;
        let options = key.put_options(!repo.anonymous_read);
        match self
            .blobs
            .put(&key, body.into(), PutMode::Create, options)
            .await
        {
            Ok(_) => Ok(Some(key)),
            Err(crate::BlobError::AlreadyExists(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes each version page of `versions` not in `present`, a few at
    /// once (a crate whose page predates version pages may have a thousand),
    /// and returns those it created. `versions` were read before: the caller
    /// then makes sure no page of a version deleted meanwhile stays
    /// ([`Self::remove_pages_deleted_meanwhile`], or a sweep of the
    /// repository's tombstones after a whole reindex).
    pub(crate) async fn write_missing_version_pages(
        &self,
        repository: &Repository,
        canonical: &str,
        versions: &[VersionRecord],
        present: &HashSet<ObjectKey>,
    ) -> Result<Vec<ObjectKey>, RegistryError> {
        let mut writes = Vec::new();
        for version in versions {
            let key = ObjectKey::version_page(&repository.name, canonical, &version.line.vers)?;
            if !present.contains(&key) {
                writes.push(self.put_version_page(repository, canonical, version));
            }
        }
        let written: Vec<Result<_, _>> = stream::iter(writes)
            .buffer_unordered(VERSION_PAGE_WRITES)
            .collect()
            .await;
        let written = written.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(written.into_iter().flatten().collect())
    }

    /// The versions a page was just written for were read before: a
    /// version deleted in between had its files purged already, and its
    /// page must not come back. One read of the crate, after the writes,
    /// decides: a deletion committed later purges the page itself.
    pub(crate) async fn remove_pages_deleted_meanwhile(
        &self,
        repository: &Repository,
        canonical: &str,
        written: &[ObjectKey],
    ) -> Result<(), RegistryError> {
        if written.is_empty() {
            return Ok(());
        }
        let krate = self.store.get_crate(&repository.name, canonical).await?;
        self.purge_deleted_pages(&repository.name, krate.iter(), written)
            .await
    }

    /// Purges each version page or README in `written` whose version one
    /// of `crates` has deleted.
    pub(crate) async fn purge_deleted_pages(
        &self,
        repo: &str,
        crates: impl Iterator<Item = &CrateRecord>,
        written: &[ObjectKey],
    ) -> Result<(), RegistryError> {
        // A whole reindex may have written thousands.
        let written: HashSet<&ObjectKey> = written.iter().collect();
        for krate in crates {
            for gone in &krate.deleted {
                for key in [
                    ObjectKey::version_page(repo, &krate.canonical, &gone.version)?,
                    ObjectKey::readme(repo, &krate.canonical, &gone.version)?,
                ] {
                    if written.contains(&key) {
                        self.blobs.purge(&key).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Before a crate's page is written: the version pages it links to that
    /// the store lacks (the new version's, or every one of a crate whose
    /// page predates version pages), from one listing of the crate's.
    pub(crate) async fn complete_version_pages(
        &self,
        repository: &Repository,
        canonical: &str,
        versions: &[VersionRecord],
    ) -> Result<(), RegistryError> {
        let present = self
            .list_version_pages(&repository.name, canonical)
            .await?
            .into_iter()
            .collect();
        let written = self
            .write_missing_version_pages(repository, canonical, versions, &present)
            .await?;
        self.remove_pages_deleted_meanwhile(repository, canonical, &written)
            .await
    }

    /// The version pages of one crate in the store.
    pub(crate) async fn list_version_pages(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<ObjectKey>, RegistryError> {
        let prefix = KeyPrefix::CrateVersionPages {
            repo: RepoName::new(repo)?,
            name: crate::CrateName::new(canonical)?,
        };
        Ok(self.blobs.list(&prefix).await?)
    }

    /// Keeps a version's rendered README.
    pub(crate) async fn put_readme(
        &self,
        repo: &Repository,
        canonical: &str,
        version: &str,
        html: String,
    ) -> Result<ObjectKey, RegistryError> {
        let key = ObjectKey::readme(&repo.name, canonical, version)?;
        let options = key.put_options(!repo.anonymous_read);
        self.blobs
            .put(&key, html.into(), PutMode::Overwrite, options)
            .await?;
        Ok(key)
    }

    /// `recent.json` as it is, with its metadata, read ahead of a publish
    /// so that [`Self::record_recent_publish`] need not read it after.
    pub(crate) async fn recent_publishes(
        &self,
        repo: &str,
    ) -> Result<Option<(Bytes, ObjectMeta)>, RegistryError> {
        Ok(self.blobs.get(&ObjectKey::recent_publishes(repo)?).await?)
    }

    /// Puts a publish at the top of `recent.json`, by compare-and-swap so
    /// that concurrent publishers all appear. Best effort, like the README.
    /// It writes over the copy `read_before` holds when it was read ahead (a copy changed since fails the write's
    /// precondition, and the loop reads again).
    pub(crate) async fn record_recent_publish(
        &self,
        repo: &Repository,
        publish: RecentPublish,
        read_before: Option<Option<(Bytes, ObjectMeta)>>,
    ) {
        if let Err(e) = self
            .try_record_recent_publish(repo, publish, read_before)
            .await
        {
            tracing::warn!(repo = %repo.name, error = %e, "could not update the recent publishes");
        }
    }

    pub(crate) async fn try_record_recent_publish(
        &self,
        repo: &Repository,
        publish: RecentPublish,
        read_before: Option<Option<(Bytes, ObjectMeta)>>,
    ) -> Result<(), RegistryError> {
        let key = ObjectKey::recent_publishes(&repo.name)?;
        let private = !repo.anonymous_read;
        self.change_document(
            &key,
            private,
            read_before,
            |recent: &mut Vec<RecentPublish>| {
                // This publish or a later one of this crate is already listed:
                // a change stream's records may arrive late or twice.
                if recent
                    .iter()
                    .any(|r| r.name == publish.name && !publish.published_after(r))
                {
                    return false;
                }
                recent.retain(|r| r.name != publish.name);
                recent.insert(0, publish.clone());
                recent.sort_by(|a, b| b.published_at.cmp(&a.published_at));
                recent.truncate(RECENT_PUBLISHES);
                true
            },
        )
        .await
    }

    /// Takes deleted versions of a crate off `recent.json`.
    pub(crate) async fn forget_recent_publishes(
        &self,
        repo: &Repository,
        name: &str,
        versions: &[&str],
    ) -> Result<(), RegistryError> {
        let key = ObjectKey::recent_publishes(&repo.name)?;
        let private = !repo.anonymous_read;
        self.change_document(&key, private, None, |recent: &mut Vec<RecentPublish>| {
            let before = recent.len();
            recent.retain(|r| !(r.name == name && versions.contains(&r.version.as_str())));
            recent.len() != before
        })
        .await
    }
}
