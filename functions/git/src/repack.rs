//! Packing what changes leave loose, so that the history never makes a
//! clone slow. git's dumb walker fetches each loose object with one GET (5
//! at a time) and falls back to the listed packs only for an object with
//! no loose file; past [`REPACK_LOOSE`] loose objects a writer packs them.
//!
//! Packs merge geometrically (as `git repack --geometric=2`): the new pack
//! also takes in every listed pack smaller than twice what it holds so far,
//! so their sizes stay distinct powers of two and a repository with N
//! objects lists about log2(N / [`REPACK_LOOSE`]) packs, each of whose
//! index a clone fetches.
//!
//! Safe with writers and packers at once, with no lock: no object that
//! was ever readable stops being readable. A loose copy is deleted only
//! after a listed pack holds it; a pack is unlisted only in the same
//! compare-and-swap on `objects/info/packs` that lists the pack holding
//! every object of it; pack files are never deleted (a reader holding an
//! older `objects/info/packs` still finds them). So a packer that loses a
//! race, or stops half way, leaves at most duplicates or an unlisted file.
//! The branch (`info/refs`) never moves: a repack changes no commit.

use crate::object::{EncodedObject, key_id};
use crate::pack::{PackReader, write_pack};
use crate::writer::{CONCURRENCY, MAX_ROUNDS, backoff, git_key, pack_keys};
use crate::{GitError, GitIndex, refs};
use bytes::Bytes;
use crateyard_core::{BlobError, GitFile, KeyPrefix, ObjectKey, PutMode, RepoName};
use futures_util::{StreamExt, TryStreamExt, stream};
use gix_hash::ObjectId;

/// Loose objects past which a writer packs them. A change leaves about
/// four (its files, the trees on their paths, the commit), so this is a
/// pack every ~60 publishes. Loose, they cost a clone 256 GETs, about 50
/// round trips through a CDN at git's 5 in flight; packed, one index and
/// one pack GET. Fewer would add a pack (and a GET to every clone) for
/// every few publishes until the merges caught up; more, slower clones.
pub const REPACK_LOOSE: usize = 256;

/// The most loose objects one repack takes (the next change's repack
/// takes more): a repack reads each with a GET and holds them in memory,
/// inside the `indexer` function's time and memory.
pub const MAX_LOOSE_PER_REPACK: usize = 4096;

/// The largest pack a repack writes by merging: merging reads the packs it
/// takes in whole and unpacks every object, so past this a pack stays as
/// it is (listed packs then grow by one per this much of new objects).
pub const MAX_MERGE_BYTES: u64 = 64 * 1024 * 1024;

/// What a repack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repacked {
    /// The new pack's id.
    pub pack: String,
    /// Objects it holds.
    pub objects: usize,
    /// Loose objects it took in (and whose loose copies it deleted).
    pub loose: usize,
    /// Listed packs it took in and unlisted.
    pub merged: usize,
}

/// A listed pack and its size in bytes.
struct ListedPack {
    id: ObjectId,
    bytes: u64,
}

impl GitIndex {
    /// Packs the repository's loose objects if more than the threshold
    /// ([`GitIndex::with_repack_threshold`]) lie about; `None` when not.
    pub async fn repack_if_needed(
        &self,
        repo: &RepoName,
        private: bool,
    ) -> Result<Option<Repacked>, GitError> {
        let mut loose = self.loose_objects(repo).await?;
        if loose.len() <= self.repack_threshold {
            return Ok(None);
        }
        loose.truncate(MAX_LOOSE_PER_REPACK);
        self.repack(repo, private, loose).await
    }

    /// Every loose object's id.
    pub(crate) async fn loose_objects(&self, repo: &RepoName) -> Result<Vec<ObjectId>, GitError> {
        let keys = self.blobs.list(&KeyPrefix::Git(repo.clone())).await?;
        Ok(keys
            .into_iter()
            .filter_map(|key| match key {
                ObjectKey::Git {
                    file: GitFile::Object(id),
                    ..
                } => ObjectId::from_hex(id.as_str().as_bytes()).ok(),
                _ => None,
            })
            .collect())
    }

    /// Packs `loose` (as found now: a copy already gone is skipped) with
    /// the listed packs the geometric rule takes in, lists the new pack in
    /// their place, then deletes the loose copies it holds. `None` when
    /// another packer took them all first.
    async fn repack(
        &self,
        repo: &RepoName,
        private: bool,
        loose: Vec<ObjectId>,
    ) -> Result<Option<Repacked>, GitError> {
        let (read, loose_bytes) = self.read_loose(repo, loose).await?;
        if read.is_empty() {
            return Ok(None);
        }
        let listed = self.listed_packs(repo).await?;
        let merged = geometric_merge(&listed, loose_bytes);
        let merged_files = self.read_packs(repo, &merged).await?;
        let mut objects = read.clone();
        let loose_ids: Vec<ObjectId> = read.iter().map(|o| o.id).collect();
        objects.extend(
            tokio::task::spawn_blocking(move || PackReader::open(&merged_files)?.all_objects())
                .await
                .map_err(|e| GitError::Encode(e.to_string()))??,
        );
        objects.sort_unstable_by_key(|o| o.id);
        objects.dedup_by_key(|o| o.id);
        let count = objects.len();
        let pack = self.put_pack_files(repo, private, objects).await?;
        self.list_pack(repo, private, pack, &merged).await?;
        self.remove_loose(repo, &loose_ids).await?;
        tracing::info!(
            repo = %repo, pack = %pack, objects = count, loose = loose_ids.len(),
            merged = merged.len(), "git index repacked"
        );
        Ok(Some(Repacked {
            pack: pack.to_string(),
            objects: count,
            loose: loose_ids.len(),
            merged: merged.len(),
        }))
    }

    /// The loose objects still there, checked, and their stored size.
    async fn read_loose(
        &self,
        repo: &RepoName,
        ids: Vec<ObjectId>,
    ) -> Result<(Vec<EncodedObject>, u64), GitError> {
        let read: Vec<Option<(EncodedObject, u64)>> = stream::iter(ids)
            .map(|id| async move {
                let key = git_key(repo, GitFile::Object(key_id(&id)));
                let Some((bytes, _)) = self.blobs.get(&key).await? else {
                    // Another packer took it: its pack is listed.
                    return Ok(None);
                };
                match EncodedObject::from_loose(id, &bytes) {
                    Ok(object) => Ok(Some((object, bytes.len() as u64))),
                    // Left alone: neither packed nor deleted.
                    Err(e) => {
                        tracing::warn!(repo = %repo, error = %e, "a damaged loose object is not packed");
                        Ok::<_, GitError>(None)
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let bytes = read.iter().flatten().map(|(_, size)| size).sum();
        Ok((read.into_iter().flatten().map(|(o, _)| o).collect(), bytes))
    }

    /// The packs `objects/info/packs` lists whose files are there, with
    /// their sizes.
    async fn listed_packs(&self, repo: &RepoName) -> Result<Vec<ListedPack>, GitError> {
        let mut packs = Vec::new();
        for id in self.listed_pack_ids(repo).await? {
            let (key, _) = pack_keys(repo, &id);
            if let Some(meta) = self.blobs.head(&key).await? {
                packs.push(ListedPack {
                    id,
                    bytes: meta.size,
                });
            }
        }
        Ok(packs)
    }

    /// Packs' files, as [`PackReader::open`] takes them.
    pub(crate) async fn read_packs(
        &self,
        repo: &RepoName,
        ids: &[ObjectId],
    ) -> Result<Vec<(ObjectId, Vec<u8>, Vec<u8>)>, GitError> {
        let mut packs = Vec::new();
        for id in ids {
            let (pack, index) = pack_keys(repo, id);
            match (self.blobs.get(&pack).await?, self.blobs.get(&index).await?) {
                (Some((pack, _)), Some((index, _))) => {
                    packs.push((*id, pack.to_vec(), index.to_vec()))
                }
                _ => return Err(GitError::MissingObject(format!("pack-{id}"))),
            }
        }
        Ok(packs)
    }

    /// Writes objects as one pack and its index (not listed yet).
    pub(crate) async fn put_pack_files(
        &self,
        repo: &RepoName,
        private: bool,
        objects: Vec<EncodedObject>,
    ) -> Result<ObjectId, GitError> {
        let pack = tokio::task::spawn_blocking(move || write_pack(&objects))
            .await
            .map_err(|e| GitError::Encode(e.to_string()))??;
        let (pack_key, index_key) = pack_keys(repo, &pack.id);
        // Overwritten, not created once: the pack's id is its checksum, so
        // every writer of it writes the same bytes, and a damaged copy of
        // an earlier one (its index truncated, say) is repaired.
        let (pack_options, index_options) = (
            pack_key.put_options(private),
            index_key.put_options(private),
        );
        tokio::try_join!(
            self.blobs.put(
                &pack_key,
                Bytes::from(pack.pack),
                PutMode::Overwrite,
                pack_options
            ),
            self.blobs.put(
                &index_key,
                Bytes::from(pack.index),
                PutMode::Overwrite,
                index_options
            ),
        )?;
        Ok(pack.id)
    }

    /// Lists `pack` in `objects/info/packs` (compare-and-swap), unlisting
    /// `replaced` in the same write: `pack` holds all their objects.
    pub(crate) async fn list_pack(
        &self,
        repo: &RepoName,
        private: bool,
        pack: ObjectId,
        replaced: &[ObjectId],
    ) -> Result<(), GitError> {
        self.edit_pack_list(repo, private, |listed| relist(listed, pack, replaced))
            .await
    }

    /// Rewrites `objects/info/packs` as `edit` makes it from the list as
    /// stored, by compare-and-swap, reading again when another writer
    /// came first.
    async fn edit_pack_list(
        &self,
        repo: &RepoName,
        private: bool,
        edit: impl Fn(&[ObjectId]) -> Vec<ObjectId>,
    ) -> Result<(), GitError> {
        let key = git_key(repo, GitFile::InfoPacks);
        for round in 0..MAX_ROUNDS {
            if round > 0 {
                tokio::time::sleep(backoff(round)).await;
            }
            let current = self.blobs.get(&key).await?;
            let listed = match &current {
                Some((bytes, _)) => refs::parse_info_packs(bytes),
                None => Vec::new(),
            };
            let next = edit(&listed);
            if next == listed {
                return Ok(());
            }
            let mode = match current {
                Some((_, meta)) => PutMode::Update(meta.etag),
                None => PutMode::Create,
            };
            let body = Bytes::from(refs::info_packs(&next));
            match self
                .blobs
                .put(&key, body, mode, key.put_options(private))
                .await
            {
                Ok(_) => return Ok(()),
                Err(BlobError::Precondition(_) | BlobError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(GitError::Contention(repo.to_string()))
    }
}

/// The listed packs a new pack of `loose_bytes` takes in: smallest first,
/// each smaller than twice what the new pack holds so far, while the new
/// pack stays within [`MAX_MERGE_BYTES`].
fn geometric_merge(listed: &[ListedPack], loose_bytes: u64) -> Vec<ObjectId> {
    let mut by_size: Vec<&ListedPack> = listed.iter().collect();
    by_size.sort_by_key(|p| p.bytes);
    let mut holds = loose_bytes;
    let mut merged = Vec::new();
    for pack in by_size {
        if pack.bytes >= holds.saturating_mul(2) || holds + pack.bytes > MAX_MERGE_BYTES {
            break;
        }
        holds += pack.bytes;
        merged.push(pack.id);
    }
    merged
}

/// `listed` without `replaced`, and `pack` last. git's dumb walker reads
/// the list into a stack and searches the last-listed pack first: the
/// newest pack holds the most of the current tree, and it alone is
/// fetched when it holds it all (a rebuild's pack).
fn relist(listed: &[ObjectId], pack: ObjectId, replaced: &[ObjectId]) -> Vec<ObjectId> {
    listed
        .iter()
        .filter(|id| **id != pack && !replaced.contains(id))
        .copied()
        .chain(std::iter::once(pack))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes_or_panic(&[n; 20])
    }

    fn pack(n: u8, bytes: u64) -> ListedPack {
        ListedPack { id: id(n), bytes }
    }

    #[test]
    fn packs_merge_while_smaller_than_twice_the_new_one() {
        // Nothing listed: nothing to merge.
        assert!(geometric_merge(&[], 100).is_empty());
        // 100 loose bytes take in the 150-byte pack (< 200), then the
        // 300-byte one (< 500), not the 2000-byte one.
        let listed = [pack(1, 2000), pack(2, 300), pack(3, 150)];
        assert_eq!(geometric_merge(&listed, 100), [id(3), id(2)]);
        // A pack as large as twice the loose objects stays.
        assert!(geometric_merge(&[pack(1, 200)], 100).is_empty());
        // No merge makes a pack past the cap: it is read whole to merge.
        let big = MAX_MERGE_BYTES / 2 + 1;
        assert!(geometric_merge(&[pack(1, big)], big).is_empty());
    }

    #[test]
    fn repeated_repacks_keep_few_packs() {
        // Each repack packs 100 loose bytes: sizes stay distinct powers of
        // two times 100, as a binary counter's bits.
        let mut listed: Vec<ListedPack> = Vec::new();
        for round in 1..=1000u32 {
            let merged = geometric_merge(&listed, 100);
            let holds = 100
                + listed
                    .iter()
                    .filter(|p| merged.contains(&p.id))
                    .map(|p| p.bytes)
                    .sum::<u64>();
            listed.retain(|p| !merged.contains(&p.id));
            listed.push(ListedPack {
                id: {
                    let mut bytes = [0u8; 20];
                    bytes[..4].copy_from_slice(&round.to_le_bytes());
                    ObjectId::from_bytes_or_panic(&bytes)
                },
                bytes: holds,
            });
            assert!(listed.len() <= 11, "round {round}: {} packs", listed.len());
        }
    }

    #[test]
    fn a_new_pack_is_listed_last_in_place_of_what_it_replaces() {
        assert_eq!(relist(&[], id(9), &[]), [id(9)]);
        assert_eq!(
            relist(&[id(1), id(2), id(3)], id(9), &[id(2)]),
            [id(1), id(3), id(9)]
        );
        // Listed already (a packer that repeats itself): stays once.
        assert_eq!(relist(&[id(9), id(1)], id(9), &[]), [id(1), id(9)]);
        // Replaced packs another packer unlisted already: nothing to do.
        assert_eq!(relist(&[id(1)], id(9), &[id(4)]), [id(1), id(9)]);
    }
}
