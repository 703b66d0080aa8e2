//! Builds `.crate` files in code for tests, including malformed ones that
//! `tar::Builder`'s own path checks would refuse to write.

use flate2::write::GzEncoder;
use std::io::{Read, Write};
use tar::Header;

pub use flate2::Compression;
pub use tar::EntryType;

/// The size of the name field of a tar header.
const NAME_FIELD: usize = 100;

enum Body {
    Bytes(Vec<u8>),
    Zeros(u64),
}

struct Entry {
    path: Vec<u8>,
    kind: EntryType,
    link: Option<Vec<u8>>,
    body: Body,
}

/// A gzip-compressed tar archive, entries in insertion order. Paths given
/// to [`file`](Self::file) and [`zeros`](Self::zeros) are relative to the
/// prefix; every other method takes the path exactly as the header holds
/// it, `..`, absolute and all. Paths longer than a tar header's name field
/// are written with a GNU long-name entry, as cargo does.
#[derive(Default)]
pub struct TarballBuilder {
    prefix: String,
    entries: Vec<Entry>,
    compression: Compression,
}

impl std::fmt::Debug for TarballBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarballBuilder")
            .field("prefix", &self.prefix)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl TarballBuilder {
    /// `prefix` is the top directory, normally `{name}-{version}`.
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
            entries: Vec::new(),
            compression: Compression::default(),
        }
    }

    /// The gzip level, `Compression::default()` unless set.
    pub fn compression(mut self, level: Compression) -> Self {
        self.compression = level;
        self
    }

    /// A regular file at `{prefix}/{path}`.
    pub fn file(self, path: &str, content: &[u8]) -> Self {
        let full = format!("{}/{path}", self.prefix);
        self.raw_file(&full, content)
    }

    /// `size` zero bytes at `{prefix}/{path}`, streamed when building,
    /// never held in memory: a gzip bomb.
    pub fn zeros(self, path: &str, size: u64) -> Self {
        let full = format!("{}/{path}", self.prefix);
        self.push(full.as_bytes(), EntryType::Regular, None, Body::Zeros(size))
    }

    /// A regular file whose header holds `path` exactly.
    pub fn raw_file(self, path: &str, content: &[u8]) -> Self {
        self.raw_entry(path.as_bytes(), EntryType::Regular, None, content)
    }

    /// A directory entry; `path` normally ends in `/`.
    pub fn directory(self, path: &str) -> Self {
        self.raw_entry(path.as_bytes(), EntryType::Directory, None, b"")
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.raw_entry(
            path.as_bytes(),
            EntryType::Symlink,
            Some(target.as_bytes()),
            b"",
        )
    }

    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.raw_entry(
            path.as_bytes(),
            EntryType::Link,
            Some(target.as_bytes()),
            b"",
        )
    }

    pub fn char_device(self, path: &str) -> Self {
        self.raw_entry(path.as_bytes(), EntryType::Char, None, b"")
    }

    pub fn block_device(self, path: &str) -> Self {
        self.raw_entry(path.as_bytes(), EntryType::Block, None, b"")
    }

    pub fn fifo(self, path: &str) -> Self {
        self.raw_entry(path.as_bytes(), EntryType::Fifo, None, b"")
    }

    /// Any entry: arbitrary path bytes, any type, an optional link target
    /// (at most 100 bytes).
    pub fn raw_entry(
        self,
        path: &[u8],
        kind: EntryType,
        link: Option<&[u8]>,
        content: &[u8],
    ) -> Self {
        self.push(path, kind, link, Body::Bytes(content.to_vec()))
    }

    fn push(mut self, path: &[u8], kind: EntryType, link: Option<&[u8]>, body: Body) -> Self {
        if let Some(link) = link {
            assert!(link.len() <= NAME_FIELD, "link targets must fit 100 bytes");
        }
        self.entries.push(Entry {
            path: path.to_vec(),
            kind,
            link: link.map(<[u8]>::to_vec),
            body,
        });
        self
    }

    /// The `.crate` bytes.
    pub fn build(self) -> Vec<u8> {
        const IN_MEMORY: &str = "writing to memory succeeds";
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), self.compression));
        for entry in self.entries {
            if entry.path.len() > NAME_FIELD {
                let mut long = Header::new_gnu();
                long.set_entry_type(EntryType::GNULongName);
                set_name(&mut long, b"././@LongLink");
                let mut name = entry.path.clone();
                name.push(0);
                long.set_size(name.len() as u64);
                long.set_cksum();
                tar.append(&long, name.as_slice()).expect(IN_MEMORY);
            }
            let mut header = Header::new_gnu();
            header.set_entry_type(entry.kind);
            header.set_mode(if entry.kind.is_dir() { 0o755 } else { 0o644 });
            set_name(&mut header, &entry.path[..entry.path.len().min(NAME_FIELD)]);
            if let Some(link) = &entry.link {
                header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
            }
            let reader: Box<dyn Read> = match entry.body {
                Body::Bytes(bytes) => {
                    header.set_size(bytes.len() as u64);
                    Box::new(std::io::Cursor::new(bytes))
                }
                Body::Zeros(size) => {
                    header.set_size(size);
                    Box::new(std::io::repeat(0).take(size))
                }
            };
            header.set_cksum();
            tar.append(&header, reader).expect(IN_MEMORY);
        }
        let mut gz = tar.into_inner().expect(IN_MEMORY);
        gz.flush().expect(IN_MEMORY);
        gz.finish().expect(IN_MEMORY)
    }
}

/// Writes `name` into the header's name field as is, bypassing the checks
/// of `Header::set_path`.
fn set_name(header: &mut Header, name: &[u8]) {
    let field = &mut header.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(bytes: &[u8]) -> Vec<(Vec<u8>, EntryType, u64)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path_bytes().into_owned(),
                    e.header().entry_type(),
                    e.size(),
                )
            })
            .collect()
    }

    #[test]
    fn tarball_builder_writes_raw_paths_and_types() {
        let long = format!("foo-1.0.0/{}/x.rs", "d".repeat(120));
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file("Cargo.toml", b"[package]")
            .raw_file("foo-1.0.0/../x", b"ab")
            .raw_file("/abs", b"")
            .raw_file(&long, b"")
            .symlink("foo-1.0.0/l", "/etc")
            .fifo("foo-1.0.0/p")
            .zeros("z", 5)
            .build();
        assert_eq!(
            entries(&bytes),
            [
                (b"foo-1.0.0/Cargo.toml".to_vec(), EntryType::Regular, 9),
                (b"foo-1.0.0/../x".to_vec(), EntryType::Regular, 2),
                (b"/abs".to_vec(), EntryType::Regular, 0),
                (long.into_bytes(), EntryType::Regular, 0),
                (b"foo-1.0.0/l".to_vec(), EntryType::Symlink, 0),
                (b"foo-1.0.0/p".to_vec(), EntryType::Fifo, 0),
                (b"foo-1.0.0/z".to_vec(), EntryType::Regular, 5),
            ]
        );
    }
}
