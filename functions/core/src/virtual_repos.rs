//! Virtual repositories: one index over several members, in order. The
//! first member that has a crate serves all of it, so a private crate can
//! never be shadowed by a public one of the same name (dependency
//! confusion); writes go to the configured local member.

use crate::remote::CachedFile;
use crate::search::SearchHit;
use crate::{Registry, RegistryError, RepoKind, Repository, canonical_name};
use crateyard_index::index_file_path;

impl Registry {
    async fn members(&self, repo: &Repository) -> Result<Vec<Repository>, RegistryError> {
        let mut members = Vec::with_capacity(repo.members.len());
        for name in &repo.members {
            members.push(self.repository(name).await?);
        }
        Ok(members)
    }

    /// An index file of a member repository, local or remote.
    async fn member_index_file(
        &self,
        member: &Repository,
        path: &str,
    ) -> Result<Option<CachedFile>, RegistryError> {
        match member.kind {
            RepoKind::Remote => self.remote_index_file(member, path).await,
            _ => {
                self.stored_file(format!("{}/index/{path}", member.name))
                    .await
            }
        }
    }

    /// The index file of a crate in a virtual repository: the first member's
    /// that has the crate.
    pub async fn virtual_index_file(
        &self,
        repo: &Repository,
        path: &str,
    ) -> Result<Option<CachedFile>, RegistryError> {
        for member in self.members(repo).await? {
            if let Some(file) = self.member_index_file(&member, path).await? {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// A `.crate` in a virtual repository, from the member whose index has
    /// the crate (never from a later member).
    pub async fn virtual_crate_file(
        &self,
        repo: &Repository,
        name: &str,
        file_name: &str,
    ) -> Result<Option<CachedFile>, RegistryError> {
        let path = index_file_path(name);
        for member in self.members(repo).await? {
            if self.member_index_file(&member, &path).await?.is_none() {
                continue;
            }
            return match member.kind {
                RepoKind::Remote => self.remote_crate_file(&member, name, file_name).await,
                _ => {
                    self.stored_file(format!("{}/crates/{name}/{file_name}", member.name))
                        .await
                }
            };
        }
        Ok(None)
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
                    "virtual repository `{repo}` has no default local member to publish to; set one with `crateyard repo set {repo} --default-member NAME`"
                ))),
            },
        }
    }

    /// Search over a virtual repository's members, first member first; a
    /// name found in an earlier member hides later ones.
    pub(crate) async fn virtual_search(
        &self,
        repo: &Repository,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let mut hits: Vec<SearchHit> = Vec::new();
        for member in self.members(repo).await? {
            let found = match member.kind {
                RepoKind::Remote => match self.remote_search(&member, query, limit).await {
                    Ok((found, _)) => found,
                    // Search stays useful while an upstream is down.
                    Err(e) => {
                        tracing::warn!(repo = %member.name, error = %e, "upstream search failed");
                        continue;
                    }
                },
                _ => self
                    .store
                    .search(&member.name, query, limit)
                    .await?
                    .0
                    .into_iter()
                    .map(|k| SearchHit {
                        name: k.name,
                        max_version: k.max_version,
                        description: k.description,
                    })
                    .collect(),
            };
            for hit in found {
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
