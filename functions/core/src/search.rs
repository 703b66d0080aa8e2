use crate::access::token_covers_crate;
use crate::{Principal, Registry, RegistryError, RepoKind, TokenRecord};
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
        // A token limited to some crates of a private repository sees only those.
        let limited = caller
            .map(|c| &c.token)
            .filter(|token| !repository.anonymous_read && !token.crates.is_empty());
        self.search_crates(&repository.name, query, limit, limited)
            .await
    }

    /// The crates of a local repository (or a virtual one's local member)
    /// that `query` matches, at most `limit`, by name, and how many in all,
    /// only those a token `limited` to some crates covers: from the store's
    /// text index, or from search shards where it has none.
    pub(crate) async fn search_crates(
        &self,
        repo: &str,
        query: &str,
        limit: usize,
        limited: Option<&TokenRecord>,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let covered =
            |hit: &SearchHit| limited.is_none_or(|token| token_covers_crate(token, &hit.name));
        if self.keeps_search_shards() {
            return self.search_shards(repo, query, limit, covered).await;
        }
        let (records, total) = self.store.search(repo, query, limit).await?;
        let hits: Vec<SearchHit> = records
            .into_iter()
            .map(|k| SearchHit {
                name: k.name,
                max_version: k.max_version,
                description: k.description,
            })
            .filter(covered)
            .collect();
        // The store counted every match: past the first `limit` nothing is
        // known of what a limited token covers, so it is told only the hits.
        let total = match limited {
            None => total,
            Some(_) => hits.len() as u64,
        };
        Ok((hits, total))
    }
}
