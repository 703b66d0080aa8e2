/// Why a `.crate` was refused. Each message is shown to the publisher as it
/// is (`cargo publish` prints it verbatim), so it says what to change.
#[derive(Debug, thiserror::Error)]
pub enum TarballError {
    #[error("the .crate is {size}, over the {limit} limit")]
    TooLarge { size: String, limit: String },
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
    #[error("`{path}` leaves the `{prefix}/` directory; a .crate may only contain files under it")]
    ParentComponent { path: String, prefix: String },
    #[error(
        "`{path}` is an absolute path; a .crate may only contain files under the `{prefix}/` directory"
    )]
    AbsolutePath { path: String, prefix: String },
    #[error(
        "`{0}` has an empty or `.` path component; a .crate may only contain plain relative paths"
    )]
    IrregularPath(String),
    #[error("`{0}` is a symbolic link; links are not allowed in a .crate")]
    Symlink(String),
    #[error("`{0}` is a hard link; links are not allowed in a .crate")]
    HardLink(String),
    #[error("`{path}` is a {kind}; a .crate may only contain regular files and directories")]
    SpecialFile { path: String, kind: String },
    #[error("the .crate has no `{0}`")]
    MissingManifest(String),
    #[error(
        "the .crate has more than one `{0}` (names compared ignoring case); it must have exactly one"
    )]
    DuplicateManifest(String),
    #[error("`{path}` is larger than {limit}; a Cargo.toml may be at most {limit}")]
    ManifestTooLarge { path: String, limit: String },
    #[error("the Cargo.toml in the .crate is invalid: {0}")]
    InvalidManifest(String),
    #[error("Cargo.toml says name `{manifest}` but the upload is for `{expected}`")]
    NameMismatch { manifest: String, expected: String },
    #[error("Cargo.toml says version {manifest} but the upload is for {expected}")]
    VersionMismatch { manifest: String, expected: String },
    #[error("version `{version}` is not a valid semantic version: {why}")]
    InvalidVersion { version: String, why: String },
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
    #[error("{field} in Cargo.toml is longer than {limit} characters")]
    FieldTooLong { field: String, limit: usize },
    #[error("`{field}` in Cargo.toml has {count} entries; at most {limit} are allowed")]
    TooManyEntries {
        field: String,
        count: usize,
        limit: usize,
    },
    #[error("feature `{feature}` lists {count} entries; at most {limit} are allowed")]
    FeatureTooLong {
        feature: String,
        count: usize,
        limit: usize,
    },
}
