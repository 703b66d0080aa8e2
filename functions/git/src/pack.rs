//! One pack of many objects (with its `.idx`), for a clone to fetch in a
//! few requests: written and indexed by `gix-pack`, objects undeltified.

use crate::GitError;
use crate::object::{EncodedObject, HASH};
use gix_pack::data::output::{self, bytes::FromEntriesIter};
use std::sync::atomic::AtomicBool;

/// A pack and its index, named by the pack's checksum.
#[derive(Debug)]
pub struct Pack {
    /// The pack's checksum: its files are `pack-{id}.pack` and `.idx`.
    pub id: gix_hash::ObjectId,
    pub pack: Vec<u8>,
    pub index: Vec<u8>,
}

fn failed(what: &str, e: impl std::fmt::Display) -> GitError {
    GitError::Encode(format!("{what}: {e}"))
}

/// Packs `objects` (CPU work: run it off the async threads).
pub fn write_pack(objects: &[EncodedObject]) -> Result<Pack, GitError> {
    let entries = objects
        .iter()
        .map(|o| {
            let count = output::Count::from_data(o.id, None);
            let data = gix_object::Data::new(&o.data, o.kind, HASH);
            output::Entry::from_data(&count, &data, gix_zlib::Compression::default())
                .map_err(|e| failed("pack entry", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = u32::try_from(entries.len()).map_err(|e| failed("pack size", e))?;
    let mut pack = Vec::new();
    let mut writer = FromEntriesIter::new(
        std::iter::once(Ok(entries)),
        &mut pack,
        count,
        gix_pack::data::Version::V2,
        HASH,
    );
    for written in writer.by_ref() {
        written.map_err(|e| failed("pack", e))?;
    }
    let id = writer
        .digest()
        .ok_or_else(|| failed("pack", "no checksum"))?;
    // The index is written as git's `index-pack` would: from the pack.
    let dir = tempfile::tempdir().map_err(|e| failed("temporary directory", e))?;
    let outcome = gix_pack::Bundle::write_to_directory(
        &mut &pack[..],
        Some(dir.path()),
        &mut gix_utils::progress::Discard,
        &AtomicBool::new(false),
        None::<gix_object::find::Never>,
        HASH,
        gix_pack::bundle::write::Options::default(),
    )
    .map_err(|e| failed("pack index", e))?;
    let index_path = outcome
        .index_path
        .ok_or_else(|| failed("pack index", "not written"))?;
    let index = std::fs::read(index_path).map_err(|e| failed("pack index", e))?;
    Ok(Pack { id, pack, index })
}

/// Packs read back, to find objects that have no loose file.
pub struct PackReader {
    _dir: tempfile::TempDir,
    bundles: Vec<gix_pack::Bundle>,
}

impl PackReader {
    /// Opens packs given as (id, pack, index) (CPU and file work: run it
    /// off the async threads).
    pub fn open(packs: &[(gix_hash::ObjectId, Vec<u8>, Vec<u8>)]) -> Result<Self, GitError> {
        let dir = tempfile::tempdir().map_err(|e| failed("temporary directory", e))?;
        let mut bundles = Vec::new();
        for (id, pack, index) in packs {
            let base = dir.path().join(format!("pack-{id}"));
            let (pack_path, index_path) = (base.with_extension("pack"), base.with_extension("idx"));
            std::fs::write(&pack_path, pack).map_err(|e| failed("pack", e))?;
            std::fs::write(&index_path, index).map_err(|e| failed("pack index", e))?;
            bundles.push(gix_pack::Bundle::at(&index_path, HASH).map_err(|e| failed("pack", e))?);
        }
        Ok(Self { _dir: dir, bundles })
    }

    /// Every object of every pack, each once (CPU work: run it off the
    /// async threads).
    pub fn all_objects(&self) -> Result<Vec<EncodedObject>, GitError> {
        let mut ids: Vec<gix_hash::ObjectId> = self
            .bundles
            .iter()
            .flat_map(|bundle| bundle.index.iter().map(|entry| entry.oid))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .map(|id| {
                self.find(id)?
                    .ok_or_else(|| failed("pack", format!("{id} is indexed but unreadable")))
            })
            .collect()
    }

    pub fn find(&self, id: gix_hash::ObjectId) -> Result<Option<EncodedObject>, GitError> {
        let mut inflate = gix_zlib::Inflate::default();
        for bundle in &self.bundles {
            let mut out = Vec::new();
            let found = bundle
                .find(&id, &mut out, &mut inflate, &mut gix_pack::cache::Never)
                .map_err(|e| failed("pack", e))?;
            if let Some((data, _)) = found {
                return Ok(Some(EncodedObject {
                    id,
                    kind: data.kind,
                    data: data.data.to_vec(),
                }));
            }
        }
        Ok(None)
    }
}

/// The indexes of packs without their data: which objects the packs hold,
/// for a fraction of the bytes (a pack of a large registry's history runs
/// to gigabytes, its index to megabytes).
pub struct PackIndexes {
    _dir: tempfile::TempDir,
    indexes: Vec<gix_pack::index::File>,
}

impl PackIndexes {
    /// Opens `.idx` files given as bytes (file work: run it off the async
    /// threads). One that cannot be read (damaged, truncated) holds
    /// nothing: what it should hold is then missing, which a rebuild
    /// repairs.
    pub fn open(indexes: &[Vec<u8>]) -> Result<Self, GitError> {
        let dir = tempfile::tempdir().map_err(|e| failed("temporary directory", e))?;
        let mut opened = Vec::new();
        for (n, index) in indexes.iter().enumerate() {
            let path = dir.path().join(format!("{n}.idx"));
            std::fs::write(&path, index).map_err(|e| failed("pack index", e))?;
            match gix_pack::index::File::at(&path, HASH) {
                Ok(index) => opened.push(index),
                Err(e) => tracing::warn!(error = %e, "a listed pack's index is unreadable"),
            }
        }
        Ok(Self {
            _dir: dir,
            indexes: opened,
        })
    }

    /// Whether one of the packs holds `id`.
    pub fn holds(&self, id: gix_hash::ObjectId) -> bool {
        self.indexes.iter().any(|index| index.lookup(id).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_indexes_every_object() {
        let objects: Vec<EncodedObject> = (0..50)
            .map(|i| EncodedObject::blob(format!("file {i}\n").as_bytes()).unwrap())
            .collect();
        let pack = write_pack(&objects).unwrap();
        assert_eq!(&pack.pack[..4], b"PACK");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pack.idx");
        std::fs::write(&path, &pack.index).unwrap();
        let index = gix_pack::index::File::at(&path, HASH).unwrap();
        assert_eq!(index.num_objects(), 50);
        for object in &objects {
            assert!(index.lookup(object.id).is_some(), "{}", object.id);
        }
        let reader = PackReader::open(&[(pack.id, pack.pack, pack.index)]).unwrap();
        for object in &objects {
            assert_eq!(reader.find(object.id).unwrap().as_ref(), Some(object));
        }
        let absent = EncodedObject::blob(b"absent").unwrap();
        assert_eq!(reader.find(absent.id).unwrap(), None);
        let mut all = reader.all_objects().unwrap();
        let mut expected = objects.clone();
        all.sort_by_key(|o| o.id);
        expected.sort_by_key(|o| o.id);
        assert_eq!(all, expected);
    }
}
