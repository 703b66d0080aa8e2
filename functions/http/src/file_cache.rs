//! Small static files kept in memory with their response headers, so a read
//! costs one `stat` instead of open/read/close and header formatting. Every
//! hit is checked against a fresh `stat`: objects are replaced by rename, so
//! a changed file has another inode, mtime or size and is read again.

use axum::http::HeaderValue;
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Larger files are read on every request (and off the async threads).
pub(crate) const MAX_CACHED_FILE: u64 = 256 * 1024;
/// When the cache would outgrow this, it starts over: simple, and bounded.
const MAX_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    dev: u64,
    ino: u64,
    modified: SystemTime,
    len: u64,
}

impl FileIdentity {
    pub(crate) fn of(stat: &Metadata) -> Self {
        Self {
            dev: stat.dev(),
            ino: stat.ino(),
            modified: stat.modified().unwrap_or(UNIX_EPOCH),
            len: stat.len(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn modified(&self) -> SystemTime {
        self.modified
    }
}

/// A file's content and the validators derived from its identity.
#[derive(Debug)]
pub(crate) struct CachedFile {
    /// Where the file is, checked when it was first read.
    pub path: PathBuf,
    pub identity: FileIdentity,
    pub body: Bytes,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
}

#[derive(Debug, Default)]
pub(crate) struct FileCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    files: HashMap<String, Arc<CachedFile>>,
    bytes: usize,
}

impl FileCache {
    /// The cached file for `key` if a `stat` shows it is still the file on
    /// disk; the lock is not held during the `stat`.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<CachedFile>> {
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.files.get(key).cloned()?
        };
        let current = FileIdentity::of(&std::fs::metadata(&cached.path).ok()?);
        (current == cached.identity).then_some(cached)
    }

    pub(crate) fn insert(&self, key: &str, file: Arc<CachedFile>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.bytes + file.body.len() > MAX_CACHE_BYTES {
            entries.files.clear();
            entries.bytes = 0;
        }
        entries.bytes += file.body.len();
        if let Some(old) = entries.files.insert(key.to_string(), file) {
            entries.bytes -= old.body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(
        dir: &std::path::Path,
        name: &str,
        content: &[u8],
    ) -> (FileIdentity, Arc<CachedFile>) {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        let identity = FileIdentity::of(&std::fs::metadata(&path).unwrap());
        let file = CachedFile {
            path: dir.join("a"),
            identity,
            body: Bytes::copy_from_slice(content),
            etag: HeaderValue::from_static("\"e\""),
            last_modified: HeaderValue::from_static("date"),
        };
        (identity, Arc::new(file))
    }

    #[test]
    fn a_file_replaced_by_rename_is_a_miss_even_with_equal_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::default();
        let (first, file) = cached(dir.path(), "a", b"one");
        cache.insert("k", file);
        assert!(cache.get("k").is_some());
        assert!(cache.get("other").is_none());

        let (second, _) = cached(dir.path(), "tmp", b"two");
        std::fs::rename(dir.path().join("tmp"), dir.path().join("a")).unwrap();
        let now = FileIdentity::of(&std::fs::metadata(dir.path().join("a")).unwrap());
        assert_eq!(now, second);
        assert_ne!(now.ino, first.ino, "rename brings another inode");
        assert!(cache.get("k").is_none());

        std::fs::remove_file(dir.path().join("a")).unwrap();
        assert!(cache.get("k").is_none(), "a deleted file is a miss");
    }

    #[test]
    fn the_cache_stays_within_its_byte_budget() {
        let cache = FileCache::default();
        let identity = FileIdentity {
            dev: 0,
            ino: 0,
            modified: UNIX_EPOCH,
            len: 0,
        };
        let big = Bytes::from(vec![0u8; MAX_CACHED_FILE as usize]);
        for i in 0..(MAX_CACHE_BYTES / big.len() + 10) {
            let file = CachedFile {
                path: PathBuf::new(),
                identity,
                body: big.clone(),
                etag: HeaderValue::from_static("\"e\""),
                last_modified: HeaderValue::from_static("date"),
            };
            cache.insert(&format!("k{i}"), Arc::new(file));
            let entries = cache.entries.lock().unwrap();
            assert!(entries.bytes <= MAX_CACHE_BYTES);
            assert_eq!(entries.bytes, entries.files.len() * big.len());
        }
    }
}
