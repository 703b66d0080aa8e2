use std::path::{Path, PathBuf};

/// Where local mode keeps everything; the one place that names its parts.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Objects by key: `{repo}/index/…`, `{repo}/crates/…`. Served as static files.
    pub fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// Where object user metadata was kept before it moved into the
    /// objects' extended attributes; read once to move it, then removed.
    pub fn legacy_object_metadata(&self) -> PathBuf {
        self.root.join("object-meta")
    }

    /// Archived `.crate` files (`crateyard retention`), by key; each one's
    /// key under `objects/` is a link to it, so reads never notice. Mount
    /// cheaper storage here.
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    /// Lock files that serialise writes of one object across processes.
    pub fn object_locks(&self) -> PathBuf {
        self.root.join("object-locks")
    }

    /// The URL the server last announced, for admin commands run beside it.
    pub fn public_url_file(&self) -> PathBuf {
        self.root.join("public-url")
    }

    pub fn database(&self) -> PathBuf {
        self.root.join("crateyard.sqlite3")
    }
}
