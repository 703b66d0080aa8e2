use crateyard_core::{BlobError, RegistryError};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("storage failed: {0}")]
    Blob(#[from] BlobError),
    #[error("git object {0} is missing")]
    MissingObject(String),
    #[error("git object {id} is damaged: {why}")]
    BadObject { id: String, why: String },
    #[error("`info/refs` is damaged: {0}")]
    BadRefs(String),
    #[error("`{0}` cannot be a path in a git tree")]
    BadPath(String),
    #[error("git object encoding failed: {0}")]
    Encode(String),
    #[error("the git index of `{0}` changed under every attempt; try again")]
    Contention(String),
    /// Reading the files the tree mirrors failed.
    #[error("{0}")]
    Files(Box<RegistryError>),
}

impl From<RegistryError> for GitError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Blob(e) => GitError::Blob(e),
            other => GitError::Files(Box::new(other)),
        }
    }
}

impl From<GitError> for RegistryError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::Blob(e) => RegistryError::Blob(e),
            GitError::Contention(repo) => RegistryError::Contention(repo),
            GitError::Files(e) => *e,
            other => RegistryError::GitIndex(other.to_string()),
        }
    }
}
