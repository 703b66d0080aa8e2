//! Virtual repositories: one index over several members, in order. The
//! first member that has a crate serves all of it, so a private crate can
//! never be shadowed by a public one of the same name (dependency
//! confusion); writes go to the configured local member.

use crate::access::{
    CrateTarget, EVERY_CRATE, Permission, decide, decide_virtual_git_read, in_virtual_git_index,
};
use crate::auth::log_access;
use crate::index_mirror::{IndexFileEntry, IndexFiles, StoredIndexFiles};
use crate::remote::CachedFile;
use crate::search::SearchHit;
use crate::{
    CrateName, CrateVersion, ObjectKey, Principal, Registry, RegistryError, RepoKind, Repository,
    canonical_name,
};
use async_trait::async_trait;
use futures_util::future::try_join_all;
use std::collections::BTreeMap;

impl Registry {
    async fn members(&self, repo: &Repository) -> Result<Vec<Repository>, RegistryError> {
        let mut members = Vec::with_capacity(repo.members.len());
        for name in &repo.members {
            members.push(self.repository(name).await?);
        }
        Ok(members)
    }

    /// Whether `caller` may read crate `name` in `member`: a read through a
    /// virtual repository is one of its member's reads, with that member's
    /// grants and the token's limits.
    async fn may_read_member(
        &self,
        caller: Option<&Principal>,
        member: &Repository,
        name: &CrateName,
    ) -> bool {
        let target = CrateTarget {
            name: name.as_str(),
            owners: None,
        };
        self.authorize(caller, member, Permission::Read, Some(target))
            .await
            .is_ok()
    }

    /// Lets `caller` read the git index of virtual repository `repo`, whose
    /// member repositories are `members` (none needed for a public one),
    /// or says why not (see [`decide_virtual_git_read`]), and logs it.
    pub fn authorize_virtual_git_read(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        members: &[Repository],
    ) -> Result<(), RegistryError> {
        let decision = decide_virtual_git_read(caller, repo, members);
        log_access(caller, repo, Permission::Read, Some(EVERY_CRATE), &decision);
        decision.map_err(|denial| match denial {
            crate::Denial::NoToken => RegistryError::MissingToken,
            _ => RegistryError::UnknownRepository(repo.name.clone()),
        })
    }

    /// What a virtual repository's git index holds: each crate's file from
    /// the first member that has it stored (a remote member's cached
    /// copy; the index mirror never asks an upstream), where
    /// [`in_virtual_git_index`] lets it show.
    pub(crate) fn virtual_index_files<'a>(&'a self, repo: &Repository) -> VirtualIndexFiles<'a> {
        VirtualIndexFiles {
            registry: self,
            repo: repo.clone(),
            own: StoredIndexFiles::new(self.blobs.clone(), &repo.name),
            read_by: Default::default(),
        }
    }

    /// The index file of crate `name` in a member repository, local or remote.
    async fn member_index_file(
        &self,
        member: &Repository,
        name: &CrateName,
    ) -> Result<Option<CachedFile>, RegistryError> {
        match member.kind {
            RepoKind::Remote => self.remote_index_file(member, name).await,
            _ => {
                self.stored_file(ObjectKey::index_file(&member.name, name.as_str())?)
                    .await
            }
        }
    }

    /// The member that serves crate `name`: the first that has it. `None`
    /// when none has it, or when `caller` may not read the one that has it
    /// (a later member's crate of the same name is never served instead).
    pub(crate) async fn serving_member(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        name: &CrateName,
    ) -> Result<Option<(Repository, CachedFile)>, RegistryError> {
        for member in self.members(repo).await? {
            if let Some(mut file) = self.member_index_file(&member, name).await? {
                file.private = !member.anonymous_read;
                return Ok(self
                    .may_read_member(caller, &member, name)
                    .await
                    .then_some((member, file)));
            }
        }
        Ok(None)
    }

    /// The index file of crate `name` in a virtual repository, as `caller`
    /// may read it.
    pub async fn virtual_index_file(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        name: &CrateName,
    ) -> Result<Option<CachedFile>, RegistryError> {
        Ok(self
            .serving_member(caller, repo, name)
            .await?
            .map(|(_, file)| file))
    }

    /// A `.crate` in a virtual repository, from the member that serves the
    /// crate (never from a later member), as `caller` may read it.
    pub async fn virtual_crate_file(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        name: &CrateName,
        version: &CrateVersion,
    ) -> Result<Option<CachedFile>, RegistryError> {
        let Some((member, _)) = self.serving_member(caller, repo, name).await? else {
            return Ok(None);
        };
        let file = match member.kind {
            RepoKind::Remote => self.remote_crate_file(&member, name, version).await?,
            _ => {
                let key = ObjectKey::crate_file(&member.name, name.as_str(), version.as_str())?;
                self.stored_file(key).await?
            }
        };
        Ok(file.map(|file| CachedFile {
            private: !member.anonymous_read,
            ..file
        }))
    }

    /// Where writes addressed to `repo` land: itself if local, a virtual
    /// repository's default member; remote repositories take none.
    pub(crate) async fn write_target(&self, repo: &str) -> Result<Repository, RegistryError> {
        let repository = self.repository(repo).await?;
        match repository.kind {
            RepoKind::Local => Ok(repository),
            RepoKind::Remote => Err(RegistryError::BadRequest(format!(
                "repository `{repo}` is a read-only cache of {}; publish to a local repository",
                repository
                    .upstream
                    .as_ref()
                    .map_or("an upstream", |u| u.index_url.as_str())
            ))),
            RepoKind::Virtual => match &repository.default_member {
                Some(member) => self.repository(member).await,
                None => Err(RegistryError::BadRequest(format!(
                    "virtual repository `{repo}` has no local member to publish to (its members are read-only caches); publish to a local repository, or to a virtual one created with a local member (`crateyard repo create NAME --kind virtual --members LOCAL,…`)"
                ))),
            },
        }
    }

    /// Search over the members `caller` may read, first member first; a
    /// name found in an earlier member hides later ones. A token limited to
    /// some crates sees only those.
    pub(crate) async fn virtual_search(
        &self,
        caller: Option<&Principal>,
        repo: &Repository,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let mut hits: Vec<SearchHit> = Vec::new();
        for member in self.members(repo).await? {
            // Listings grant nothing, so they are decided unlogged.
            if !self.may_read(caller, &member) {
                continue;
            }
            let found = match member.kind {
                RepoKind::Remote => match self.remote_search(&member, query, limit).await {
                    Ok((found, _)) => found,
                    // Search stays useful while an upstream is down.
                    Err(e) => {
                        tracing::warn!(repo = %member.name, error = %e, "upstream search failed");
                        continue;
                    }
                },
                _ => {
                    self.search_crates(&member.name, query, limit, None)
                        .await?
                        .0
                }
            };
            let covered = |hit: &SearchHit| {
                let target = CrateTarget {
                    name: &hit.name,
                    owners: None,
                };
                decide(caller, &member, Permission::Read, Some(target)).is_ok()
            };
            for hit in found.into_iter().filter(covered) {
                let canonical = canonical_name(&hit.name);
                if !hits.iter().any(|h| canonical_name(&h.name) == canonical) {
                    hits.push(hit);
                }
            }
        }
        hits.sort_by(|a, b| a.name.cmp(&b.name));
        let total = hits.len() as u64;
        hits.truncate(limit);
        Ok((hits, total))
    }
}

/// A virtual repository's index as its git index shows it (see
/// [`Registry::virtual_index_files`]). The members' records are read at
/// each call, so a commit that retries reads their visibility afresh; the
/// repository's own record stays the one the commit writes with (its
/// objects' visibility follows it).
pub(crate) struct VirtualIndexFiles<'a> {
    registry: &'a Registry,
    repo: Repository,
    /// Its own `config.json`.
    own: StoredIndexFiles,
    /// The members' revisions the last read went by.
    read_by: std::sync::Mutex<Vec<u64>>,
}

impl VirtualIndexFiles<'_> {
    async fn members(&self) -> Result<Vec<(Repository, StoredIndexFiles)>, RegistryError> {
        let blobs = &self.registry.blobs;
        let members = self.registry.members(&self.repo).await?;
        *self.read_by.lock().expect("not poisoned") = members.iter().map(|m| m.revision).collect();
        Ok(members
            .into_iter()
            .map(|member| {
                let files = StoredIndexFiles::new(blobs.clone(), &member.name);
                (member, files)
            })
            .collect())
    }

    /// Merges the members' files, by path: the first member's wins, shown
    /// or left out as it may be.
    fn merge(
        &self,
        members: &[(Repository, StoredIndexFiles)],
        per_member: Vec<Vec<IndexFileEntry>>,
    ) -> BTreeMap<String, Option<bytes::Bytes>> {
        let mut merged = BTreeMap::new();
        for ((member, _), files) in members.iter().zip(per_member) {
            for (path, content) in files {
                let Some(content) = content else { continue };
                if path == CONFIG_JSON || merged.contains_key(&path) {
                    continue;
                }
                let name = path.rsplit('/').next().unwrap_or_default();
                let shown = in_virtual_git_index(&self.repo, member, name);
                merged.insert(path, shown.then_some(content));
            }
        }
        merged
    }

    async fn with_config(
        &self,
        mut merged: BTreeMap<String, Option<bytes::Bytes>>,
    ) -> Result<Vec<IndexFileEntry>, RegistryError> {
        for (path, content) in self.own.some(&[]).await? {
            merged.insert(path, content);
        }
        Ok(merged.into_iter().collect())
    }
}

const CONFIG_JSON: &str = "config.json";

#[async_trait]
impl IndexFiles for VirtualIndexFiles<'_> {
    async fn some(&self, names: &[CrateName]) -> Result<Vec<IndexFileEntry>, RegistryError> {
        let members = self.members().await?;
        let per_member = try_join_all(members.iter().map(|(_, files)| files.crates(names))).await?;
        let mut merged = self.merge(&members, per_member);
        // A crate no member has (any more) leaves the tree.
        for name in names {
            merged
                .entry(crateyard_index::index_file_path(name.as_str()))
                .or_insert(None);
        }
        self.with_config(merged).await
    }

    async fn all(&self) -> Result<Vec<IndexFileEntry>, RegistryError> {
        let members = self.members().await?;
        let per_member = try_join_all(members.iter().map(|(_, files)| files.all())).await?;
        let mut merged = self.merge(&members, per_member);
        // A tree built anew needs no removals.
        merged.retain(|_, content| content.is_some());
        self.with_config(merged).await
    }

    async fn still_current(&self) -> Result<bool, RegistryError> {
        let now: Vec<u64> = self
            .registry
            .members(&self.repo)
            .await?
            .iter()
            .map(|m| m.revision)
            .collect();
        Ok(*self.read_by.lock().expect("not poisoned") == now)
    }
}
