//! A repository's index as a git repository, for cargo's git index
//! protocol over git's dumb HTTP transport: static files (`HEAD`,
//! `info/refs`, loose objects) written beside the sparse index, which the
//! tree mirrors file for file.

mod error;
mod object;
mod pack;
mod refs;
mod repack;
mod tree_edit;
mod writer;

pub use error::GitError;
pub use object::EncodedObject;
pub use repack::{REPACK_LOOSE, Repacked};
pub use tree_edit::{Change, Edited, Trees, apply, missing_trees};
pub use writer::{GitIndex, Outcome};
