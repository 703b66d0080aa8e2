/// Why a `.crate` was refused. Each message is shown to the publisher as it is.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("the .crate is {size} bytes, over the {limit} limit")]
    TooLarge { size: u64, limit: String },
    #[error(
        "the .crate unpacks to more than {limit}; remove large files from the package (see `cargo package --list`)"
    )]
    UnpackedTooLarge { limit: String },
    #[error("the .crate is not a gzip-compressed tar archive: {0}")]
    Corrupt(String),
    #[error(
        "`{path}` is outside the `{prefix}/` directory; a .crate may only contain files under it"
    )]
    OutsidePrefix { path: String, prefix: String },
    #[error("`{0}` contains `..` or is absolute; a .crate may only contain plain relative paths")]
    UnsafePath(String),
    #[error("`{0}` is a link; symbolic and hard links are not allowed in a .crate")]
    Link(String),
    #[error(
        "`{0}` is a device, pipe or other special file; a .crate may only contain regular files and directories"
    )]
    SpecialFile(String),
    #[error("the .crate has no `{0}`")]
    MissingManifest(String),
    #[error("the .crate has more than one `{0}`")]
    DuplicateManifest(String),
    #[error("`{path}` is larger than {limit}")]
    FileTooLarge { path: String, limit: String },
    #[error("Cargo.toml is invalid: {0}")]
    InvalidManifest(String),
    #[error("Cargo.toml says name `{manifest}` but the upload is for `{expected}`")]
    NameMismatch { manifest: String, expected: String },
    #[error("Cargo.toml says version {manifest} but the upload is for {expected}")]
    VersionMismatch { manifest: String, expected: String },
    #[error("dependency `{name}` has an invalid version requirement `{req}`: {why}")]
    InvalidRequirement {
        name: String,
        req: String,
        why: String,
    },
    #[error(
        "dependency `{0}` has no version requirement; every dependency of a published crate needs one"
    )]
    MissingRequirement(String),
    #[error("the crate declares {count} dependencies; at most {limit} are allowed")]
    TooManyDependencies { count: usize, limit: usize },
    #[error("the crate declares {count} features; at most {limit} are allowed")]
    TooManyFeatures { count: usize, limit: usize },
    #[error("feature `{feature}` lists {count} entries; at most {limit} are allowed")]
    FeatureTooLong {
        feature: String,
        count: usize,
        limit: usize,
    },
}
