//! The streaming walk over a `.crate`: every entry is checked as it comes,
//! and the inflated size is counted so a gzip bomb stops early.

use crate::TarballError;
use crate::limits::{TarballLimits, human_limit};
// The `bufread` decoder consumes exactly its gzip member from the slice,
// so what follows it can be seen (and refused).
use flate2::bufread::GzDecoder;
use std::io::{self, Read};
use tar::EntryType;

/// At most this many README candidates are kept before the manifest says
/// which one is wanted.
const MAX_README_CANDIDATES: usize = 8;

const MANIFEST: &str = "Cargo.toml";

/// What the rest of inspection needs from the archive.
#[derive(Debug)]
pub(crate) struct ArchiveContents {
    pub manifest: Vec<u8>,
    /// README candidates, by path relative to `{prefix}/`: files whose name
    /// starts with `readme` (any case), and the file the manifest names.
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
/// `declared_readme` tells, from the manifest's bytes, which file (relative
/// to the prefix) is the README, so that it is kept whatever its name.
pub(crate) fn read_archive(
    bytes: &[u8],
    prefix: &str,
    limits: &TarballLimits,
    declared_readme: impl Fn(&[u8]) -> Option<String>,
) -> Result<ArchiveContents, TarballError> {
    let mut reader = LimitedReader {
        inner: GzDecoder::new(bytes),
        remaining: limits.max_unpacked,
        exceeded: false,
    };
    let result = walk(&mut reader, prefix, limits, declared_readme).and_then(|contents| {
        // Inflate the rest too: it counts towards the limit, and reaching the
        // end checks the gzip trailer, so a truncated upload is refused.
        io::copy(&mut reader, &mut io::sink()).map_err(corrupt)?;
        match reader.inner.get_ref().len() {
            0 => Ok(contents),
            trailing => Err(TarballError::Corrupt(format!(
                "{trailing} bytes follow the gzip stream; a .crate is exactly one gzip stream"
            ))),
        }
    });
    if reader.exceeded {
        return Err(TarballError::UnpackedTooLarge {
            limit: human_limit(limits.max_unpacked),
        });
    }
    result
}

/// The top directory of the archive's first entry, which should be
/// `{name}-{version}`: what a `.crate` says it holds, before any check (an
/// upload that names neither is identified by it, then fully inspected).
pub fn package_dir(bytes: &[u8]) -> Result<String, TarballError> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut entries = archive.entries().map_err(corrupt)?;
    let first = entries
        .next()
        .ok_or_else(|| TarballError::Corrupt("the archive is empty".into()))?
        .map_err(corrupt)?;
    let path = String::from_utf8_lossy(&first.path_bytes()).into_owned();
    Ok(path
        .split(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string())
}

fn corrupt(e: io::Error) -> TarballError {
    TarballError::Corrupt(e.to_string())
}

fn walk<R: Read>(
    reader: &mut R,
    prefix: &str,
    limits: &TarballLimits,
    declared_readme: impl Fn(&[u8]) -> Option<String>,
) -> Result<ArchiveContents, TarballError> {
    let manifest_path = format!("{prefix}/{MANIFEST}");
    let mut manifest = None;
    let mut manifests_seen = 0;
    // `None` until the manifest has been read, then what it declares.
    let mut wanted_readme: Option<Option<String>> = None;
    let mut readmes = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        let relative = check_path(&path, prefix, kind == EntryType::Directory)?;
        match kind {
            EntryType::Regular | EntryType::Continuous => {}
            EntryType::Directory => continue,
            EntryType::Symlink => return Err(TarballError::Symlink(path)),
            EntryType::Link => return Err(TarballError::HardLink(path)),
            other => {
                return Err(TarballError::SpecialFile {
                    path,
                    kind: special_kind(other),
                });
            }
        }
        if relative.eq_ignore_ascii_case(MANIFEST) {
            manifests_seen += 1;
            if manifests_seen > 1 {
                return Err(TarballError::DuplicateManifest(manifest_path));
            }
            if relative == MANIFEST {
                let content = read_manifest(&mut entry, &path, limits.max_manifest)?;
                wanted_readme = Some(declared_readme(&content));
                manifest = Some(content);
            }
            continue;
        }
        let keep = match &wanted_readme {
            Some(wanted) => wanted.as_deref() == Some(relative),
            None => is_readme(relative) && readmes.len() < MAX_README_CANDIDATES,
        };
        if keep && entry.size() <= limits.max_readme {
            let mut content = Vec::new();
            (&mut entry)
                .take(limits.max_readme)
                .read_to_end(&mut content)
                .map_err(corrupt)?;
            readmes.push((relative.to_string(), content));
        }
    }
    let manifest = manifest.ok_or(TarballError::MissingManifest(manifest_path))?;
    Ok(ArchiveContents { manifest, readmes })
}

/// Checks an entry's path and returns it relative to `{prefix}/` (empty for
/// the top directory itself).
fn check_path<'p>(path: &'p str, prefix: &str, is_dir: bool) -> Result<&'p str, TarballError> {
    let components = || path.split(['/', '\\']);
    if path.starts_with(['/', '\\']) || components().next().is_some_and(|c| c.ends_with(':')) {
        return Err(TarballError::AbsolutePath {
            path: path.into(),
            prefix: prefix.into(),
        });
    }
    if components().any(|c| c == "..") {
        return Err(TarballError::ParentComponent {
            path: path.into(),
            prefix: prefix.into(),
        });
    }
    let relative = match path.strip_prefix(prefix) {
        Some("") if is_dir => return Ok(""),
        Some(rest) => rest.strip_prefix('/'),
        None => None,
    };
    let Some(relative) = relative else {
        return Err(TarballError::OutsidePrefix {
            path: path.into(),
            prefix: prefix.into(),
        });
    };
    // A directory may end in `/`; otherwise every component is a real name.
    let trimmed = if is_dir {
        relative.strip_suffix('/').unwrap_or(relative)
    } else {
        relative
    };
    if !trimmed.is_empty() && trimmed.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(TarballError::IrregularPath(path.into()));
    }
    if trimmed.is_empty() && !is_dir {
        return Err(TarballError::OutsidePrefix {
            path: path.into(),
            prefix: prefix.into(),
        });
    }
    Ok(trimmed)
}

fn special_kind(kind: EntryType) -> String {
    match kind {
        EntryType::Char => "character device".into(),
        EntryType::Block => "block device".into(),
        EntryType::Fifo => "named pipe".into(),
        EntryType::GNUSparse => "sparse file".into(),
        other => format!(
            "special entry (tar type `{}`)",
            other.as_byte().escape_ascii()
        ),
    }
}

fn is_readme(relative: &str) -> bool {
    let file = relative.rsplit('/').next().unwrap_or(relative);
    file.len() >= 6 && file.as_bytes()[..6].eq_ignore_ascii_case(b"readme")
}

fn read_manifest(entry: &mut impl Read, path: &str, limit: u64) -> Result<Vec<u8>, TarballError> {
    let mut content = Vec::new();
    entry
        .take(limit.saturating_add(1))
        .read_to_end(&mut content)
        .map_err(corrupt)?;
    if content.len() as u64 > limit {
        return Err(TarballError::ManifestTooLarge {
            path: path.into(),
            limit: human_limit(limit),
        });
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TarballBuilder;
    use crate::builder::Compression;

    const MANIFEST_BYTES: &[u8] = b"[package]";

    fn read(bytes: &[u8]) -> Result<ArchiveContents, TarballError> {
        read_archive(bytes, "foo-1.0.0", &TarballLimits::default(), |_| None)
    }

    fn base() -> TarballBuilder {
        TarballBuilder::new("foo-1.0.0").file("Cargo.toml", MANIFEST_BYTES)
    }

    #[test]
    fn read_archive_keeps_manifest_and_readme_candidates() {
        let bytes = TarballBuilder::new("foo-1.0.0")
            .directory("foo-1.0.0/")
            .file("README.md", b"# hi")
            .file("docs/readme.txt", b"x")
            .directory("foo-1.0.0/src/")
            .file("src/lib.rs", b"")
            .file("Cargo.toml", MANIFEST_BYTES)
            .build();
        let contents = read(&bytes).unwrap();
        assert_eq!(contents.manifest, MANIFEST_BYTES);
        let names: Vec<_> = contents.readmes.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["README.md", "docs/readme.txt"]);
    }

    #[test]
    fn package_dir_is_the_first_entry_top_directory() {
        assert_eq!(package_dir(&base().build()).unwrap(), "foo-1.0.0");
        let dir_first = TarballBuilder::new("bar-0.1.0-rc.1")
            .directory("bar-0.1.0-rc.1/")
            .file("Cargo.toml", MANIFEST_BYTES)
            .build();
        assert_eq!(package_dir(&dir_first).unwrap(), "bar-0.1.0-rc.1");
        assert!(matches!(
            package_dir(b"not gzip"),
            Err(TarballError::Corrupt(_))
        ));
    }

    #[test]
    fn read_archive_keeps_the_declared_readme_after_the_manifest() {
        let bytes = base()
            .file("INTRO.md", b"intro")
            .file("README.md", b"not this one")
            .build();
        let contents = read_archive(&bytes, "foo-1.0.0", &TarballLimits::default(), |m| {
            assert_eq!(m, MANIFEST_BYTES);
            Some("INTRO.md".into())
        })
        .unwrap();
        assert_eq!(contents.readmes, [("INTRO.md".into(), b"intro".to_vec())]);
    }

    #[test]
    fn read_archive_skips_readmes_over_the_limit() {
        let limits = TarballLimits {
            max_readme: 4,
            ..TarballLimits::default()
        };
        let bytes = base().file("README.md", b"12345").build();
        let contents = read_archive(&bytes, "foo-1.0.0", &limits, |_| None).unwrap();
        assert!(contents.readmes.is_empty());
    }

    #[test]
    fn read_archive_rejects_entries_outside_the_prefix() {
        for path in [
            "bar-1.0.0/x",
            "foo-1.0.0x/y",
            "foo-1.0.0",
            "Foo-1.0.0/x",
            "x",
        ] {
            let err = read(&base().raw_file(path, b"").build()).unwrap_err();
            assert!(matches!(err, TarballError::OutsidePrefix { .. }), "{err}");
            assert_eq!(
                err.to_string(),
                format!(
                    "`{path}` is outside the `foo-1.0.0/` directory; a .crate may only contain files under it"
                )
            );
        }
    }

    #[test]
    fn read_archive_rejects_parent_components() {
        for path in [
            "foo-1.0.0/../x",
            "foo-1.0.0/a/../../x",
            "foo-1.0.0/a\\..\\x",
        ] {
            let err = read(&base().raw_file(path, b"").build()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "`{path}` leaves the `foo-1.0.0/` directory; a .crate may only contain files under it"
                )
            );
        }
    }

    #[test]
    fn read_archive_rejects_absolute_paths() {
        for path in ["/etc/passwd", "\\x", "C:/x"] {
            let err = read(&base().raw_file(path, b"").build()).unwrap_err();
            assert!(matches!(err, TarballError::AbsolutePath { .. }), "{err}");
            assert!(err.to_string().contains(path), "{err}");
        }
    }

    #[test]
    fn read_archive_rejects_empty_and_dot_components() {
        for path in [
            "foo-1.0.0/./Cargo.toml",
            "foo-1.0.0//Cargo.toml",
            "foo-1.0.0/a/",
        ] {
            let err = read(&base().raw_file(path, b"").build()).unwrap_err();
            assert!(matches!(err, TarballError::IrregularPath(_)), "{err}");
        }
    }

    #[test]
    fn read_archive_rejects_symlinks() {
        let err = read(&base().symlink("foo-1.0.0/link", "/etc").build()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`foo-1.0.0/link` is a symbolic link; links are not allowed in a .crate"
        );
    }

    #[test]
    fn read_archive_rejects_hard_links() {
        let err = read(
            &base()
                .hardlink("foo-1.0.0/hard", "foo-1.0.0/Cargo.toml")
                .build(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`foo-1.0.0/hard` is a hard link; links are not allowed in a .crate"
        );
    }

    #[test]
    fn read_archive_rejects_devices_fifos_and_other_types() {
        for (bytes, kind) in [
            (
                base().char_device("foo-1.0.0/d").build(),
                "character device",
            ),
            (base().block_device("foo-1.0.0/d").build(), "block device"),
            (base().fifo("foo-1.0.0/d").build(), "named pipe"),
            (
                base()
                    .raw_entry(b"foo-1.0.0/d", EntryType::new(b'Z'), None, b"")
                    .build(),
                "special entry (tar type `Z`)",
            ),
        ] {
            let err = read(&bytes).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "`foo-1.0.0/d` is a {kind}; a .crate may only contain regular files and directories"
                )
            );
        }
    }

    #[test]
    fn read_archive_rejects_a_missing_manifest() {
        for bytes in [
            TarballBuilder::new("foo-1.0.0")
                .file("src/lib.rs", b"")
                .build(),
            TarballBuilder::new("foo-1.0.0")
                .file("cargo.toml", MANIFEST_BYTES)
                .build(),
            TarballBuilder::new("foo-1.0.0")
                .file("sub/Cargo.toml", MANIFEST_BYTES)
                .build(),
        ] {
            let err = read(&bytes).unwrap_err();
            assert_eq!(err.to_string(), "the .crate has no `foo-1.0.0/Cargo.toml`");
        }
    }

    #[test]
    fn read_archive_rejects_a_second_manifest() {
        for other in ["Cargo.toml", "cargo.TOML"] {
            let err = read(&base().file(other, b"again").build()).unwrap_err();
            assert!(matches!(err, TarballError::DuplicateManifest(_)), "{err}");
        }
        let err = read(
            &TarballBuilder::new("foo-1.0.0")
                .file("CARGO.toml", b"")
                .file("Cargo.toml", MANIFEST_BYTES)
                .build(),
        )
        .unwrap_err();
        assert!(matches!(err, TarballError::DuplicateManifest(_)), "{err}");
    }

    #[test]
    fn read_archive_rejects_an_oversized_manifest() {
        let big = vec![b'#'; 1024 * 1024 + 1];
        let err = read(
            &TarballBuilder::new("foo-1.0.0")
                .file("Cargo.toml", &big)
                .build(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`foo-1.0.0/Cargo.toml` is larger than 1 MiB; a Cargo.toml may be at most 1 MiB"
        );
    }

    #[test]
    fn read_archive_rejects_non_gzip_and_truncated_input() {
        let err = read(b"plain text").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the .crate is not a gzip-compressed tar archive: "),
            "{err}"
        );
        let whole = base().file("src/lib.rs", b"fn f() {}").build();
        let err = read(&whole[..whole.len() - 4]).unwrap_err();
        assert!(matches!(err, TarballError::Corrupt(_)), "{err}");
    }

    #[test]
    fn read_archive_stops_a_gzip_bomb_at_the_unpacked_limit() {
        let bomb = base()
            .zeros("zeros.bin", 600 * 1024 * 1024)
            .compression(Compression::fast())
            .build();
        assert!(bomb.len() < 10 * 1024 * 1024, "{}", bomb.len());
        let err = read(&bomb).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate unpacks to more than 512 MiB; remove large files from the package (see `cargo package --list`)"
        );
    }
}
