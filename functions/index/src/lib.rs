//! The sparse-index data model: one JSON line per published version.
//!
//! Pure data and pure functions, no I/O: the line types, the feature split
//! (`features` / `features2`) and the index path of a crate.

mod features;
mod line;
mod path;

pub use features::{FeaturesMap, split_features};
pub use line::{CRATES_IO_INDEX, Dependency, DependencyKind, IndexLine, write_lines};
pub use path::index_file_path;
