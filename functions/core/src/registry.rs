use crate::clock::now_rfc3339;
use crate::keys::index_config_key;
use crate::{
    BlobStore, MetadataStore, PutMode, PutOptions, RegistryError, RepoKind, Repository, StoreError,
    UploadStore,
};
use crateyard_tarball::TarballLimits;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Where index and crate files are read, without a trailing slash.
    pub public_url: String,
    /// Where `{repo}/api/…` is served, without a trailing slash.
    pub api_url: String,
    pub limits: TarballLimits,
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
        }
    }
}

/// The services, over the two storage ports. Cheap to share behind an `Arc`.
pub struct Registry {
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) config: RegistryConfig,
    /// Large uploads' records; `None` where they are not supported (local mode).
    pub(crate) uploads: Option<Arc<dyn UploadStore>>,
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
            uploads: None,
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The sparse index URL cargo is configured with, `sparse+` included.
    pub fn index_url(&self, repo: &str) -> String {
        format!("sparse+{}/{repo}/index/", self.config.public_url)
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

    /// Creates a public local repository unless one of that name exists, and
    /// (re)writes its `config.json` either way, so a changed public URL takes effect.
    pub async fn ensure_repository(&self, name: &str) -> Result<Repository, RegistryError> {
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || name.is_empty()
        {
            return Err(RegistryError::BadRequest(format!(
                "`{name}` is not a valid repository name: use letters, digits, `-` and `_`"
            )));
        }
        let repo = Repository {
            name: name.into(),
            kind: RepoKind::Local,
            anonymous_read: true,
            created_at: now_rfc3339(),
        };
        match self.store.create_repository(&repo).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let repo = self.repository(name).await?;
        self.write_index_config(&repo).await?;
        Ok(repo)
    }

    /// `index/config.json`: where cargo downloads crates and finds the API.
    pub async fn write_index_config(&self, repo: &Repository) -> Result<(), RegistryError> {
        let config = serde_json::json!({
            "dl": format!("{}/{}/crates/{{crate}}/{{crate}}-{{version}}.crate", self.config.public_url, repo.name),
            "api": format!("{}/{}", self.config.api_url, repo.name),
            "auth-required": !repo.anonymous_read,
        });
        let options = PutOptions {
            content_type: "application/json",
            cache_control: crate::ObjectKind::IndexFile.cache_control(),
            ..PutOptions::default()
        };
        let body = serde_json::to_vec_pretty(&config).expect("JSON values serialize");
        self.blobs
            .put(
                &index_config_key(&repo.name),
                body.into(),
                PutMode::Overwrite,
                options,
            )
            .await?;
        Ok(())
    }

    /// The "Set Me Up" snippet for `~/.cargo/config.toml`.
    pub fn setup_snippet(&self, repo: &str) -> String {
        format!(
            "[registries.{repo}]\nindex = \"{}\"\ncredential-provider = \"cargo:token\"\n",
            self.index_url(repo)
        )
    }
}
