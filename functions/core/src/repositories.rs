//! Repositories and their settings: visibility and permission grants.

use crate::access::{Grant, Permission, Subject};
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::retry::Retries;
use crate::{
    KeyPrefix, ObjectKey, PutMode, Registry, RegistryError, RepoKind, RepoName, Repository,
    StoreError, Upstream,
};

/// Names the URL space or the UI claims for themselves (`/ui/search`,
/// `/ui/tokens` are pages, where `/ui/{repo}` would be a repository's).
const RESERVED_REPOSITORY_NAMES: [&str; 5] = ["api", "ui", "static", "search", "tokens"];

/// What a new repository is.
#[derive(Debug, Clone)]
pub enum RepositorySpec {
    Local,
    Remote(Upstream),
    Virtual {
        members: Vec<String>,
        default_member: Option<String>,
    },
}

/// A change to a repository's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RepositoryChange {
    /// Artifactory's "allow anonymous download and search".
    pub anonymous_read: Option<bool>,
    /// Replaces the permissions of these subjects (an empty list removes
    /// the subject's grant).
    pub grants: Vec<Grant>,
}

/// Letters, digits, `-` and `_`, at most 64, and not a name the registry
/// uses for its own URLs.
pub fn check_repository_name(name: &str) -> Result<(), RegistryError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(RegistryError::BadRequest(format!(
            "`{name}` is not a valid repository name: use letters, digits, `-` and `_`"
        )));
    }
    if RESERVED_REPOSITORY_NAMES.contains(&name) {
        return Err(RegistryError::BadRequest(format!(
            "`{name}` is reserved for the registry's own URLs; pick another repository name"
        )));
    }
    Ok(())
}

impl Registry {
    /// Creates a local repository (public, any signed-in user may publish)
    /// unless one of that name exists, and (re)writes its `config.json`
    /// either way, so a changed public URL takes effect.
    pub async fn ensure_repository(&self, name: &str) -> Result<Repository, RegistryError> {
        self.ensure_repository_by(name, &Actor::operator()).await
    }

    /// [`Self::ensure_repository`], recording `by` as its creator.
    pub async fn ensure_repository_by(
        &self,
        name: &str,
        by: &Actor,
    ) -> Result<Repository, RegistryError> {
        check_repository_name(name)?;
        match self
            .store
            .create_repository(&Repository::new_local(name))
            .await
        {
            Ok(()) => {
                let detail = "created a public local repository".to_string();
                self.audit(AuditEntry::new(by, AuditAction::RepositoryCreate, detail).repo(name))
                    .await;
            }
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let repo = self.repository(name).await?;
        self.write_index_config(&repo).await?;
        self.write_repository_list().await?;
        Ok(repo)
    }

    /// Creates a repository of any kind; fails if the name is taken.
    pub async fn create_repository(
        &self,
        name: &str,
        spec: RepositorySpec,
        anonymous_read: bool,
        by: &Actor,
    ) -> Result<Repository, RegistryError> {
        check_repository_name(name)?;
        let mut repo = Repository::new_local(name);
        repo.anonymous_read = anonymous_read;
        match spec {
            RepositorySpec::Local => {}
            RepositorySpec::Remote(upstream) => {
                let url = upstream.index_url.trim_start_matches("sparse+");
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(RegistryError::BadRequest(format!(
                        "`{}` is not a sparse index URL: use https://HOST/PATH/ (cargo's `sparse+` prefix is optional)",
                        upstream.index_url
                    )));
                }
                repo.kind = RepoKind::Remote;
                repo.upstream = Some(upstream);
            }
            RepositorySpec::Virtual {
                members,
                default_member,
            } => {
                if members.is_empty() {
                    return Err(RegistryError::BadRequest(
                        "a virtual repository needs members: `--members main,mirror`".into(),
                    ));
                }
                for member in &members {
                    if self.repository(member).await?.kind == RepoKind::Virtual {
                        return Err(RegistryError::BadRequest(format!(
                            "`{member}` is virtual itself; members must be local or remote repositories"
                        )));
                    }
                }
                let default_member = match default_member {
                    Some(m) => Some(m),
                    None => {
                        let mut local = None;
                        for member in &members {
                            if self.repository(member).await?.kind == RepoKind::Local {
                                local = Some(member.clone());
                                break;
                            }
                        }
                        local
                    }
                };
                if let Some(m) = &default_member
                    && (!members.contains(m) || self.repository(m).await?.kind != RepoKind::Local)
                {
                    return Err(RegistryError::BadRequest(format!(
                        "the default member `{m}` must be one of the members and a local repository"
                    )));
                }
                repo.kind = RepoKind::Virtual;
                repo.members = members;
                repo.default_member = default_member;
            }
        }
        match self.store.create_repository(&repo).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists(_)) => {
                return Err(RegistryError::BadRequest(format!(
                    "repository `{name}` already exists"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let detail = format!(
            "created a {} {:?} repository",
            if repo.anonymous_read {
                "public"
            } else {
                "private"
            },
            repo.kind
        )
        .to_lowercase();
        self.audit(AuditEntry::new(by, AuditAction::RepositoryCreate, detail).repo(name))
            .await;
        self.write_index_config(&repo).await?;
        self.write_repository_list().await?;
        tracing::info!(repo = %repo.name, kind = ?repo.kind, "repository created");
        Ok(repo)
    }

    /// Refuses a change that cannot apply (a grant to a group nobody
    /// belongs to), before anything is written.
    pub async fn check_repository_change(
        &self,
        change: &RepositoryChange,
    ) -> Result<(), RegistryError> {
        for grant in &change.grants {
            if let Subject::Group(group) = &grant.to
                && !grant.permissions.is_empty()
                && !self.group_exists(group).await?
            {
                return Err(RegistryError::BadRequest(format!(
                    "group `{group}` has no members; add one with `crateyard user set LOGIN --groups {group}` first"
                )));
            }
        }
        Ok(())
    }

    /// Changes visibility or grants. Takes effect on the next request, in
    /// every process sharing the store.
    pub async fn update_repository(
        &self,
        name: &str,
        change: RepositoryChange,
        by: &Actor,
    ) -> Result<Repository, RegistryError> {
        self.check_repository_change(&change).await?;
        let (was_public, repo) = self
            .change_repository(name, |repo| {
                if let Some(anonymous_read) = change.anonymous_read {
                    repo.anonymous_read = anonymous_read;
                }
                for grant in &change.grants {
                    repo.grants.retain(|g| g.to != grant.to);
                    if !grant.permissions.is_empty() {
                        let mut permissions = grant.permissions.clone();
                        permissions.sort();
                        permissions.dedup();
                        repo.grants.push(Grant {
                            to: grant.to.clone(),
                            permissions,
                        });
                    }
                }
                Ok(())
            })
            .await?;
        let was_public = was_public.anonymous_read;
        let detail = format!(
            "anonymous read: {}; grants: {}",
            repo.anonymous_read,
            serde_json::to_string(&repo.grants).unwrap_or_default()
        );
        self.audit(AuditEntry::new(by, AuditAction::RepositoryChange, detail).repo(name))
            .await;
        let visibility_changed = was_public != repo.anonymous_read;
        let git_indexes = match visibility_changed {
            true => self.git_indexes_shown_by_visibility(&repo).await?,
            false => Vec::new(),
        };
        let applied = async {
            let mut settled = repo.clone();
            if visibility_changed {
                self.remove_git_indexes(&git_indexes).await?;
                // Objects written before the change follow it; a writer
                // that read the old settings and wrote after this listing
                // re-tags them itself (`follow_visibility_change`).
                settled = self.retag_repository(&repo).await?;
                // Again: a commit racing the change may have written the old
                // view meanwhile, which the re-tag just published.
                self.remove_git_indexes(&git_indexes).await?;
            }
            // Last: on AWS a new `config.json` invalidates the repository's
            // every path at the edge, which must not refetch an object still
            // untagged.
            self.write_settled_config(settled).await
        }
        .await;
        // Whatever failed above: a removed git index is built again, and
        // the list of repositories follows the settings committed.
        self.rebuild_git_indexes(&git_indexes).await;
        let listed = self.write_repository_list().await;
        applied?;
        listed?;
        tracing::info!(target: "crateyard::access", repo = %repo.name, anonymous_read = repo.anonymous_read, grants = ?repo.grants, "repository settings changed");
        Ok(repo)
    }

    /// Tags every object of `repo` with its visibility, and returns the
    /// settings it ended on. Visibility may change again meanwhile, and
    /// that change's own re-tag finish first: this one then follows it,
    /// starting over with the newer setting, so that an older re-tag never
    /// leaves its visibility over a newer one's. It looks every
    /// [`RETAG_CHECK_EVERY`] objects and at the end.
    async fn retag_repository(&self, repo: &Repository) -> Result<Repository, RegistryError> {
        let everything = KeyPrefix::Repository(RepoName::new(&repo.name)?);
        let mut settings = repo.clone();
        'retag: loop {
            let keys = self.blobs.list(&everything).await?;
            for (n, key) in keys.iter().enumerate() {
                let private = key.put_options(!settings.anonymous_read).private;
                self.blobs.set_private(key, private).await?;
                if (n + 1) % RETAG_CHECK_EVERY == 0 && self.visibility_moved(&mut settings).await? {
                    continue 'retag;
                }
            }
            if !self.visibility_moved(&mut settings).await? {
                return Ok(settings);
            }
        }
    }

    /// Writes `config.json` from `settings`, then looks again: a change of
    /// visibility committed since the re-tag's last look (whose own
    /// `config.json` may have landed first) is followed, re-tagging and
    /// writing again. Any change committed after that look writes its own
    /// `config.json` after this one.
    async fn write_settled_config(&self, mut settings: Repository) -> Result<(), RegistryError> {
        loop {
            self.write_index_config(&settings).await?;
            if !self.visibility_moved(&mut settings).await? {
                return Ok(());
            }
            settings = self.retag_repository(&settings).await?;
        }
    }

    /// Whether the stored repository's visibility differs from `settings`,
    /// which then become the stored ones.
    async fn visibility_moved(&self, settings: &mut Repository) -> Result<bool, RegistryError> {
        match self.store.get_repository(&settings.name).await? {
            Some(now) if now.anonymous_read != settings.anonymous_read => {
                tracing::info!(repo = %now.name, "visibility changed during a re-tag; following it");
                *settings = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Ends a writer's work that chose objects' visibility from `used`, the
    /// settings it read first: if the repository changed visibility since,
    /// the change's re-tag may have listed before those writes landed, so
    /// the writer re-tags the repository itself. One read when nothing
    /// changed.
    pub(crate) async fn follow_visibility_change(
        &self,
        used: &Repository,
    ) -> Result<(), RegistryError> {
        match self.store.get_repository(&used.name).await? {
            Some(now) if now.anonymous_read != used.anonymous_read => {
                tracing::info!(repo = %now.name, "visibility changed during a write; re-tagging");
                let settled = self.retag_repository(&now).await?;
                // As the change does: on AWS a new `config.json` takes the
                // repository's paths off the edge, where a copy fetched
                // while the object was public may sit.
                self.write_settled_config(settled).await
            }
            _ => Ok(()),
        }
    }

    /// Applies `change` to the repository as stored and writes it over the
    /// revision it read, reading again when another update came first (see
    /// [`Repository::revision`]). Returns the repository before and after.
    pub(crate) async fn change_repository(
        &self,
        name: &str,
        change: impl Fn(&mut Repository) -> Result<(), RegistryError>,
    ) -> Result<(Repository, Repository), RegistryError> {
        let mut retries = Retries::new(name);
        loop {
            retries.next()?;
            let before = self.repository(name).await?;
            let mut after = before.clone();
            change(&mut after)?;
            after.revision = before.revision + 1;
            match self.store.update_repository(&after).await {
                Ok(()) => return Ok((before, after)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `index/config.json`: where cargo downloads crates and finds the API,
    /// and whether it must send a token for reads.
    pub async fn write_index_config(&self, repo: &Repository) -> Result<(), RegistryError> {
        let config = serde_json::json!({
            "dl": format!("{}/{}", self.read_base(repo), ObjectKey::DL_TEMPLATE),
            "api": format!("{}/{}", self.config.api_url, repo.name),
            "auth-required": !repo.anonymous_read,
        });
        let key = ObjectKey::index_config(&repo.name)?;
        let body = serde_json::to_vec_pretty(&config).expect("JSON values serialize");
        self.blobs
            .put(
                &key,
                body.into(),
                PutMode::Overwrite,
                key.put_options(!repo.anonymous_read),
            )
            .await?;
        // The git index carries a copy (and starts with it: a virtual
        // repository's first commit takes its members' files).
        self.mirror_soon(repo, Some(&[])).await;
        Ok(())
    }
}

/// How many objects a re-tag tags between two looks at the repository's
/// visibility: a bound on what it tags with a setting changed meanwhile,
/// for one read of the repository per so many tag writes.
const RETAG_CHECK_EVERY: usize = 256;

/// Parses `user:ann=read,publish-new` style grant arguments.
pub fn parse_grant(text: &str) -> Result<Grant, String> {
    let (subject, permissions) = text.split_once('=').ok_or_else(|| {
        format!("`{text}`: write SUBJECT=PERMISSION,…, e.g. `group:devs=read,publish-new`")
    })?;
    let permissions = if permissions.trim().is_empty() || permissions.trim() == "none" {
        Vec::new()
    } else {
        permissions
            .split(',')
            .map(str::parse::<Permission>)
            .collect::<Result<_, _>>()?
    };
    Ok(Grant {
        to: subject.parse()?,
        permissions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_leave_the_registry_and_ui_urls_alone() {
        for ok in ["main", "team-a", "Mirror_2"] {
            assert!(check_repository_name(ok).is_ok(), "{ok}");
        }
        for reserved in RESERVED_REPOSITORY_NAMES {
            let err = check_repository_name(reserved).unwrap_err().to_string();
            assert!(err.contains("is reserved"), "{reserved}: {err}");
        }
        for bad in ["", "a/b", ".uploads", "a b", &"x".repeat(65)] {
            let err = check_repository_name(bad).unwrap_err().to_string();
            assert!(err.contains("not a valid repository name"), "{bad}: {err}");
        }
    }
}
