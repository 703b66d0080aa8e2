//! Ingestion: every way a `.crate` comes in (`cargo publish`, a direct PUT)
//! ends in [`Registry::publish`], which checks it, stores it once and commits
//! the version before indexing it.

use crate::Section;
use crate::access::{CrateTarget, Permission};
use crate::audit::{AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::crate_files::{CrateFile, StoredCrate};
use crate::crate_state::CrateState;
use crate::keys::version_in_file_name;
use crate::pages::RecentPublish;
use crate::registry::PRIVATE_READS;
use crate::retry::Retries;
use crate::versions::{parse_version, version_key};
use crate::{
    CrateName, CrateRecord, CrateWrite, DerivedFiles, ObjectKey, Principal, PublishDependency,
    PublishMetadata, Registry, RegistryError, Repository, StoreError, VersionRecord, VersionWrite,
};
use bytes::Bytes;
use crateyard_index::{CRATES_IO_INDEX, Dependency, DependencyKind, IndexLine};
use crateyard_tarball::inspect_crate;
use semver::{Version, VersionReq};

/// A `.crate` on its way in.
#[derive(Debug)]
pub enum Upload {
    /// `cargo publish`: the frame's metadata is a claim checked against the tarball.
    Cargo {
        metadata: PublishMetadata,
        tarball: Bytes,
    },
    /// `PUT {repo}/crates/{name}/{file}`: only the path and the tarball.
    Direct {
        name: String,
        file_name: String,
        tarball: Bytes,
    },
}

#[derive(Debug)]
pub struct PublishOutcome {
    pub line: IndexLine,
    pub warnings: Vec<String>,
}

impl Registry {
    pub async fn publish(
        &self,
        repo: &str,
        who: &Principal,
        upload: Upload,
    ) -> Result<PublishOutcome, RegistryError> {
        self.publish_authenticated_by(repo, async { Ok(who.clone()) }, upload)
            .await
    }

    /// Publishes once `authentication` names who publishes (see
    /// [`Self::authenticated_target`]). A request's own errors (bad name,
    /// version or size) come first, as crates.io reports them before
    /// authenticating.
    pub async fn publish_authenticated_by(
        &self,
        repo: &str,
        authentication: impl Future<Output = Result<Principal, RegistryError>>,
        upload: Upload,
    ) -> Result<PublishOutcome, RegistryError> {
        let (name, version, tarball, declared) = match upload {
            Upload::Cargo { metadata, tarball } => (
                metadata.name.clone(),
                metadata.vers.clone(),
                tarball,
                Some(metadata),
            ),
            Upload::Direct {
                name,
                file_name,
                tarball,
            } => {
                let version = version_from_file_name(&name, &file_name)?;
                (name, version, tarball, None)
            }
        };
        let crate_name = CrateName::new(&name)?;
        let semver = parse_version(&version)?;
        let limit = self.config.limits.max_compressed;
        if tarball.len() as u64 > limit {
            return Err(RegistryError::TooLarge {
                size: tarball.len() as u64,
                limit,
            });
        }
        let in_request = self.config.derived_files == DerivedFiles::InRequest;
        let recent_before = async {
            match in_request {
                true => self.recent_publishes(repo).await.ok(),
                false => None,
            }
        };
        let (target, recent_before) = tokio::join!(
            self.authenticated_target(authentication, repo, &crate_name),
            recent_before,
        );
        let (who, repository, mut state) = target?;
        let who = &who;
        // Read for the repository in the URL: of no use for a virtual one's member.
        let recent_before = recent_before.filter(|_| repository.name == repo);
        let repo = repository.name.as_str();

        // Permission and ownership come before any work on the tarball.
        let canonical = crate_name.canonical();
        let key = version_key(&semver);
        let rules = PublishRules {
            registry: self,
            repository: &repository,
            name: &crate_name,
            semver: &semver,
            key: &key,
            who,
        };
        if let Err(err) = rules.check(state.krate.as_ref(), &state.versions).await {
            if matches!(err, RegistryError::VersionExists { .. }) {
                self.catch_up_index_on_retry(repo, &canonical).await;
            }
            return Err(err);
        }

        // Dependencies on this registry may name it by either URL.
        let own_urls = [
            format!("sparse+{}/{repo}/index/", self.config.public_url),
            format!(
                "sparse+{}/{repo}/{PRIVATE_READS}/index/",
                self.config.api_url
            ),
            // The git index (see `Registry::git_index_url`).
            format!(
                "{}/{repo}/{}",
                self.config.public_url,
                Section::Git.as_str()
            ),
            format!(
                "{}/{repo}/{PRIVATE_READS}/{}",
                self.config.api_url,
                Section::Git.as_str()
            ),
        ];
        let inspected = inspect_crate(&tarball, &name, &version, &own_urls, &self.config.limits)?;
        let mut line = inspected.index_line;
        check_dependency_names(&line.deps)?;
        if let Some(declared) = &declared {
            cross_check(declared, &mut line)?;
        }
        line.pubtime = Some(now_rfc3339());

        let crate_key = ObjectKey::crate_file(repo, &name, &version)?;
        let file = CrateFile {
            repository: &repository,
            key: &crate_key,
            version_key: &key,
            tarball,
            cksum: &line.cksum,
        };
        let stored = self.store_crate_file(&file, &name, &version).await?;
        let mut package = inspected.package;
        let readme = package.readme.take();
        let description = package.description.clone();
        let (readme_path, repository_url) =
            (package.readme_path.clone(), package.repository.clone());
        let version_record = VersionRecord {
            line: line.clone(),
            version_key: key.clone(),
            seq: 0,
            package,
            size: inspected.size,
            published_by: who.login().into(),
            has_readme: readme.is_some(),
            archived_at: None,
        };
        let committed = self
            .commit_new_version(&rules, version_record, &mut state)
            .await;
        let krate = match committed {
            Ok(krate) => krate,
            Err(err) => {
                if let StoredCrate::Created { etag } = &stored {
                    self.discard_uncommitted_crate_file(&file, &canonical, etag)
                        .await;
                }
                return Err(err);
            }
        };
        tracing::info!(repo, name = %name, version = %version, user = %who.login(), "published");
        if !in_request {
            // The change stream's consumer writes the rest from the commit.
            return Ok(PublishOutcome {
                line,
                warnings: Vec::new(),
            });
        }

        // Independent writes, at once: each is a round trip to S3 on AWS.
        // Only the committed version's README is written (a writer that
        // lost the race for this version must not replace the winner's).
        let readme = async {
            if let Some(markdown) = readme {
                self.store_readme(
                    &repository,
                    &canonical,
                    &version,
                    readme_path.as_deref(),
                    repository_url.as_deref(),
                    &markdown,
                )
                .await;
            }
        };
        let recent = RecentPublish {
            name: name.clone(),
            version: version.clone(),
            description,
            published_at: line.pubtime.clone().unwrap_or_default(),
        };
        let (rebuilt, (), ()) = tokio::join!(
            self.write_committed_files(&repository, &krate, &state.versions, state.heads),
            readme,
            self.record_recent_publish(&repository, recent, recent_before),
        );
        let mut warnings = Vec::new();
        if let Err(e) = rebuilt {
            tracing::error!(repo, name = %name, error = %e, "index update failed after publish");
            warnings.push(format!(
                "{name} {version} is published but its index file could not be updated yet ({e}); run `crateyard reindex`"
            ));
        }
        Ok(PublishOutcome { line, warnings })
    }

    /// The checks a publish of `name` `semver` by `who` would fail right
    /// away against the crate's current state (owner, existing version).
    pub(crate) async fn check_publish_allowed(
        &self,
        repo: &str,
        who: &Principal,
        name: &CrateName,
        semver: &Version,
    ) -> Result<(), RegistryError> {
        // One round of reads, as a publish makes (the derived files' heads
        // come along unused: they cost no extra wait).
        let (repository, state) = self.write_target_with_state(repo, name).await?;
        let key = version_key(semver);
        let rules = PublishRules {
            registry: self,
            repository: &repository,
            name,
            semver,
            key: &key,
            who,
        };
        rules.check(state.krate.as_ref(), &state.versions).await
    }

    /// A publish retried after a lost answer finds its version committed,
    /// but the index write may be what was lost: redo it, so the retry
    /// converges without a reindex. Idempotent: an index file already at
    /// the crate's revision is left alone.
    async fn catch_up_index_on_retry(&self, repo: &str, canonical: &str) {
        if let Err(e) = self.rebuild_crate_files(repo, canonical).await {
            tracing::warn!(repo, canonical, error = %e, "index catch-up on a repeated publish failed");
        }
    }

    /// Commits the version with a conditional write on the crate's revision,
    /// re-reading and re-checking when a concurrent change wins the race.
    /// On success `state.versions` holds every version, this one included,
    /// and the crate's new record is returned.
    async fn commit_new_version(
        &self,
        rules: &PublishRules<'_>,
        mut record: VersionRecord,
        state: &mut CrateState,
    ) -> Result<CrateRecord, RegistryError> {
        let (repo, name, who) = (&rules.repository.name, rules.name, rules.who);
        let canonical = name.canonical();
        let mut retries = Retries::new(&canonical);
        // The settings this publish stands on: its commit holds only while
        // they do.
        let mut repository = rules.repository.clone();
        loop {
            retries.next()?;
            let existing = state.krate.as_ref();
            let now = now_rfc3339();
            let revision = existing.map_or(0, |k| k.revision) + 1;
            record.seq = revision;
            let krate = CrateRecord {
                name: existing.map_or_else(|| name.to_string(), |k| k.name.clone()),
                canonical: canonical.clone(),
                revision,
                max_version: max_version(state.versions.iter().chain([&record]).map(|v| &v.line)),
                description: record.package.description.clone(),
                keywords: record.package.keywords.clone(),
                owners: existing.map_or_else(|| vec![who.login().into()], |k| k.owners.clone()),
                created_at: existing.map_or_else(|| now.clone(), |k| k.created_at.clone()),
                updated_at: now,
                deleted: existing.map(|k| k.deleted.clone()).unwrap_or_default(),
            };
            let write = CrateWrite {
                krate: krate.clone(),
                expected_revision: existing.map(|k| k.revision),
                repository_revision: Some(repository.revision),
                version: Some(VersionWrite::Insert(record.clone())),
                audit: Some(
                    self.audit_entry(
                        AuditEntry::new(
                            &who.into(),
                            AuditAction::Publish,
                            format!(
                                "published {} {} ({} bytes, sha256 {})",
                                krate.name, record.line.vers, record.size, record.line.cksum
                            ),
                        )
                        .repo(repo)
                        .krate(&canonical)
                        .version(&record.line.vers),
                    ),
                ),
            };
            match self.store.commit(repo, write).await {
                Ok(()) => {
                    state.versions.push(record);
                    state.krate = Some(krate.clone());
                    return Ok(krate);
                }
                Err(StoreError::Conflict(_)) => {
                    let (krate, versions, now) = tokio::join!(
                        self.store.get_crate(repo, &canonical),
                        self.store.list_versions(repo, &canonical),
                        self.store.get_repository(repo),
                    );
                    match now? {
                        Some(now) if now.revision == repository.revision => {}
                        // Grants changed: who may publish is decided again
                        // below, on them. The `.crate` stored above has the
                        // visibility it needs.
                        Some(now) if now.anonymous_read == repository.anonymous_read => {
                            repository = now;
                        }
                        // Whether the `.crate` is private was decided on
                        // settings that no longer hold. The object may be
                        // shared with an identical publish (crate_files.rs),
                        // so it stays, with the visibility its repository
                        // has now; the publish's derived files would follow
                        // the old settings: publish again.
                        now => {
                            if let Some(now) = now {
                                let key = ObjectKey::crate_file(
                                    repo,
                                    &record.line.name,
                                    &record.line.vers,
                                )?;
                                let private = key.put_options(!now.anonymous_read).private;
                                self.blobs.set_private(&key, private).await?;
                            }
                            return Err(RegistryError::RepositoryChanged(repo.clone()));
                        }
                    }
                    (state.krate, state.versions) = (krate?, versions?);
                    let rules = PublishRules {
                        repository: &repository,
                        ..*rules
                    };
                    rules.check(state.krate.as_ref(), &state.versions).await?;
                }
                Err(StoreError::AlreadyExists(_)) => {
                    return Err(version_exists(name.as_str(), rules.semver, ""));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The rules a publish must pass against the crate's current state.
struct PublishRules<'a> {
    registry: &'a Registry,
    repository: &'a Repository,
    name: &'a CrateName,
    semver: &'a Version,
    key: &'a str,
    who: &'a Principal,
}

impl PublishRules<'_> {
    async fn check(
        &self,
        existing: Option<&CrateRecord>,
        versions: &[VersionRecord],
    ) -> Result<(), RegistryError> {
        let Self {
            registry,
            repository,
            name,
            semver,
            key,
            who,
        } = self;
        let (permission, owners) = match existing {
            None => (Permission::PublishNew, None),
            Some(krate) if krate.name != name.as_str() => {
                return Err(RegistryError::NameCollision {
                    requested: name.to_string(),
                    existing: krate.name.clone(),
                });
            }
            Some(krate) => (Permission::PublishUpdate, Some(krate.owners.as_slice())),
        };
        let target = CrateTarget {
            name: name.as_str(),
            owners,
        };
        registry
            .authorize(Some(who), repository, permission, Some(target))
            .await?;
        if let Some(v) = versions.iter().find(|v| v.version_key == *key) {
            let hint = if v.line.vers != semver.to_string() {
                format!(
                    " as {} (versions differing only in build metadata are the same version)",
                    v.line.vers
                )
            } else {
                String::new()
            };
            return Err(version_exists(name.as_str(), semver, &hint));
        }
        if let Some(deleted) = existing
            .into_iter()
            .flat_map(|k| &k.deleted)
            .find(|d| d.version_key == *key)
        {
            return Err(RegistryError::VersionDeleted {
                name: name.to_string(),
                version: deleted.version.clone(),
                deleted_at: deleted.deleted_at.clone(),
            });
        }
        Ok(())
    }
}

fn version_exists(name: &str, semver: &Version, hint: &str) -> RegistryError {
    RegistryError::VersionExists {
        name: name.into(),
        version: semver.to_string(),
        hint: hint.into(),
    }
}

/// The highest version not yanked, or the highest of all when every one is.
pub(crate) fn max_version<'a>(lines: impl Iterator<Item = &'a IndexLine> + Clone) -> String {
    let best = |only_live: bool| {
        lines
            .clone()
            .filter(|l| !only_live || !l.yanked)
            .filter_map(|l| Version::parse(&l.vers).ok())
            .max()
    };
    best(true)
        .or_else(|| best(false))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// `{name}-{version}.crate` (already percent-decoded) → `version`.
fn version_from_file_name(name: &str, file_name: &str) -> Result<String, RegistryError> {
    version_in_file_name(name, file_name)
        .map(str::to_string)
        .ok_or_else(|| {
            RegistryError::BadRequest(format!(
                "the upload path must end in `{name}/{name}-<version>.crate`, not `{name}/{file_name}`"
            ))
        })
}

fn check_dependency_names(deps: &[Dependency]) -> Result<(), RegistryError> {
    for dep in deps {
        CrateName::new(dep.package.as_deref().unwrap_or(&dep.name))
            .map_err(|e| RegistryError::BadRequest(format!("dependency `{}`: {e}", dep.name)))?;
    }
    Ok(())
}

/// The JSON must describe the tarball: name, version and dependencies. The
/// one thing only the client knows is which registry it calls "this one", so a
/// dependency the JSON places in this registry is indexed that way.
fn cross_check(declared: &PublishMetadata, line: &mut IndexLine) -> Result<(), RegistryError> {
    let mismatch = |what: String| Err(RegistryError::MetadataMismatch(what));
    if declared.name != line.name {
        return mismatch(format!(
            "the name is `{}` in the metadata but `{}` in Cargo.toml",
            declared.name, line.name
        ));
    }
    if declared.vers != line.vers {
        return mismatch(format!(
            "the version is {} in the metadata but {} in Cargo.toml",
            declared.vers, line.vers
        ));
    }
    let mut claimed = Vec::with_capacity(declared.deps.len());
    for dep in &declared.deps {
        claimed.push(declared_dependency(dep)?);
    }
    for dep in &mut line.deps {
        let same_registry_claimed = claimed
            .iter()
            .any(|c| c.registry.is_none() && same_except_registry(c, dep));
        if same_registry_claimed && dep.registry.as_deref() != Some(CRATES_IO_INDEX) {
            dep.registry = None;
        }
    }
    claimed.sort();
    for dep in &claimed {
        if !line.deps.contains(dep) {
            return mismatch(format!(
                "dependency `{}` ({}) is in the metadata but not in Cargo.toml",
                dep.name,
                describe(dep)
            ));
        }
    }
    for dep in &line.deps {
        if !claimed.contains(dep) {
            return mismatch(format!(
                "dependency `{}` ({}) is in Cargo.toml but not in the metadata",
                dep.name,
                describe(dep)
            ));
        }
    }
    Ok(())
}

fn declared_dependency(dep: &PublishDependency) -> Result<Dependency, RegistryError> {
    let req = VersionReq::parse(&dep.version_req).map_err(|e| {
        RegistryError::BadRequest(format!(
            "dependency `{}` has an invalid version requirement `{}`: {e}",
            dep.name, dep.version_req
        ))
    })?;
    let kind = match dep.kind.as_deref() {
        None | Some("normal") => DependencyKind::Normal,
        Some("dev") => DependencyKind::Dev,
        Some("build") => DependencyKind::Build,
        Some(other) => {
            return Err(RegistryError::BadRequest(format!(
                "dependency `{}` has an unknown kind `{other}`; cargo sends `normal`, `dev` or `build`",
                dep.name
            )));
        }
    };
    let (name, package) = match &dep.explicit_name_in_toml {
        Some(alias) => (alias.clone(), Some(dep.name.clone())),
        None => (dep.name.clone(), None),
    };
    Ok(Dependency {
        name,
        req: req.to_string(),
        features: dep.features.clone(),
        optional: dep.optional,
        default_features: dep.default_features,
        target: dep.target.clone(),
        kind: Some(kind),
        registry: dep.registry.clone(),
        package,
    })
}

fn same_except_registry(a: &Dependency, b: &Dependency) -> bool {
    Dependency {
        registry: None,
        ..a.clone()
    } == Dependency {
        registry: None,
        ..b.clone()
    }
}

fn describe(dep: &Dependency) -> String {
    let kind = match dep.kind {
        Some(DependencyKind::Dev) => "dev",
        Some(DependencyKind::Build) => "build",
        _ => "normal",
    };
    let mut s = format!("{kind}, {}", dep.req);
    if let Some(target) = &dep.target {
        s.push_str(&format!(", target {target}"));
    }
    if let Some(package) = &dep.package {
        s.push_str(&format!(", package {package}"));
    }
    if dep.optional {
        s.push_str(", optional");
    }
    s
}

/// The crate whatever a caller typed names, for looking it up: a name that
/// is not a valid crate name names no crate.
pub(crate) fn lookup_crate_name(name: &str) -> Result<CrateName, RegistryError> {
    CrateName::new(name).map_err(|_| RegistryError::UnknownCrate(name.into()))
}

/// The canonical name of whatever a caller typed, for looking a crate up.
pub(crate) fn lookup_name(name: &str) -> Result<String, RegistryError> {
    lookup_crate_name(name).map(|name| name.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_file_name_parses_versions() {
        assert_eq!(
            version_from_file_name("foo", "foo-1.0.0.crate").unwrap(),
            "1.0.0"
        );
        assert_eq!(
            version_from_file_name("foo", "foo-1.0.0+b.crate").unwrap(),
            "1.0.0+b"
        );
        assert_eq!(
            version_from_file_name("foo-bar", "foo-bar-0.1.0-rc.1.crate").unwrap(),
            "0.1.0-rc.1"
        );
        for bad in [
            "bar-1.0.0.crate",
            "foo-1.0.0.tar.gz",
            "foo-.crate",
            "foo.crate",
        ] {
            assert!(version_from_file_name("foo", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_version_prefers_live_versions() {
        let line = |v: &str, yanked| IndexLine {
            name: "a".into(),
            vers: v.into(),
            deps: vec![],
            cksum: String::new(),
            features: Default::default(),
            features2: None,
            yanked,
            links: None,
            rust_version: None,
            pubtime: None,
            v: None,
        };
        let lines = [
            line("1.0.0", false),
            line("2.0.0", true),
            line("1.5.0", false),
        ];
        assert_eq!(max_version(lines.iter()), "1.5.0");
        let yanked = [line("1.0.0", true), line("2.0.0", true)];
        assert_eq!(max_version(yanked.iter()), "2.0.0");
    }
}
