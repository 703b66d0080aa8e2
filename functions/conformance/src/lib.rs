//! One conformance suite for the storage ports, run by every adapter's
//! tests: each function takes a fresh, empty store and panics on a breach of
//! the semantics the services rely on (those of S3 and DynamoDB).

mod blob;
mod metadata;

pub use blob::{
    blob_cas_race, blob_conditional_delete, blob_create_only, blob_metadata_and_listing,
    blob_put_many, blob_update_compare_and_swap,
};
pub use metadata::{
    store_audit_log, store_commit_checks_the_repository, store_commit_is_conditional,
    store_commit_race, store_crates_with_versions, store_download_counts, store_reindex_jobs,
    store_repositories, store_search, store_users_and_tokens, store_version_delete,
};

/// Defines one `#[tokio::test]` per suite function for an adapter, given a
/// function from a new temp dir to a future of a fresh, empty store.
#[macro_export]
macro_rules! blob_suite {
    ($make:expr) => {
        $crate::blob_suite!(@tests $make; blob_create_only, blob_update_compare_and_swap, blob_metadata_and_listing, blob_cas_race, blob_conditional_delete, blob_put_many);
    };
    (@tests $make:expr; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let store = ($make)(dir.path()).await;
            $crate::$name(&store).await;
        }
    )*};
}

#[macro_export]
macro_rules! metadata_suite {
    ($make:expr) => {
        $crate::metadata_suite!(@tests $make; store_repositories, store_commit_is_conditional, store_commit_race, store_crates_with_versions, store_search, store_users_and_tokens, store_reindex_jobs, store_audit_log, store_version_delete, store_commit_checks_the_repository, store_download_counts);
    };
    (@tests $make:expr; $($name:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            let store = ($make)(dir.path()).await;
            $crate::$name(&store).await;
        }
    )*};
}
