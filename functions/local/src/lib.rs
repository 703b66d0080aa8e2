//! Local-mode adapters: objects as files under a data directory, metadata
//! in SQLite. Both are safe to share between processes (the server and the
//! `crateyard` admin commands run side by side).

mod data_dir;
mod fs_blob;
mod sqlite_audit;
mod sqlite_downloads;
mod sqlite_store;

pub use data_dir::DataDir;
pub use fs_blob::{FsBlobStore, METADATA_XATTR, remove_abandoned_temp_files};
pub use sqlite_store::SqliteStore;
