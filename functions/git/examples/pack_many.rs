//! How long, and how much memory, rebuilding and packing a git index of N
//! crates takes (what a reindex job's last task does), on local mode's
//! store in a temporary directory:
//! `/usr/bin/time -v cargo run --release -p crateyard_git --example pack_many -- 10000`

use bytes::Bytes;
use crateyard_core::{BlobStore, ObjectKey, PutMode, Repository};
use crateyard_git::GitIndex;
use crateyard_local::{DataDir, FsBlobStore};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crates: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(DataDir::new(dir.path()))?);
    let config = ObjectKey::index_config("main")?;
    blobs
        .put(
            &config,
            Bytes::from_static(b"{\"dl\":\"x\"}"),
            PutMode::Overwrite,
            config.put_options(false),
        )
        .await?;
    for i in 0..crates {
        let name = format!("c{:x}crate{i}", i * 7919 % 65536);
        let key = ObjectKey::index_file("main", &name)?;
        // A line as long as a real one with a few dependencies.
        let line = format!(
            "{{\"name\":\"{name}\",\"vers\":\"1.0.{i}\",\"deps\":[{{\"name\":\"serde\",\"req\":\"^1\",\"features\":[],\"optional\":false,\"default_features\":true,\"target\":null,\"kind\":\"normal\"}}],\"cksum\":\"{:064x}\",\"features\":{{}},\"yanked\":false}}\n",
            i
        );
        blobs
            .put(
                &key,
                Bytes::from(line.repeat(3)),
                PutMode::Overwrite,
                key.put_options(false),
            )
            .await?;
    }
    let git = GitIndex::new(blobs);
    let started = Instant::now();
    let outcome = git.rebuild(&Repository::new_local("main")).await?;
    println!(
        "{crates} crates: rebuilt and packed in {:.1} s: {outcome:?}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
