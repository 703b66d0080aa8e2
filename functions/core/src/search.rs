use crate::access::token_covers_crate;
use crate::{Principal, Registry, RegistryError, RepoKind};
use serde::Serialize;

/// The most results one search returns, as crates.io allows.
const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct SearchHit {
    pub name: String,
    pub max_version: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub crates: Vec<SearchHit>,
    pub total: u64,
}

impl Registry {
    /// Crates the caller may see whose name or description matches.
    pub async fn search(
        &self,
        caller: Option<&Principal>,
        repo: &str,
        query: &str,
        per_page: usize,
    ) -> Result<SearchResults, RegistryError> {
        let repository = self.readable_repository(caller, repo, None).await?;
        let limit = per_page.clamp(1, MAX_PER_PAGE);
        let query = query.trim();
        let (crates, total) = match repository.kind {
            RepoKind::Virtual => {
                self.virtual_search(caller, &repository, query, limit)
                    .await?
            }
            RepoKind::Remote => self.remote_search(&repository, query, limit).await?,
            RepoKind::Local => self.local_search(caller, &repository, query, limit).await?,
        };
        Ok(SearchResults { crates, total })
    }

    async fn local_search(
        &self,
        caller: Option<&Principal>,
        repository: &crate::Repository,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let repo = repository.name.as_str();
        let (mut records, mut total) = self.store.search(repo, query, limit).await?;
        // A token limited to some crates of a private repository sees only those.
        if let Some(token) = caller.map(|c| &c.token)
            && !repository.anonymous_read
            && !token.crates.is_empty()
        {
            records.retain(|k| token_covers_crate(token, &k.name));
            total = records.len() as u64;
        }
        let crates = records
            .into_iter()
            .map(|k| SearchHit {
                name: k.name,
                max_version: k.max_version,
                description: k.description,
            })
            .collect();
        Ok((crates, total))
    }
}
