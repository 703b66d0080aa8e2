//! The streaming walk over a `.crate`: every entry is checked as it comes,
//! and the inflated size is counted so a gzip bomb stops early.

use crate::TarballError;
use crate::limits::{TarballLimits, human_size};
use flate2::read::GzDecoder;
use std::io::{self, Read};
use tar::EntryType;

/// At most this many README candidates are kept in memory.
const MAX_README_CANDIDATES: usize = 8;

/// What the rest of inspection needs from the archive.
#[derive(Debug)]
pub(crate) struct ArchiveContents {
    pub manifest: Vec<u8>,
    /// Files named `readme*` (any case), by path relative to the prefix.
    pub readmes: Vec<(String, Vec<u8>)>,
}

/// Counts inflated bytes and fails once there are more than `limit`.
struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.remaining {
            self.exceeded = true;
            return Err(io::Error::other("unpacked size limit exceeded"));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Walks the archive; every entry must be a regular file or directory under
/// `{prefix}/`, and exactly one must be `{prefix}/Cargo.toml`.
pub(crate) fn read_archive(
    bytes: &[u8],
    prefix: &str,
    limits: &TarballLimits,
) -> Result<ArchiveContents, TarballError> {
    let mut reader = LimitedReader {
        inner: GzDecoder::new(bytes),
        remaining: limits.max_unpacked,
        exceeded: false,
    };
    let result = walk(&mut reader, prefix, limits);
    if reader.exceeded {
        return Err(TarballError::UnpackedTooLarge {
            limit: human_size(limits.max_unpacked),
        });
    }
    result
}

fn walk<R: Read>(
    reader: &mut R,
    prefix: &str,
    limits: &TarballLimits,
) -> Result<ArchiveContents, TarballError> {
    let corrupt = |e: io::Error| TarballError::Corrupt(e.to_string());
    let manifest_path = format!("{prefix}/Cargo.toml");
    let mut manifest = None;
    let mut readmes = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        check_path(&path, prefix)?;
        match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => {}
            EntryType::Directory | EntryType::XGlobalHeader => continue,
            EntryType::Symlink | EntryType::Link => return Err(TarballError::Link(path)),
            _ => return Err(TarballError::SpecialFile(path)),
        }
        let relative = &path[prefix.len() + 1..];
        if path.eq_ignore_ascii_case(&manifest_path) {
            if manifest.is_some() {
                return Err(TarballError::DuplicateManifest(manifest_path));
            }
            manifest = Some(read_limited(&mut entry, &path, limits.max_manifest)?);
        } else if is_readme(relative)
            && entry.size() <= limits.max_readme
            && readmes.len() < MAX_README_CANDIDATES
        {
            readmes.push((
                relative.to_string(),
                read_limited(&mut entry, &path, limits.max_readme)?,
            ));
        }
    }
    let manifest = manifest.ok_or(TarballError::MissingManifest(manifest_path))?;
    Ok(ArchiveContents { manifest, readmes })
}

fn check_path(path: &str, prefix: &str) -> Result<(), TarballError> {
    if path.starts_with('/') || path.starts_with('\\') || path.split(['/', '\\']).any(|c| c == "..")
    {
        return Err(TarballError::UnsafePath(path.into()));
    }
    match path
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(TarballError::OutsidePrefix {
            path: path.into(),
            prefix: prefix.into(),
        }),
    }
}

fn is_readme(relative: &str) -> bool {
    let file = relative.rsplit('/').next().unwrap_or(relative);
    file.len() >= 6 && file[..6].eq_ignore_ascii_case("readme")
}

fn read_limited(entry: &mut impl Read, path: &str, limit: u64) -> Result<Vec<u8>, TarballError> {
    let mut content = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut content)
        .map_err(|e| TarballError::Corrupt(e.to_string()))?;
    if content.len() as u64 > limit {
        return Err(TarballError::FileTooLarge {
            path: path.into(),
            limit: human_size(limit),
        });
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TarballBuilder;

    fn read(bytes: &[u8]) -> Result<ArchiveContents, TarballError> {
        read_archive(bytes, "foo-1.0.0", &TarballLimits::default())
    }

    fn base() -> TarballBuilder {
        TarballBuilder::new("foo-1.0.0").file("Cargo.toml", b"[package]")
    }

    #[test]
    fn read_archive_keeps_manifest_and_readmes() {
        let bytes = base()
            .file("README.md", b"# hi")
            .file("docs/readme.txt", b"x")
            .file("src/lib.rs", b"")
            .build();
        let contents = read(&bytes).unwrap();
        assert_eq!(contents.manifest, b"[package]");
        let names: Vec<_> = contents.readmes.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["README.md", "docs/readme.txt"]);
    }

    #[test]
    fn read_archive_rejects_paths_outside_the_prefix() {
        for (path, expected) in [
            ("bar-1.0.0/x", "is outside the `foo-1.0.0/` directory"),
            ("foo-1.0.0x/y", "is outside"),
            ("foo-1.0.0/../x", "contains `..`"),
            ("/etc/passwd", "contains `..` or is absolute"),
            ("foo-1.0.0/a/../../x", "contains `..`"),
        ] {
            let err = read(&base().raw_file(path, b"").build())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(path) && err.contains(expected),
                "{path}: {err}"
            );
        }
    }

    #[test]
    fn read_archive_rejects_links_and_devices() {
        let err = read(&base().symlink("foo-1.0.0/l", "/etc").build()).unwrap_err();
        assert!(matches!(err, TarballError::Link(_)), "{err}");
        let err = read(
            &base()
                .hardlink("foo-1.0.0/h", "foo-1.0.0/Cargo.toml")
                .build(),
        )
        .unwrap_err();
        assert!(matches!(err, TarballError::Link(_)), "{err}");
        let err = read(&base().char_device("foo-1.0.0/null").build()).unwrap_err();
        assert!(matches!(err, TarballError::SpecialFile(_)), "{err}");
    }

    #[test]
    fn read_archive_requires_exactly_one_manifest() {
        let err = read(
            &TarballBuilder::new("foo-1.0.0")
                .file("src/lib.rs", b"")
                .build(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "the .crate has no `foo-1.0.0/Cargo.toml`");
        let err = read(&base().file("Cargo.toml", b"again").build()).unwrap_err();
        assert!(matches!(err, TarballError::DuplicateManifest(_)), "{err}");
        let err = read(&base().file("cargo.TOML", b"again").build()).unwrap_err();
        assert!(matches!(err, TarballError::DuplicateManifest(_)), "{err}");
    }

    #[test]
    fn read_archive_rejects_non_gzip_and_oversized_manifests() {
        assert!(matches!(
            read(b"plain text").unwrap_err(),
            TarballError::Corrupt(_)
        ));
        let big = vec![b'#'; 1024 * 1024 + 1];
        let err = read(
            &TarballBuilder::new("foo-1.0.0")
                .file("Cargo.toml", &big)
                .build(),
        )
        .unwrap_err();
        assert!(matches!(err, TarballError::FileTooLarge { .. }), "{err}");
    }

    #[test]
    fn read_archive_stops_a_gzip_bomb_at_the_unpacked_limit() {
        let bomb = base().zeros("zeros.bin", 600 * 1024 * 1024).build();
        assert!(bomb.len() < 2 * 1024 * 1024);
        let err = read(&bomb).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate unpacks to more than 512 MiB; remove large files from the package (see `cargo package --list`)"
        );
    }
}
