//! Builds `.crate` files in code for tests, including malformed ones that
//! `tar::Builder`'s own path checks would refuse to write.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{Read, Write};
use tar::{EntryType, Header};

enum Body {
    Bytes(Vec<u8>),
    Zeros(u64),
}

struct Entry {
    path: String,
    kind: EntryType,
    link: Option<String>,
    body: Body,
}

/// A gzip-compressed tar archive, entries in insertion order.
#[derive(Default)]
pub struct TarballBuilder {
    prefix: String,
    entries: Vec<Entry>,
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
        }
    }

    /// A regular file at `{prefix}/{path}`.
    pub fn file(self, path: &str, content: &[u8]) -> Self {
        let full = format!("{}/{path}", self.prefix);
        self.raw_file(&full, content)
    }

    /// A regular file whose header holds `path` exactly, `..` and all.
    pub fn raw_file(self, path: &str, content: &[u8]) -> Self {
        self.entry(
            path,
            EntryType::Regular,
            None,
            Body::Bytes(content.to_vec()),
        )
    }

    /// `size` zero bytes at `{prefix}/{path}`, streamed, never held in memory.
    pub fn zeros(self, path: &str, size: u64) -> Self {
        let full = format!("{}/{path}", self.prefix);
        self.entry(&full, EntryType::Regular, None, Body::Zeros(size))
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(
            path,
            EntryType::Symlink,
            Some(target),
            Body::Bytes(Vec::new()),
        )
    }

    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.entry(path, EntryType::Link, Some(target), Body::Bytes(Vec::new()))
    }

    pub fn char_device(self, path: &str) -> Self {
        self.entry(path, EntryType::Char, None, Body::Bytes(Vec::new()))
    }

    fn entry(mut self, path: &str, kind: EntryType, link: Option<&str>, body: Body) -> Self {
        self.entries.push(Entry {
            path: path.into(),
            kind,
            link: link.map(str::to_string),
            body,
        });
        self
    }

    pub fn build(self) -> Vec<u8> {
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
        for entry in self.entries {
            let mut header = Header::new_gnu();
            header.set_entry_type(entry.kind);
            header.set_mode(0o644);
            let name = &mut header.as_old_mut().name;
            assert!(
                entry.path.len() < name.len(),
                "test paths must fit the 100-byte tar name field"
            );
            name[..entry.path.len()].copy_from_slice(entry.path.as_bytes());
            if let Some(link) = &entry.link {
                let link_name = &mut header.as_old_mut().linkname;
                link_name[..link.len()].copy_from_slice(link.as_bytes());
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
            tar.append(&header, reader)
                .expect("writing to memory succeeds");
        }
        let mut gz = tar.into_inner().expect("writing to memory succeeds");
        gz.flush().expect("writing to memory succeeds");
        gz.finish().expect("writing to memory succeeds")
    }
}
