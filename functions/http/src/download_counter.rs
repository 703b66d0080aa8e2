//! Local mode's download counts: each `.crate` served adds one to a
//! counter in memory (a short lock, no I/O on the read path), and a task
//! writes the counters to the metadata store every few seconds, and once
//! more at shutdown. On AWS downloads never reach our code: CloudFront's
//! access logs are counted instead (the `downloads` function).

use crateyard_core::{DownloadCount, ObjectKey, Registry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often counts reach the store: a crash loses at most this much.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

type Counters = HashMap<(ObjectKey, String), u64>;

#[derive(Debug, Default)]
pub struct DownloadCounter {
    pending: Mutex<Counters>,
}

impl DownloadCounter {
    /// One download of `key` (a `.crate`: other keys are not counted).
    pub fn record(&self, key: &ObjectKey) {
        if !matches!(key, ObjectKey::CrateFile { .. }) {
            return;
        }
        let day = time::OffsetDateTime::now_utc().date().to_string();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry((key.clone(), day)).or_default() += 1;
    }

    fn take(&self) -> Counters {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Writes what was counted; on failure keeps it for the next flush.
    pub async fn flush(&self, registry: &Registry) {
        let taken = self.take();
        if taken.is_empty() {
            return;
        }
        let counts: Vec<DownloadCount> = taken
            .iter()
            .filter_map(|((key, day), n)| {
                DownloadCount::of(key, day).map(|c| DownloadCount { count: *n, ..c })
            })
            .collect();
        if let Err(e) = registry.record_downloads(None, &counts).await {
            tracing::warn!(error = %e, "download counts not written; kept for the next try");
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (k, n) in taken {
                *pending.entry(k).or_default() += n;
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until the returned handle is aborted
    /// (call [`Self::flush`] once more after that).
    pub fn spawn_flusher(self: &Arc<Self>, registry: Arc<Registry>) -> tokio::task::JoinHandle<()> {
        let counter = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FLUSH_EVERY);
            loop {
                tick.tick().await;
                counter.flush(&registry).await;
            }
        })
    }
}
