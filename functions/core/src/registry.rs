use crate::{BlobStore, MetadataStore, RegistryError, RepoKind, Repository};

/// Where, under a repository, a private repository's reads are served.
pub const PRIVATE_READS: &str = "api/private";
/// Where, under a repository, a remote or virtual repository's reads are served.
pub const PROXIED_READS: &str = "api/proxy";
use crate::{UploadStore, UpstreamClient};
use crateyard_tarball::TarballLimits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Where index and crate files are read, without a trailing slash.
    pub public_url: String,
    /// Where `{repo}/api/…` is served, without a trailing slash.
    pub api_url: String,
    pub limits: TarballLimits,
    /// Who writes a change's derived files: the request, or a consumer of
    /// the metadata store's change stream.
    pub derived_files: DerivedFiles,
    /// How long audit entries are kept.
    pub audit_retention: std::time::Duration,
}

/// Who writes the files derived from a committed change (the index file,
/// the crate page, a new version's README, `recent.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DerivedFiles {
    /// The request that commits, before it answers: the change is in the
    /// index when the answer arrives.
    #[default]
    InRequest,
    /// A consumer of the metadata store's change stream (DynamoDB Streams
    /// on AWS), through [`Registry::write_changed_crates`]: the request
    /// ends at its commit, and the index follows within the stream's
    /// delay. cargo waits for a published version to appear in the index.
    ChangeStream,
}

impl DerivedFiles {
    /// The names configuration uses (`CRATEYARD_DERIVED_FILES`).
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "in-request" => Ok(Self::InRequest),
            "change-stream" => Ok(Self::ChangeStream),
            other => Err(format!(
                "derived files are written `in-request` or from the `change-stream`, not `{other}`"
            )),
        }
    }
}

impl RegistryConfig {
    pub fn new(public_url: &str, api_url: Option<&str>) -> Self {
        let public_url = public_url.trim_end_matches('/').to_string();
        let api_url = api_url.map_or_else(
            || public_url.clone(),
            |u| u.trim_end_matches('/').to_string(),
        );
        Self {
            public_url,
            api_url,
            limits: TarballLimits::default(),
            derived_files: DerivedFiles::InRequest,
            audit_retention: crate::DEFAULT_AUDIT_RETENTION,
        }
    }

    /// The web UI, under the public URL.
    pub fn ui_url(&self) -> String {
        format!("{}/{}", self.public_url, crate::KeyPrefix::WebUi)
    }

    /// Where a user gets a token: the web UI's tokens page, which every
    /// 401 names to cargo as its `login_url`.
    pub fn login_url(&self) -> String {
        format!("{}tokens", self.ui_url())
    }
}

/// The services, over the two storage ports. Cheap to share behind an `Arc`.
pub struct Registry {
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) config: RegistryConfig,
    /// How remote repositories reach their upstreams; without it they fail.
    pub(crate) upstream_client: Option<Arc<dyn UpstreamClient>>,
    /// Upstream fetches in progress, by object key (see `remote.rs`).
    pub(crate) inflight: Mutex<HashMap<crate::ObjectKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Upstreams' `config.json`, by URL, with when they were fetched.
    pub(crate) upstream_configs: Mutex<HashMap<String, (std::time::Instant, serde_json::Value)>>,
    /// Large uploads' records; `None` where they are not supported (local mode).
    pub(crate) uploads: Option<Arc<dyn UploadStore>>,
    pub(crate) token_users: crate::auth::TokenUsers,
    /// Where reindex jobs' tasks go; `None` where jobs cannot run.
    pub(crate) tasks: Option<crate::TaskQueue>,
    /// Another form of the index kept in step (the git index); `None`
    /// where this process does not write it.
    pub(crate) mirror: Option<Arc<dyn crate::IndexMirror>>,
    /// Crates waiting for this process's next commit of a repository's
    /// mirror, by repository (see `index_mirror.rs`).
    pub(crate) mirror_pending: Mutex<HashMap<String, HashMap<String, crate::CrateName>>>,
    /// Search shards as last read (see `search_index.rs`).
    pub(crate) search_cache: crate::search_index::ShardCache,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        store: Arc<dyn MetadataStore>,
        config: RegistryConfig,
    ) -> Self {
        Self {
            blobs,
            store,
            config,
            upstream_client: None,
            inflight: Mutex::default(),
            upstream_configs: Mutex::default(),
            uploads: None,
            token_users: Default::default(),
            tasks: None,
            mirror: None,
            mirror_pending: Mutex::default(),
            search_cache: Default::default(),
        }
    }

    /// Lets remote repositories fetch from their upstreams.
    pub fn with_upstream(mut self, client: Arc<dyn UpstreamClient>) -> Self {
        self.upstream_client = Some(client);
        self
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The URL under which a repository's `index/` and `crates/` are read:
    /// the static host for a public local repository. A private one is read
    /// through the API (`{repo}/api/private/`), since every read must show a
    /// token and on AWS only the API can check one; a remote or virtual one
    /// too (`{repo}/api/proxy/`), since its files are fetched or chosen on
    /// demand.
    pub fn read_base(&self, repo: &Repository) -> String {
        let api = &self.config.api_url;
        match (repo.anonymous_read, repo.kind) {
            (false, _) => format!("{api}/{}/{PRIVATE_READS}", repo.name),
            (true, RepoKind::Local) => format!("{}/{}", self.config.public_url, repo.name),
            (true, _) => format!("{api}/{}/{PROXIED_READS}", repo.name),
        }
    }

    /// The sparse index URL cargo is configured with, `sparse+` included.
    pub fn index_url(&self, repo: &Repository) -> String {
        format!("sparse+{}/index/", self.read_base(repo))
    }

    pub async fn repository(&self, name: &str) -> Result<Repository, RegistryError> {
        self.store
            .get_repository(name)
            .await?
            .ok_or_else(|| RegistryError::UnknownRepository(name.into()))
    }

    pub async fn repositories(&self) -> Result<Vec<Repository>, RegistryError> {
        Ok(self.store.list_repositories().await?)
    }

    /// The "Set Me Up" snippet for `~/.cargo/config.toml`.
    pub fn setup_snippet(&self, repo: &Repository) -> String {
        format!(
            "[registries.{}]\nindex = \"{}\"\ncredential-provider = \"cargo:token\"\n",
            repo.name,
            self.index_url(repo)
        )
    }

    /// The repository's index as a git repository (git's dumb HTTP
    /// protocol), for cargo before 1.68 and `net.git-fetch-with-cli`:
    /// where it is kept, for every kind of repository. Kept by the process
    /// that writes index files (`with_index_mirror`) or, on AWS, by the
    /// change stream's consumer and the reindex function's tasks.
    pub fn git_index_url(&self, repo: &Repository) -> Option<String> {
        let kept = self.mirror.is_some() || self.config.derived_files == DerivedFiles::ChangeStream;
        // Static for everyone where the repository is public (a remote or
        // virtual one's other files are not: they are chosen per read).
        let base = match repo.anonymous_read {
            true => format!("{}/{}", self.config.public_url, repo.name),
            false => self.read_base(repo),
        };
        kept.then(|| format!("{base}/{}", crate::Section::Git.as_str()))
    }

    /// The "Set Me Up" snippet for the git index, where there is one.
    pub fn git_setup_snippet(&self, repo: &Repository) -> Option<String> {
        let url = self.git_index_url(repo)?;
        Some(format!(
            "[registries.{}]\nindex = \"{url}\"\ncredential-provider = \"cargo:token\"\n\n\
             [net]\ngit-fetch-with-cli = true\n",
            repo.name,
        ))
    }
}

impl Registry {
    /// An index or crate object, for reads that cannot be static (private
    /// repositories on AWS); the caller has checked access.
    pub async fn object(
        &self,
        key: &crate::ObjectKey,
    ) -> Result<Option<(bytes::Bytes, crate::ObjectMeta)>, RegistryError> {
        Ok(self.blobs.get(key).await?)
    }

    pub async fn object_exists(&self, key: &crate::ObjectKey) -> Result<bool, RegistryError> {
        Ok(self.blobs.head(key).await?.is_some())
    }

    /// A short-lived URL to download an object straight from the store,
    /// where the store has such URLs (S3); the caller has checked access.
    pub async fn presigned_download(
        &self,
        key: &crate::ObjectKey,
    ) -> Result<Option<String>, RegistryError> {
        const LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);
        Ok(self.blobs.presigned_get(key, LIFETIME).await?)
    }
}
