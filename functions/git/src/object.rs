//! Git objects as stored: encoded and hashed by `gix-object`, written
//! loose (zlib over `{kind} {size}\0{data}`) as git's dumb HTTP walker
//! fetches them.

use crate::GitError;
use crateyard_core::GitObjectId;
use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use gix_hash::ObjectId;
use gix_object::{Kind, WriteTo};
use std::io::{Read, Write};

/// Only SHA-1 repositories: what every git that cargo drives reads.
pub(crate) const HASH: gix_hash::Kind = gix_hash::Kind::Sha1;

/// An encoded object and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedObject {
    pub id: ObjectId,
    pub kind: Kind,
    pub data: Vec<u8>,
}

impl EncodedObject {
    pub fn new(object: &impl WriteTo) -> Result<Self, GitError> {
        let mut data = Vec::with_capacity(object.size() as usize);
        object
            .write_to(&mut data)
            .map_err(|e| GitError::Encode(e.to_string()))?;
        let kind = object.kind();
        let id = gix_object::compute_hash(HASH, kind, &data)
            .map_err(|e| GitError::Encode(e.to_string()))?;
        Ok(Self { id, kind, data })
    }

    pub fn blob(data: &[u8]) -> Result<Self, GitError> {
        Self::new(&gix_object::BlobRef { data })
    }

    /// The loose object file: header and data, zlib-compressed.
    pub fn loose(&self) -> Vec<u8> {
        let mut out = ZlibEncoder::new(Vec::new(), Compression::default());
        let header = gix_object::encode::loose_header(self.kind, self.data.len() as u64);
        // Writing to a Vec cannot fail.
        out.write_all(&header)
            .and_then(|()| out.write_all(&self.data))
            .expect("writes to memory");
        out.finish().expect("writes to memory")
    }

    /// An object read back from its loose file, checked against `id`.
    pub fn from_loose(id: ObjectId, loose: &[u8]) -> Result<Self, GitError> {
        let bad = |why: String| GitError::BadObject {
            id: id.to_string(),
            why,
        };
        let mut bytes = Vec::new();
        ZlibDecoder::new(loose)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        let (kind, size, header) =
            gix_object::decode::loose_header(&bytes).map_err(|e| bad(e.to_string()))?;
        let data = bytes.split_off(header);
        if data.len() as u64 != size {
            return Err(bad(format!("{} bytes, the header says {size}", data.len())));
        }
        let actual = gix_object::compute_hash(HASH, kind, &data).map_err(|e| bad(e.to_string()))?;
        if actual != id {
            return Err(bad(format!("its content hashes to {actual}")));
        }
        Ok(Self { id, kind, data })
    }
}

/// The object's id as the store's keys name it.
pub(crate) fn key_id(id: &ObjectId) -> GitObjectId {
    GitObjectId::new(&id.to_string()).expect("SHA-1 ids render as 40 lowercase hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_hash_as_git_hashes_them() {
        // `git hash-object /dev/null` and `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            EncodedObject::blob(b"").unwrap().id.to_string(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            EncodedObject::blob(b"hello\n").unwrap().id.to_string(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn loose_objects_read_back_and_are_checked() {
        let blob = EncodedObject::blob(b"{\"name\":\"a\"}\n").unwrap();
        let loose = blob.loose();
        assert_eq!(EncodedObject::from_loose(blob.id, &loose).unwrap(), blob);
        let other = EncodedObject::blob(b"other").unwrap();
        assert!(matches!(
            EncodedObject::from_loose(other.id, &loose),
            Err(GitError::BadObject { .. })
        ));
        assert!(EncodedObject::from_loose(blob.id, b"not zlib").is_err());
        assert!(EncodedObject::from_loose(blob.id, &loose[..loose.len() / 2]).is_err());
    }
}
