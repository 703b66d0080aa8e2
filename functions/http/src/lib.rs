//! The HTTP face of the registry: one axum router for local mode and Lambda.

mod api;
mod error;
mod read_access;
mod request;
mod router;
mod static_files;

pub use error::ApiError;
pub use router::{AppState, router};
