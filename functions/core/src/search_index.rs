//! Search where the metadata store has no text index (DynamoDB, whose only
//! way to match a substring is to read every crate item): each crate's
//! search entry is kept in one of [`SearchShardId::COUNT`] objects per
//! repository (`{repo}/search/{shard}.json`), written with the crate's other
//! derived files, and a search reads the shards, not the crates.
//!
//! A search costs the same at 10 crates as at 100,000: one conditional GET
//! of every shard at once (an unchanged shard answers `304` and is matched
//! from memory), plus a download of each shard that changed since this
//! process last read it. Matching is the rule below, shared with no one:
//! SQLite's own search ([`crate::MetadataStore::search`]) is used where it
//! exists, and is tested against the same cases.
//!
//! Writes are compare-and-swap per shard. An entry carries its crate's
//! revision and never replaces a newer one, so the change stream's records
//! arriving late or twice converge; reindex rebuilds every shard from its
//! bulk read, keeping what a writer made newer meanwhile.

use crate::search::SearchHit;
use crate::{
    CrateRecord, ObjectKey, Registry, RegistryError, RepoName, SearchShardId, canonical_name,
};
use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// What search knows of a crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SearchEntry {
    pub name: String,
    pub max_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// The crate revision this entry reflects.
    pub revision: u64,
}

impl SearchEntry {
    /// Whether both show the same in search (revisions aside).
    fn shows(&self, other: &Self) -> bool {
        (
            &self.name,
            &self.max_version,
            &self.description,
            &self.keywords,
        ) == (
            &other.name,
            &other.max_version,
            &other.description,
            &other.keywords,
        )
    }

    pub(crate) fn of(krate: &CrateRecord) -> Self {
        Self {
            name: krate.name.clone(),
            max_version: krate.max_version.clone(),
            description: krate.description.clone(),
            keywords: krate.keywords.clone(),
            revision: krate.revision,
        }
    }
}

/// A shard's content: entries by canonical name.
type Shard = BTreeMap<String, SearchEntry>;

/// What a search matches: the query as names and as text compare.
pub(crate) struct Query {
    canonical: String,
    lowercase: String,
}

impl Query {
    pub(crate) fn new(query: &str) -> Self {
        Self {
            canonical: canonical_name(query),
            lowercase: query.to_lowercase(),
        }
    }
}

/// An entry ready to be matched: its name canonical, its description and
/// keywords lowercase, once per shard read.
#[derive(Debug)]
struct Prepared {
    canonical: String,
    text: String,
    hit: SearchHit,
}

impl Prepared {
    fn new(canonical: String, entry: SearchEntry) -> Self {
        let mut text = entry.description.clone().unwrap_or_default();
        for keyword in &entry.keywords {
            text.push('\n');
            text.push_str(keyword);
        }
        Self {
            canonical,
            text: text.to_lowercase(),
            hit: SearchHit {
                name: entry.name,
                max_version: entry.max_version,
                description: entry.description,
            },
        }
    }

    /// The rule: the name contains the query (both canonical: case and
    /// `-`/`_` do not matter), or the description or a keyword contains it,
    /// case-insensitively. An empty query matches everything.
    fn matches(&self, query: &Query) -> bool {
        self.canonical.contains(&query.canonical) || self.text.contains(&query.lowercase)
    }
}

/// A shard as this process last read it.
#[derive(Debug)]
struct LoadedShard {
    etag: String,
    /// The stored shard's size: what keeping it costs, about.
    size: usize,
    entries: Vec<Prepared>,
}

/// When the shards kept would outgrow this (stored bytes; prepared entries
/// take about as much again), the cache starts over: simple, and bounded
/// however many repositories a process searches. One repository of
/// 100,000 crates is about 16 MB of shards.
const MAX_CACHED_SHARD_BYTES: usize = 64 * 1024 * 1024;

/// The shards this process has read, by key: what a search revalidates.
#[derive(Debug, Default)]
pub(crate) struct ShardCache(Mutex<CachedShards>);

#[derive(Debug, Default)]
struct CachedShards {
    shards: HashMap<ObjectKey, Arc<LoadedShard>>,
    bytes: usize,
}

impl ShardCache {
    fn get(&self, key: &ObjectKey) -> Option<Arc<LoadedShard>> {
        self.0.lock().expect("lock").shards.get(key).cloned()
    }

    fn remove(&self, key: &ObjectKey) {
        let mut cached = self.0.lock().expect("lock");
        if let Some(old) = cached.shards.remove(key) {
            cached.bytes -= old.size;
        }
    }

    fn insert(&self, key: ObjectKey, shard: Arc<LoadedShard>) {
        if shard.size > MAX_CACHED_SHARD_BYTES {
            return;
        }
        let mut cached = self.0.lock().expect("lock");
        if cached.bytes + shard.size > MAX_CACHED_SHARD_BYTES {
            *cached = CachedShards::default();
        }
        cached.bytes += shard.size;
        if let Some(old) = cached.shards.insert(key, shard) {
            cached.bytes -= old.size;
        }
    }
}

impl Registry {
    /// Whether this registry keeps search shards: where its metadata store
    /// cannot search text itself.
    pub(crate) fn keeps_search_shards(&self) -> bool {
        !self.store.indexes_text()
    }

    /// The crates of `repo` that `query` matches, by canonical name, at most
    /// `limit` of them (after `keep`), and how many match in all.
    pub(crate) async fn search_shards(
        &self,
        repo: &str,
        query: &str,
        limit: usize,
        keep: impl Fn(&SearchHit) -> bool,
    ) -> Result<(Vec<SearchHit>, u64), RegistryError> {
        let repo = RepoName::new(repo)?;
        let shards = try_join_all(SearchShardId::all().map(|shard| {
            self.fresh_shard(ObjectKey::SearchShard {
                repo: repo.clone(),
                shard,
            })
        }))
        .await?;
        let query = Query::new(query);
        let mut found: Vec<&Prepared> = shards
            .iter()
            .flat_map(|s| s.entries.iter())
            .filter(|e| e.matches(&query) && keep(&e.hit))
            .collect();
        let total = found.len() as u64;
        found.sort_unstable_by(|a, b| a.canonical.cmp(&b.canonical));
        let hits = found
            .into_iter()
            .take(limit)
            .map(|e| e.hit.clone())
            .collect();
        Ok((hits, total))
    }

    /// A shard as stored now: from memory if unchanged (a conditional GET),
    /// else read and prepared again. A missing shard has no entries.
    async fn fresh_shard(&self, key: ObjectKey) -> Result<Arc<LoadedShard>, RegistryError> {
        let known = self.search_cache.get(&key);
        let etag = known.as_ref().map(|s| s.etag.as_str());
        let (bytes, meta) = match self.blobs.get_if_changed(&key, etag).await? {
            crate::Freshness::Unchanged => return Ok(known.expect("an ETag came from it")),
            crate::Freshness::Missing => {
                self.search_cache.remove(&key);
                return Ok(Arc::new(LoadedShard {
                    etag: String::new(),
                    size: 0,
                    entries: Vec::new(),
                }));
            }
            crate::Freshness::Changed(bytes, meta) => (bytes, meta),
        };
        // Inline: a shard of 100,000 crates' share is about 1 MB, read
        // only when it changed.
        let entries = parse_shard(&bytes)
            .into_iter()
            .map(|(canonical, entry)| Prepared::new(canonical, entry))
            .collect();
        let loaded = Arc::new(LoadedShard {
            etag: meta.etag,
            size: bytes.len(),
            entries,
        });
        self.search_cache.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// Brings the entries of changed crates up to date in their shards,
    /// one compare-and-swap per shard touched: `Some` for a crate as the
    /// store now holds it, `None` for one that no longer exists.
    pub(crate) async fn update_search_entries(
        &self,
        repo: &str,
        changes: Vec<(String, Option<SearchEntry>)>,
    ) -> Result<(), RegistryError> {
        let mut by_shard: BTreeMap<SearchShardId, Vec<(String, Option<SearchEntry>)>> =
            BTreeMap::new();
        for (canonical, entry) in changes {
            by_shard
                .entry(SearchShardId::of(&canonical))
                .or_default()
                .push((canonical, entry));
        }
        let repo = RepoName::new(repo)?;
        try_join_all(by_shard.into_iter().map(|(shard, changes)| {
            let key = ObjectKey::SearchShard {
                repo: repo.clone(),
                shard,
            };
            async move {
                self.change_document(&key, true, None, |entries: &mut Shard| {
                    let mut changed = false;
                    for (canonical, entry) in &changes {
                        changed |= apply(entries, canonical, entry.clone());
                    }
                    changed
                })
                .await
            }
        }))
        .await?;
        Ok(())
    }

    /// Rewrites every shard of `repo` from a bulk read of its crates (a
    /// reindex, or a benchmark's generator), keeping an entry a writer made
    /// newer since that read, and one for a crate created since (the store
    /// is asked about each crate a shard lists that the bulk read lacks).
    pub async fn rebuild_search_shards(
        &self,
        repo: &str,
        crates: impl Iterator<Item = &CrateRecord>,
    ) -> Result<(), RegistryError> {
        let mut wanted: BTreeMap<SearchShardId, Shard> = BTreeMap::new();
        for krate in crates {
            wanted
                .entry(SearchShardId::of(&krate.canonical))
                .or_default()
                .insert(krate.canonical.clone(), SearchEntry::of(krate));
        }
        let name = RepoName::new(repo)?;
        try_join_all(SearchShardId::all().map(|shard| {
            let wanted = wanted.remove(&shard).unwrap_or_default();
            let key = ObjectKey::SearchShard {
                repo: name.clone(),
                shard,
            };
            async move {
                // Crates the shard lists beyond the bulk read: created since
                // (kept, as the store has them now) or deleted (dropped).
                let stored = self.blobs.get(&key).await?;
                let seen: Vec<String> = stored
                    .as_ref()
                    .map(|(bytes, _)| parse_shard(bytes))
                    .unwrap_or_default()
                    .into_keys()
                    .collect();
                let extra = seen.iter().filter(|c| !wanted.contains_key(*c));
                let mut now = Shard::new();
                for canonical in extra {
                    if let Some(krate) = self.store.get_crate(repo, canonical).await? {
                        now.insert(canonical.clone(), SearchEntry::of(&krate));
                    }
                }
                self.change_document(&key, true, Some(stored), |entries: &mut Shard| {
                    let before = entries.clone();
                    // An entry the first read did not hold was written
                    // since (a compare-and-swap lost to it): kept.
                    entries.retain(|c, _| {
                        wanted.contains_key(c) || now.contains_key(c) || !seen.contains(c)
                    });
                    for (canonical, entry) in wanted.iter().chain(&now) {
                        apply(entries, canonical, Some(entry.clone()));
                    }
                    *entries != before
                })
                .await
            }
        }))
        .await?;
        Ok(())
    }

    /// Builds `repo`'s search shards from its crate records if it has none:
    /// a deployment made before search had shards, whose crates search
    /// would otherwise not find until each changed (`setup` calls this).
    pub async fn ensure_search_shards(&self, repo: &str) -> Result<(), RegistryError> {
        if !self.keeps_search_shards() {
            return Ok(());
        }
        let prefix = crate::KeyPrefix::SearchShards(RepoName::new(repo)?);
        if !self.blobs.list(&prefix).await?.is_empty() {
            return Ok(());
        }
        let crates = self.store.list_crates(repo).await?;
        if crates.is_empty() {
            return Ok(());
        }
        tracing::info!(repo, crates = crates.len(), "building the search shards");
        self.rebuild_search_shards(repo, crates.iter()).await
    }
}

/// Puts `entry` in place of the crate's, unless the one there is newer;
/// `None` removes it. Returns whether anything changed.
fn apply(entries: &mut Shard, canonical: &str, entry: Option<SearchEntry>) -> bool {
    match entry {
        Some(entry) => match entries.get(canonical) {
            // Newer, or what search shows is the same (an owner change, a
            // yank that kept the newest version): not worth a shard write.
            Some(current) if current.revision >= entry.revision || current.shows(&entry) => false,
            _ => {
                entries.insert(canonical.to_string(), entry);
                true
            }
        },
        None => entries.remove(canonical).is_some(),
    }
}

/// A shard's entries; one that cannot be read (damaged by hand) counts as
/// empty, and the next write or reindex replaces it.
fn parse_shard(bytes: &[u8]) -> Shard {
    serde_json::from_slice(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_cache_stays_within_its_byte_budget() {
        let cache = ShardCache::default();
        let shard = |size| {
            Arc::new(LoadedShard {
                etag: String::new(),
                size,
                entries: Vec::new(),
            })
        };
        let first = SearchShardId::all().next().unwrap();
        let key = |i: usize| ObjectKey::SearchShard {
            repo: RepoName::new(&format!("r{i}")).unwrap(),
            shard: first,
        };
        let size = MAX_CACHED_SHARD_BYTES / 4 + 1;
        for i in 0..10 {
            cache.insert(key(i), shard(size));
            cache.insert(key(i), shard(size));
            assert!(cache.get(&key(i)).is_some(), "the newest is kept");
            let cached = cache.0.lock().unwrap();
            assert!(cached.bytes <= MAX_CACHED_SHARD_BYTES);
            let sizes: usize = cached.shards.values().map(|s| s.size).sum();
            assert_eq!(cached.bytes, sizes);
        }
        cache.remove(&key(9));
        assert!(cache.get(&key(9)).is_none());
        let cached = cache.0.lock().unwrap();
        assert_eq!(
            cached.bytes,
            cached.shards.values().map(|s| s.size).sum::<usize>()
        );
    }

    fn entry(name: &str, description: &str, keywords: &[&str], revision: u64) -> SearchEntry {
        SearchEntry {
            name: name.into(),
            max_version: "1.0.0".into(),
            description: Some(description.into()),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            revision,
        }
    }

    fn matching(query: &str) -> Vec<String> {
        let shard: Vec<Prepared> = [
            entry("serde_json", "JSON support", &[], 1),
            entry("tokio", "async runtime", &["kw-tokio"], 1),
            entry("Json-Tools", "tools", &[], 1),
            entry("other", "nothing", &[], 1),
        ]
        .into_iter()
        .map(|e| Prepared::new(canonical_name(&e.name), e))
        .collect();
        let query = Query::new(query);
        let mut names: Vec<String> = shard
            .iter()
            .filter(|e| e.matches(&query))
            .map(|e| e.hit.name.clone())
            .collect();
        names.sort();
        names
    }

    /// The cases the metadata stores' own search is held to
    /// (`crateyard_conformance::store_search`).
    #[test]
    fn the_rule_matches_names_descriptions_and_keywords() {
        assert_eq!(matching("json"), ["Json-Tools", "serde_json"]);
        assert_eq!(matching("JSON"), ["Json-Tools", "serde_json"]);
        assert_eq!(
            matching("Serde-JSON"),
            ["serde_json"],
            "names match in canonical form"
        );
        assert_eq!(matching("json_tools"), ["Json-Tools"]);
        assert_eq!(
            matching("ASYNC"),
            ["tokio"],
            "descriptions match case-insensitively"
        );
        assert_eq!(
            matching("KW-TOKIO"),
            ["tokio"],
            "keywords match case-insensitively"
        );
        assert!(matching("%").is_empty(), "no wildcard syntax");
        assert!(matching("json\" OR \"").is_empty());
        assert_eq!(matching("").len(), 4, "an empty query lists everything");
    }

    #[test]
    fn an_entry_never_replaces_a_newer_one() {
        let mut shard = Shard::new();
        assert!(apply(&mut shard, "foo", Some(entry("foo", "two", &[], 2))));
        assert!(
            !apply(&mut shard, "foo", Some(entry("foo", "one", &[], 1))),
            "older"
        );
        assert!(
            !apply(&mut shard, "foo", Some(entry("foo", "two", &[], 2))),
            "the same"
        );
        assert!(apply(
            &mut shard,
            "foo",
            Some(entry("foo", "three", &[], 3))
        ));
        assert_eq!(shard["foo"].description.as_deref(), Some("three"));
        assert!(
            !apply(&mut shard, "foo", Some(entry("foo", "three", &[], 4))),
            "shown the same (an owner change): no write"
        );
        assert!(apply(&mut shard, "foo", None), "a crate gone leaves");
        assert!(!apply(&mut shard, "foo", None));
        assert!(shard.is_empty());
    }

    #[test]
    fn a_damaged_shard_reads_as_empty() {
        assert!(parse_shard(b"{not json").is_empty());
        let shard = Shard::from([("foo".to_string(), entry("foo", "d", &[], 1))]);
        assert_eq!(parse_shard(&serde_json::to_vec(&shard).unwrap()), shard);
    }

    #[test]
    fn every_crate_has_one_shard_of_the_count() {
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            let shard = SearchShardId::of(&format!("crate{i}"));
            assert_eq!(SearchShardId::of(&format!("crate{i}")), shard, "stable");
            seen.insert(shard);
        }
        assert_eq!(seen.len(), usize::from(SearchShardId::COUNT), "all used");
    }
}
