//! Remote repositories: a read-through cache of another sparse registry.
//! Index files are fetched on first request and revalidated (ETag) after the
//! repository's interval; `.crate` files are fetched once, checked against
//! the index line's checksum and kept. A failing upstream is answered from
//! the cache, marked stale.

use crate::clock::now_unix;
use crate::search::SearchHit;
use crate::upstream::{UpstreamError, UpstreamResponse};
use crate::{
    CrateName, CrateVersion, ObjectKey, ObjectMeta, PutMode, Registry, RegistryError, RepoKind,
    Repository,
};
use bytes::Bytes;
use crateyard_index::{IndexLine, index_file_path};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::sync::Arc;

const UPSTREAM_ETAG: &str = "upstream-etag";
/// The longest upstream ETag kept (real ones are under 100 bytes).
const MAX_UPSTREAM_ETAG: usize = 1024;
const FETCHED_AT: &str = "fetched-at";
/// Index files are small; a bigger answer is not an index file.
const MAX_INDEX_FILE: u64 = 50 * 1024 * 1024;

/// A file served on behalf of a remote repository.
#[derive(Debug)]
pub struct CachedFile {
    /// Where the file is kept in the blob store.
    pub key: ObjectKey,
    pub body: Bytes,
    pub meta: ObjectMeta,
    /// Why the copy may be out of date, when the upstream could not be asked.
    pub stale: Option<String>,
    /// From a private repository (for a virtual repository: the member it
    /// came from): it must stay out of shared caches and off the static
    /// read path.
    pub private: bool,
}

/// Where a remote repository's upstream is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Upstream {
    /// The upstream's sparse index URL, e.g. `https://index.crates.io/`.
    pub index_url: String,
    /// Sent raw in `Authorization` to a private upstream.
    #[serde(default)]
    pub token: Option<String>,
    /// How long a cached index file is served before it is revalidated.
    pub revalidate_secs: u64,
}

impl Upstream {
    fn url(&self, path: &str) -> String {
        format!(
            "{}/{path}",
            self.index_url
                .trim_start_matches("sparse+")
                .trim_end_matches('/')
        )
    }
}

impl Registry {
    /// A file as the blob store holds it.
    pub(crate) async fn stored_file(
        &self,
        key: ObjectKey,
    ) -> Result<Option<CachedFile>, RegistryError> {
        Ok(self.blobs.get(&key).await?.map(|(body, meta)| CachedFile {
            key,
            body,
            meta,
            stale: None,
            private: false,
        }))
    }

    fn upstream_of<'a>(
        &self,
        repo: &'a Repository,
    ) -> Result<(&'a Upstream, &Arc<dyn crate::UpstreamClient>), RegistryError> {
        match (&repo.upstream, &self.upstream_client) {
            (Some(upstream), Some(client)) if repo.kind == RepoKind::Remote => {
                Ok((upstream, client))
            }
            _ => Err(RegistryError::BadRequest(format!(
                "repository `{}` is not a remote repository this server can reach",
                repo.name
            ))),
        }
    }

    /// One fetch at a time per key in this process: concurrent first
    /// requests wait for the first one's result instead of asking again.
    pub(crate) async fn single_flight(&self, key: &ObjectKey) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut inflight = self.inflight.lock().expect("not poisoned");
            inflight.retain(|_, lock| Arc::strong_count(lock) > 1);
            inflight.entry(key.clone()).or_default().clone()
        };
        lock.lock_owned().await
    }

    /// The index file of crate `name` in a remote repository, or `None`
    /// when the upstream has no such crate.
    pub async fn remote_index_file(
        &self,
        repo: &Repository,
        name: &CrateName,
    ) -> Result<Option<CachedFile>, RegistryError> {
        let (upstream, client) = self.upstream_of(repo)?;
        let path = index_file_path(name.as_str());
        let key = ObjectKey::index_file(&repo.name, name.as_str())?;
        let fresh = |meta: &ObjectMeta| {
            let fetched: i64 = meta
                .metadata
                .get(FETCHED_AT)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            now_unix() - fetched < upstream.revalidate_secs as i64
        };
        if let Some((body, meta)) = self.blobs.get(&key).await?
            && fresh(&meta)
        {
            return Ok(Some(CachedFile {
                key: key.clone(),
                body,
                meta,
                stale: None,
                private: false,
            }));
        }
        let flight = self.single_flight(&key).await;
        let cached = self.blobs.get(&key).await?;
        if let Some((body, meta)) = &cached
            && fresh(meta)
        {
            return Ok(Some(CachedFile {
                key: key.clone(),
                body: body.clone(),
                meta: meta.clone(),
                stale: None,
                private: false,
            }));
        }
        let etag = cached
            .as_ref()
            .and_then(|(_, meta)| meta.metadata.get(UPSTREAM_ETAG).map(String::as_str));
        let url = upstream.url(&path);
        let answer = client
            .get(&url, upstream.token.as_deref(), etag, MAX_INDEX_FILE)
            .await;
        tracing::info!(repo = %repo.name, %url, outcome = ?answer.as_ref().map(kind_of), bytes = answer.as_ref().map_or(0, body_len), "fetched from upstream");
        let cached_body = cached.as_ref().map(|(body, _)| body.clone());
        let (body, upstream_etag) = match (answer, cached) {
            (Ok(UpstreamResponse::Fresh { body, etag }), _) => (body, etag),
            (Ok(UpstreamResponse::NotModified), Some((body, meta))) => {
                (body, meta.metadata.get(UPSTREAM_ETAG).cloned())
            }
            (Ok(UpstreamResponse::NotModified), None) => {
                return Err(UpstreamError(format!(
                    "{url} answered 304 to a request without an ETag"
                ))
                .into());
            }
            (Ok(UpstreamResponse::NotFound), cached) => {
                self.blobs.delete(&key).await?;
                if cached.is_some() {
                    self.mirror_soon(repo, Some(std::slice::from_ref(name)))
                        .await;
                }
                return Ok(None);
            }
            (Err(e), Some((body, meta))) => {
                tracing::warn!(repo = %repo.name, %url, error = %e, "upstream unreachable; serving the cached index file");
                return Ok(Some(CachedFile {
                    key: key.clone(),
                    body,
                    meta,
                    stale: Some(format!("the upstream could not be reached ({e})")),
                    private: false,
                }));
            }
            (Err(e), None) => return Err(e.into()),
        };
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert(FETCHED_AT.to_string(), now_unix().to_string());
        // An upstream's ETag is its to choose; one too long for object
        // metadata (S3: 2 KB in all; a file's extended attribute: about
        // 4 KB on ext4) is not kept, which costs only a full fetch next time.
        if let Some(etag) = upstream_etag.filter(|etag| etag.len() <= MAX_UPSTREAM_ETAG) {
            metadata.insert(UPSTREAM_ETAG.to_string(), etag);
        }
        let mut options = key.put_options(!repo.anonymous_read);
        options.metadata = metadata;
        let meta = self
            .blobs
            .put(&key, body.clone(), PutMode::Overwrite, options)
            .await?;
        // Waiting readers go on with the new file while the git index,
        // which mirrors the cache, takes it: a new or changed file only (a
        // revalidation that brought the same bytes commits nothing).
        drop(flight);
        if cached_body.as_ref() != Some(&body) {
            self.mirror_soon(repo, Some(std::slice::from_ref(name)))
                .await;
        }
        Ok(Some(CachedFile {
            key: key.clone(),
            body,
            meta,
            stale: None,
            private: false,
        }))
    }

    /// A `.crate` of a remote repository: from the cache, or fetched once,
    /// checked against the index line's checksum, and kept.
    pub async fn remote_crate_file(
        &self,
        repo: &Repository,
        name: &CrateName,
        version: &CrateVersion,
    ) -> Result<Option<CachedFile>, RegistryError> {
        let (upstream, client) = self.upstream_of(repo)?;
        let key = ObjectKey::crate_file(&repo.name, name.as_str(), version.as_str())?;
        if let Some(file) = self.stored_file(key.clone()).await? {
            return Ok(Some(file));
        }
        let Some(index) = self.remote_index_file(repo, name).await? else {
            return Ok(None);
        };
        let Some(line) = String::from_utf8_lossy(&index.body)
            .lines()
            .filter_map(|l| serde_json::from_str::<IndexLine>(l).ok())
            // Cargo asks with the index line's own spelling; any other
            // spelling would store (and fetch) one more copy.
            .find(|l| l.vers == version.as_str() && l.name == name.as_str())
        else {
            return Ok(None);
        };
        let _flight = self.single_flight(&key).await;
        if let Some(file) = self.stored_file(key.clone()).await? {
            return Ok(Some(file));
        }
        let url = self.upstream_download_url(repo, &line).await?;
        let answer = client
            .get(
                &url,
                upstream.token.as_deref(),
                None,
                self.config.limits.max_compressed,
            )
            .await;
        tracing::info!(repo = %repo.name, %url, outcome = ?answer.as_ref().map(kind_of), bytes = answer.as_ref().map_or(0, body_len), "fetched from upstream");
        let body = match answer? {
            UpstreamResponse::Fresh { body, .. } => body,
            _ => return Ok(None),
        };
        let cksum = hex::encode(Sha256::digest(&body));
        if cksum != line.cksum {
            tracing::error!(repo = %repo.name, %url, expected = %line.cksum, got = %cksum, "upstream .crate fails its checksum");
            return Err(UpstreamError(format!(
                "the upstream's {name} {version} does not match the checksum in its index (expected {}, got {cksum}); it was not stored",
                line.cksum
            ))
            .into());
        }
        let options = key.put_options(!repo.anonymous_read);
        let meta = match self
            .blobs
            .put(&key, body.clone(), PutMode::Create, options)
            .await
        {
            Ok(meta) => meta,
            Err(crate::BlobError::AlreadyExists(_)) => match self.blobs.head(&key).await? {
                Some(meta) => meta,
                None => return Ok(None),
            },
            Err(e) => return Err(e.into()),
        };
        Ok(Some(CachedFile {
            key: key.clone(),
            body,
            meta,
            stale: None,
            private: false,
        }))
    }

    /// Search in a remote repository: the upstream's own search API (as
    /// `cargo search` would call it), when its `config.json` names one.
    pub(crate) async fn remote_search(
        &self,
        repo: &Repository,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let (upstream, client) = self.upstream_of(repo)?;
        let Some(api) = self.upstream_config(repo).await?["api"]
            .as_str()
            .map(str::to_string)
        else {
            return Ok((Vec::new(), 0));
        };
        let url = format!(
            "{}/api/v1/crates?q={}&per_page={limit}",
            api.trim_end_matches('/'),
            utf8_percent_encode(query, NON_ALPHANUMERIC)
        );
        let body = match client
            .get(&url, upstream.token.as_deref(), None, 1024 * 1024)
            .await?
        {
            UpstreamResponse::Fresh { body, .. } => body,
            _ => return Ok((Vec::new(), 0)),
        };
        #[derive(serde::Deserialize)]
        struct Answer {
            crates: Vec<SearchHit>,
            meta: Meta,
        }
        #[derive(serde::Deserialize)]
        struct Meta {
            total: u64,
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            UpstreamError(format!(
                "{url} answered something other than search results: {e}"
            ))
        })?;
        Ok((answer.crates, answer.meta.total))
    }

    /// The upstream's `config.json`, kept in memory for the revalidation
    /// interval (it names the download and API URLs, which rarely change).
    async fn upstream_config(&self, repo: &Repository) -> Result<serde_json::Value, RegistryError> {
        let (upstream, client) = self.upstream_of(repo)?;
        let url = upstream.url("config.json");
        let max_age = std::time::Duration::from_secs(upstream.revalidate_secs);
        if let Some((at, config)) = self
            .upstream_configs
            .lock()
            .expect("not poisoned")
            .get(&url)
            && at.elapsed() < max_age
        {
            return Ok(config.clone());
        }
        let answer = client
            .get(&url, upstream.token.as_deref(), None, 64 * 1024)
            .await;
        tracing::info!(repo = %repo.name, %url, outcome = ?answer.as_ref().map(kind_of), bytes = answer.as_ref().map_or(0, body_len), "fetched from upstream");
        let config: serde_json::Value = match answer? {
            UpstreamResponse::Fresh { body, .. } => serde_json::from_slice(&body)
                .map_err(|e| UpstreamError(format!("{url} is not JSON: {e}")))?,
            _ => return Err(UpstreamError(format!("{url} is missing")).into()),
        };
        self.upstream_configs
            .lock()
            .expect("not poisoned")
            .insert(url, (std::time::Instant::now(), config.clone()));
        Ok(config)
    }

    /// Where the upstream serves a version: its `config.json` `dl` template.
    async fn upstream_download_url(
        &self,
        repo: &Repository,
        line: &IndexLine,
    ) -> Result<String, RegistryError> {
        let dl = self.upstream_config(repo).await?["dl"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| UpstreamError(format!("the upstream of `{}` has no `dl`", repo.name)))?;
        Ok(expand_dl(&dl, &line.name, &line.vers, &line.cksum))
    }
}

fn body_len(r: &UpstreamResponse) -> usize {
    match r {
        UpstreamResponse::Fresh { body, .. } => body.len(),
        _ => 0,
    }
}

fn kind_of(r: &UpstreamResponse) -> &'static str {
    match r {
        UpstreamResponse::Fresh { .. } => "fetched",
        UpstreamResponse::NotModified => "not modified",
        UpstreamResponse::NotFound => "not found",
    }
}

/// Fills a `dl` template as cargo does; without markers, cargo appends
/// `/{crate}/{version}/download`.
pub fn expand_dl(dl: &str, name: &str, version: &str, cksum: &str) -> String {
    const MARKERS: [&str; 5] = [
        "{crate}",
        "{version}",
        "{prefix}",
        "{lowerprefix}",
        "{sha256-checksum}",
    ];
    if !MARKERS.iter().any(|m| dl.contains(m)) {
        return format!("{}/{name}/{version}/download", dl.trim_end_matches('/'));
    }
    // cargo's `{prefix}`: the index directory, in the name's own case.
    let prefix = |name: &str| match name.len() {
        1 => "1".to_string(),
        2 => "2".to_string(),
        3 => format!("3/{}", &name[..1]),
        _ => format!("{}/{}", &name[..2], &name[2..4]),
    };
    dl.replace("{crate}", name)
        .replace("{version}", version)
        .replace("{lowerprefix}", &prefix(&name.to_ascii_lowercase()))
        .replace("{prefix}", &prefix(name))
        .replace("{sha256-checksum}", cksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dl_templates_expand_as_cargo_does() {
        assert_eq!(
            expand_dl("https://static.crates.io/crates", "serde", "1.0.0", "ab"),
            "https://static.crates.io/crates/serde/1.0.0/download"
        );
        assert_eq!(
            expand_dl(
                "https://h/{prefix}/{lowerprefix}/{crate}-{version}-{sha256-checksum}",
                "Serde",
                "1.0.0",
                "ab"
            ),
            "https://h/Se/rd/se/rd/Serde-1.0.0-ab"
        );
        assert_eq!(
            expand_dl("https://h/{prefix}/{crate}", "ab", "1", ""),
            "https://h/2/ab"
        );
    }
}
