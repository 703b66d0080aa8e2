//! The one way a `.crate` is read: [`inspect_crate`] checks the tarball as
//! untrusted input and computes its index line and package metadata from
//! the normalized `Cargo.toml` inside it.

mod archive;
mod bounds;
#[cfg(any(feature = "builder", test))]
mod builder;
mod error;
mod limits;
mod manifest;
mod metadata;

pub use archive::package_dir;
#[cfg(any(feature = "builder", test))]
pub use builder::{Compression, EntryType, TarballBuilder};
pub use error::TarballError;
pub use limits::TarballLimits;
pub use metadata::{CrateMetadata, PackageInfo, inspect_crate, read_readme};
