use anyhow::Context;
use crateyard_core::{Registry, RegistryConfig};
use crateyard_local::{DataDir, FsBlobStore, SqliteStore};
use std::path::Path;
use std::sync::Arc;

const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:7878";

/// The registry over a data directory. `public_url`: the URL clients reach;
/// when `None`, the one the server last announced.
pub fn open(data: &Path, public_url: Option<&str>) -> anyhow::Result<Registry> {
    let dirs = DataDir::new(data);
    std::fs::create_dir_all(dirs.root())
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let blobs = FsBlobStore::new(dirs.clone()).context("cannot open the object directory")?;
    let store = SqliteStore::open(&dirs.database()).context("cannot open the SQLite database")?;
    let public_url = match public_url {
        Some(url) => {
            std::fs::write(dirs.public_url_file(), url).context("cannot record the public URL")?;
            url.to_string()
        }
        None => std::fs::read_to_string(dirs.public_url_file())
            .unwrap_or_else(|_| DEFAULT_PUBLIC_URL.into()),
    };
    Ok(Registry::new(
        Arc::new(blobs),
        Arc::new(store),
        RegistryConfig::new(public_url.trim(), None),
    ))
}
