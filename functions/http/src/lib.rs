//! The HTTP face of the registry: one axum router for local mode and Lambda.

mod api;
mod download_counter;
mod error;
mod file_cache;
mod front_door;
mod https_client;
mod init;
mod proxied_reads;
mod read_access;
mod request;
mod router;
mod static_files;
mod ui;
mod upstream_client;

pub use download_counter::DownloadCounter;
pub use error::{ApiError, error_response};
pub use front_door::{App, app};
pub use https_client::https_client;
pub use init::{DEFAULT_REPOSITORY, initialise};
pub use router::{AppState, router};
pub use ui::ui_files;
pub use upstream_client::HttpUpstream;
