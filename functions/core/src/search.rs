use crate::Registry;
use crate::RegistryError;
use serde::Serialize;

/// The most results one search returns, as crates.io allows.
const MAX_PER_PAGE: usize = 100;

#[derive(Debug, Clone, Serialize)]
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
    pub async fn search(
        &self,
        repo: &str,
        query: &str,
        per_page: usize,
    ) -> Result<SearchResults, RegistryError> {
        self.repository(repo).await?;
        let limit = per_page.clamp(1, MAX_PER_PAGE);
        let (records, total) = self.store.search(repo, query.trim(), limit).await?;
        let crates = records
            .into_iter()
            .map(|k| SearchHit {
                name: k.name,
                max_version: k.max_version,
                description: k.description,
            })
            .collect();
        Ok(SearchResults { crates, total })
    }
}
