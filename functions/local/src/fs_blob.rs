use crate::DataDir;
use async_trait::async_trait;
use bytes::Bytes;
use crateyard_core::{
    BlobError, BlobStore, KeyPrefix, ObjectKey, ObjectMeta, Put, PutMode, PutOptions, StorageTier,
};
#[cfg(target_os = "linux")]
use rustix::{
    fs::{AtFlags, CWD, Mode, OFlags},
    io::Errno,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use xattr::FileExt;

/// Objects as files. Writes go to a temporary file, which gets the object's
/// user metadata as an extended attribute ([`METADATA_XATTR`]) and is then
/// renamed into place: a reader (or a crash) never sees half a file, nor a
/// file with another write's metadata, and needs no lock. A write holds an
/// exclusive `flock` on its key's lock file, which makes a conditional
/// write's check-then-write atomic across processes, as S3's are. Keys share
/// [`LOCK_STRIPES`] lock files by a hash of the key, the same in every
/// process, so writes of different keys mostly proceed in parallel.
///
/// A create (most of a reindex's writes) needs neither lock nor rename where
/// the file system allows: the file is linked under its name, which the
/// kernel refuses when the name is taken, so check and write are one step
/// for every process. Where `O_TMPFILE` works the file is written unnamed,
/// and a crash leaves no temporary file behind. Every other write locks.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    dirs: DataDir,
    /// How creates link their file under its name (see above), if they
    /// can; probed at start. `None`: they lock, check and rename.
    links_new_files: Option<Linking>,
}

/// How a new file gets its name, the kernel refusing a name that is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linking {
    /// Written unnamed (`O_TMPFILE`), then linked.
    Unnamed(UnnamedLink),
    /// A named temporary file, hard-linked, then its temporary name
    /// removed (a crash between leaves it for the next start to remove).
    NamedFile,
}

/// How an unnamed file is linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnnamedLink {
    /// `linkat(fd, "", AT_EMPTY_PATH)`: allowed to the process that opened
    /// the file since Linux 6.10 (before, only with `CAP_DAC_READ_SEARCH`).
    ByDescriptor,
    /// `linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW)`: the same through
    /// `/proc`, on any Linux; a path walk more.
    ByProcPath,
}

impl Linking {
    /// Creates `path` with `body` and `metadata` unless something (a file,
    /// a link) is there, when it fails with `AlreadyExists`; returns the
    /// file's modification time.
    fn create(
        self,
        path: &Path,
        body: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> std::io::Result<SystemTime> {
        match self {
            Linking::Unnamed(how) => link_new_file(path, body, metadata, how),
            Linking::NamedFile => write_atomically(path, body, metadata, Place::IfAbsent),
        }
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FsBlobStore {
    /// Opens (creating) the object directory. Fails, saying why, on a file
    /// system that cannot keep extended attributes; moves the metadata
    /// files of a data directory written before they were used into them.
    pub fn new(dirs: DataDir) -> std::io::Result<Self> {
        fs::create_dir_all(dirs.objects())?;
        fs::create_dir_all(dirs.object_locks())?;
        check_xattr_support(&dirs.objects())?;
        let links_new_files = links_new_files(&dirs.objects());
        let store = Self {
            dirs,
            links_new_files,
        };
        store.adopt_metadata_files()?;
        Ok(store)
    }

    /// Data directories before 2 December 2026 kept each object's metadata
    /// in `object-meta/KEY.json`: each file becomes its object's attribute
    /// (unless a write since gave it one) and is removed. Idempotent, so an
    /// interrupted run is finished by the next. Then `object-meta` becomes a file
    /// saying why, so that an older `crateyard` refuses this directory
    /// instead of keeping metadata where this one no longer looks.
    fn adopt_metadata_files(&self) -> std::io::Result<()> {
        let legacy = self.dirs.legacy_object_metadata();
        if legacy.is_file() {
            return Ok(());
        }
        // One process at a time; the others then find the marker.
        let lock = self.dirs.object_locks().join("adopt-metadata");
        let _guard = File::create(&lock)
            .and_then(|file| file.lock().map(|()| file))
            .map_err(|e| at(&lock, e))?;
        let mut pending = vec![legacy.clone()];
        while let Some(dir) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                // Never written, or already the marker file.
                Err(e) if e.kind() == ErrorKind::NotFound || dir.is_file() => continue,
                entries => entries.map_err(|e| at(&dir, e))?,
            };
            for entry in entries {
                let entry = entry.map_err(|e| at(&dir, e))?;
                let path = entry.path();
                // Not followed: a link is nothing this store wrote.
                if entry.file_type().map_err(|e| at(&path, e))?.is_dir() {
                    pending.push(path);
                } else {
                    self.adopt_metadata_file(&legacy, &path)
                        .map_err(|e| at(&path, e))?;
                }
            }
        }
        if legacy.is_dir() {
            fs::remove_dir_all(&legacy).map_err(|e| at(&legacy, e))?;
        }
        fs::write(&legacy, LEGACY_METADATA_MARKER).map_err(|e| at(&legacy, e))
    }

    /// Moves one `object-meta/KEY.json` into KEY's attribute.
    fn adopt_metadata_file(&self, legacy: &Path, path: &Path) -> std::io::Result<()> {
        let Some(key) = path
            .strip_prefix(legacy)
            .ok()
            .and_then(|relative| relative.to_str()?.strip_suffix(".json"))
            .and_then(ObjectKey::parse)
        else {
            return Ok(());
        };
        let _guard = self.lock(&key).map_err(std::io::Error::other)?;
        let json = match fs::read(path) {
            // Another process moved it first.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            json => json?,
        };
        let object = self.path_for(&key).map(File::open);
        if let Some(Ok(object)) = object
            && object.get_xattr(METADATA_XATTR)?.is_none()
        {
            object.set_xattr(METADATA_XATTR, &json)?;
        }
        match fs::remove_file(path) {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The file holding `key`. Keys are made of checked names only; the
    /// path is checked once more all the same, since it is a filesystem's
    /// (and hidden names are the writer's temporary files: no upload
    /// staging objects here, this store hands out no upload URLs).
    pub fn path_for(&self, key: &ObjectKey) -> Option<PathBuf> {
        self.safe_path(&key.to_string())
    }

    /// `relative` below the objects directory, if it has only plain,
    /// visible components.
    fn safe_path(&self, relative: &str) -> Option<PathBuf> {
        let relative = Path::new(relative);
        let safe = relative
            .components()
            .all(|c| matches!(c, Component::Normal(s) if !s.to_string_lossy().starts_with('.')));
        safe.then(|| self.dirs.objects().join(relative))
    }

    /// Where `key` goes when archived: the same key under `archive/`.
    fn archive_path(&self, key: &ObjectKey) -> Result<PathBuf, BlobError> {
        let relative = self.checked_path(key)?;
        let relative = relative
            .strip_prefix(self.dirs.objects())
            .map_err(|e| BlobError::Backend(e.to_string()))?;
        Ok(self.dirs.archive().join(relative))
    }

    /// Moves `key`'s bytes to `archive/` and leaves a link in their place
    /// (relative, so the data directory can move), or brings them back.
    /// Readers find the object at every step: the copy is made before the
    /// link replaces the file in one rename, and the file replaces the link
    /// the same way.
    fn move_to(&self, key: &ObjectKey, tier: StorageTier) -> Result<(), BlobError> {
        let path = self.checked_path(key)?;
        let archived = self.archive_path(key)?;
        let _guard = self.lock(key)?;
        let is_link = match fs::symlink_metadata(&path) {
            Ok(stat) => stat.file_type().is_symlink(),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(BlobError::NotFound(key.to_string()));
            }
            Err(e) => return Err(io(e)),
        };
        if is_link == (tier == StorageTier::Archive) {
            return Ok(());
        }
        let (body, meta) = self
            .read(key)?
            .ok_or_else(|| BlobError::NotFound(key.to_string()))?;
        match tier {
            StorageTier::Archive => {
                write_atomically(&archived, &body, &meta.metadata, Place::Replace).map_err(io)?;
                let up = "../".repeat(key.to_string().split('/').count());
                let target = format!("{up}archive/{key}");
                replace_with_link(&path, Path::new(&target)).map_err(io)
            }
            StorageTier::Standard => {
                write_atomically(&path, &body, &meta.metadata, Place::Replace).map_err(io)?;
                remove_if_present(&archived).map_err(io)
            }
        }
    }

    /// Locks `key`'s lock file exclusively until the file is dropped.
    fn lock(&self, key: &ObjectKey) -> Result<File, BlobError> {
        let path = self
            .dirs
            .object_locks()
            .join(lock_stripe(&key.to_string()).to_string());
        // Read-only: `flock` needs no write access, and opening for writing
        // costs more; the file is created once, on first use.
        let file = match File::open(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path),
            opened => opened,
        }
        .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    fn checked_path(&self, key: &ObjectKey) -> Result<PathBuf, BlobError> {
        self.path_for(key)
            .ok_or_else(|| BlobError::Backend(format!("invalid object key `{key}`")))
    }

    /// Reads `key`: its bytes and metadata from the one file, so from the
    /// same write, without a lock.
    fn read(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError> {
        let path = self.checked_path(key)?;
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let stat = file.metadata().map_err(io)?;
        // Objects are replaced by rename, never changed in place: the file
        // holds exactly the size it was opened with (one `read`, not three
        // system calls to find its end).
        let mut bytes = vec![0; stat.len() as usize];
        file.read_exact(&mut bytes).map_err(io)?;
        let metadata = match file.get_xattr(METADATA_XATTR).map_err(io)? {
            Some(json) => {
                serde_json::from_slice(&json).map_err(|e| BlobError::Backend(e.to_string()))?
            }
            None => BTreeMap::new(),
        };
        let meta = ObjectMeta {
            etag: content_etag(&bytes),
            size: bytes.len() as u64,
            last_modified: stat.modified().map_err(io)?,
            metadata,
        };
        Ok(Some((bytes.into(), meta)))
    }

    fn write(
        &self,
        key: &ObjectKey,
        body: &[u8],
        mode: &PutMode,
        options: &PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        let path = self.checked_path(key)?;
        let metadata = &options.metadata;
        let last_modified = if let (PutMode::Create, Some(linking)) = (mode, self.links_new_files) {
            // No lock: every create links its file under the name, which
            // the kernel does for one of them only. (A create that checked
            // and then renamed would replace a file linked in between.)
            let create = || match linking.create(&path, body, metadata) {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    Err(BlobError::AlreadyExists(key.to_string()))
                }
                created => created.map_err(io),
            };
            match create() {
                Err(BlobError::AlreadyExists(_)) if self.remove_dangling_link(key, &path)? => {
                    create()?
                }
                created => created?,
            }
        } else {
            let _guard = self.lock(key)?;
            match mode {
                // Followed: a link to a lost archived copy holds no object.
                PutMode::Create if holds_object(&path).map_err(io)? => {
                    return Err(BlobError::AlreadyExists(key.to_string()));
                }
                PutMode::Update(etag) => match self.read(key)? {
                    Some((_, current)) if &current.etag == etag => {}
                    _ => return Err(BlobError::Precondition(key.to_string())),
                },
                _ => {}
            }
            write_atomically(&path, body, metadata, Place::Replace).map_err(io)?
        };
        Ok(ObjectMeta {
            etag: content_etag(body),
            size: body.len() as u64,
            last_modified,
            metadata: options.metadata.clone(),
        })
    }

    /// Removes the link at `key` into `archive/` if its archived copy is
    /// gone (a read finds no object there), so that a create can take the
    /// name; whether it did. Under the key's lock, as every write of a
    /// link is.
    fn remove_dangling_link(&self, key: &ObjectKey, path: &Path) -> Result<bool, BlobError> {
        // Most names are taken by a file: no lock for those.
        if !is_link(path) {
            return Ok(false);
        }
        let _guard = self.lock(key)?;
        let dangling = is_link(path) && !holds_object(path).map_err(io)?;
        if dangling {
            remove_if_present(path).map_err(io)?;
        }
        Ok(dangling)
    }

    /// Removes `key`, or only while its ETag is `expected` (under the lock,
    /// so the check and the removal are one step for every process).
    fn remove(&self, key: &ObjectKey, expected: Option<&str>) -> Result<(), BlobError> {
        let path = self.checked_path(key)?;
        let _guard = self.lock(key)?;
        if let Some(etag) = expected {
            match self.read(key)? {
                None => return Ok(()),
                Some((_, current)) if current.etag != etag => {
                    return Err(BlobError::Precondition(key.to_string()));
                }
                Some(_) => {}
            }
        }
        let archived = is_link(&path);
        remove_if_present(&path).map_err(io)?;
        if archived {
            remove_if_present(&self.archive_path(key)?).map_err(io)?;
        }
        Ok(())
    }

    fn list_keys(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, BlobError> {
        let prefix = prefix.to_string();
        // Only the directory the prefix's whole segments name can hold keys.
        let start = match prefix.rsplit_once('/') {
            Some((dir, _)) if self.safe_path(dir).is_some() => dir,
            _ => "",
        };
        let mut keys = files_below(&self.dirs.objects(), start).map_err(io)?;
        keys.retain(|key| key.starts_with(&prefix));
        keys.sort_unstable();
        // Anything else in the directory is not the registry's.
        Ok(keys
            .iter()
            .filter_map(|key| ObjectKey::parse(key))
            .collect())
    }
}

/// The deepest a key's file lies below the objects directory, with room to
/// spare: a listing goes no deeper.
const MAX_KEY_DEPTH: usize = 16;

/// The files (and links) below `root/start`, named relative to `root` with
/// `/` between segments; hidden names (temporary files) skipped, links
/// not followed. Each directory is opened relative to its parent and read
/// by `getdents64` straight into one buffer: a listing of 20,000
/// directories (a reindex's version pages) is 4 system calls each, not the
/// 5 of `fs::read_dir` with its path walk from the root.
#[cfg(target_os = "linux")]
fn files_below(root: &Path, start: &str) -> std::io::Result<Vec<String>> {
    use rustix::fs::{FileType, RawDir, openat, statat};
    use std::mem::MaybeUninit;
    use std::os::fd::{AsFd, OwnedFd};

    /// `name` below `at`, if it is a directory there; `follow`: even
    /// through a link.
    fn open_dir(
        at: impl AsFd,
        name: impl rustix::path::Arg,
        follow: bool,
    ) -> rustix::io::Result<Option<OwnedFd>> {
        let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        match openat(at, name, flags, Mode::empty()) {
            // Removed meanwhile, or never made.
            Err(Errno::NOENT) => Ok(None),
            opened => opened.map(Some),
        }
    }

    /// Adds what lies below `dir` (named `path`) to `files`.
    fn walk(
        dir: &OwnedFd,
        path: &str,
        depth: usize,
        buf: &mut Vec<MaybeUninit<u8>>,
        files: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let mut subdirs = Vec::new();
        let mut entries = RawDir::new(dir, buf.as_mut_slice());
        while let Some(entry) = entries.next() {
            let entry = entry?;
            let name = entry.file_name();
            // Keys are ASCII; hidden names (and `.`, `..`) are not keys.
            let Ok(text) = name.to_str() else { continue };
            if text.starts_with('.') {
                continue;
            }
            let child = match path {
                "" => text.to_owned(),
                _ => format!("{path}/{text}"),
            };
            let kind = match entry.file_type() {
                // A file system that does not say (`DT_UNKNOWN`).
                FileType::Unknown => {
                    FileType::from_raw_mode(statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mode)
                }
                kind => kind,
            };
            match kind {
                FileType::Directory => subdirs.push((name.to_owned(), child)),
                _ => files.push(child),
            }
        }
        if depth == MAX_KEY_DEPTH {
            return Ok(());
        }
        for (name, child) in subdirs {
            if let Some(subdir) = open_dir(dir, name.as_c_str(), false)? {
                walk(&subdir, &child, depth + 1, buf, files)?;
            }
        }
        Ok(())
    }

    let mut files = Vec::new();
    // As `fs::read_dir` would: the data directory may be a link.
    if let Some(dir) = open_dir(CWD, root.join(start).as_path(), true)? {
        let mut buf = vec![MaybeUninit::uninit(); 32 << 10];
        walk(&dir, start, 0, &mut buf, &mut files)?;
    }
    Ok(files)
}

/// [`files_below`] through `fs::read_dir`.
#[cfg(not(target_os = "linux"))]
fn files_below(root: &Path, start: &str) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![(root.join(start), start.to_owned(), 0)];
    while let Some((dir, path, depth)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            entries => entries?,
        };
        for entry in entries {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let child = match path.as_str() {
                "" => name,
                _ => format!("{path}/{name}"),
            };
            if !entry.file_type()?.is_dir() {
                files.push(child);
            } else if depth < MAX_KEY_DEPTH {
                pending.push((entry.path(), child, depth + 1));
            }
        }
    }
    Ok(files)
}

/// How many lock files the keys share.
const LOCK_STRIPES: u64 = 64;

/// Which lock file guards `key`: FNV-1a of the key, a function every
/// process (and every version of this code) must compute alike.
fn lock_stripe(key: &str) -> u64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % LOCK_STRIPES
}

/// A strong ETag from the content, so equal ETags mean equal bytes.
fn content_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..32])
}

/// The writer's pid in a temporary file's name (`.NAME.PID-N.tmp`).
fn temp_file_writer(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (_, pid_and_n) = rest.rsplit_once('.')?;
    pid_and_n.split_once('-')?.0.parse().ok()
}

/// Removes the temporary files under `objects` whose writer process is
/// gone (killed between writing and renaming): no process can rename them
/// any more. Files of live processes are kept. Returns how many it removed.
/// Linux only (it asks `/proc`); elsewhere it removes nothing.
pub fn remove_abandoned_temp_files(objects: &Path) -> usize {
    if !Path::new("/proc/self").exists() {
        return 0;
    }
    let mut removed = 0;
    let mut pending = vec![objects.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
            } else if let Some(pid) = temp_file_writer(&entry.file_name().to_string_lossy())
                && !Path::new(&format!("/proc/{pid}")).exists()
                && fs::remove_file(&path).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// The extended attribute holding an object's user metadata (S3's
/// `x-amz-meta-*`) as a JSON object; absent when it has none.
pub const METADATA_XATTR: &str = "user.crateyard.metadata";

/// Writes a new file's content and metadata; returns its modification time.
fn fill(
    file: &mut File,
    body: &[u8],
    metadata: &BTreeMap<String, String>,
) -> std::io::Result<SystemTime> {
    file.write_all(body)?;
    if !metadata.is_empty() {
        let json = serde_json::to_vec(metadata).map_err(std::io::Error::other)?;
        file.set_xattr(METADATA_XATTR, &json)?;
    }
    file.metadata()?.modified()
}

/// How [`write_atomically`] puts its file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// By rename, replacing what is there.
    Replace,
    /// By link, failing with `AlreadyExists` if the name is taken.
    IfAbsent,
}

/// Writes `body` and `metadata` to a temporary file beside `path` and
/// puts it in place; returns the file's modification time.
fn write_atomically(
    path: &Path,
    body: &[u8],
    metadata: &BTreeMap<String, String>,
    place: Place,
) -> std::io::Result<SystemTime> {
    let dir = path.parent().expect("object paths have a parent");
    let file_name = path
        .file_name()
        .expect("object paths have a file name")
        .to_string_lossy();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{file_name}.{}-{n}.tmp", process_id()));
    // A new file, never a leftover of a killed process that had the same
    // pid (a container's server is always pid 1): truncating one would
    // keep its extended attributes. The directory usually exists: create
    // it only when told it does not.
    let create = || File::options().write(true).create_new(true).open(&temp);
    let file = match create() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            fs::create_dir_all(dir).and_then(|()| create())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            fs::remove_file(&temp).and_then(|()| create())
        }
        created => created,
    };
    let result = file.and_then(|mut file| {
        let modified = fill(&mut file, body, metadata)?;
        match place {
            Place::Replace => fs::rename(&temp, path)?,
            Place::IfAbsent => match fs::hard_link(&temp, path) {
                // NFS may answer a retransmitted link that succeeded so.
                Err(e) if e.kind() == ErrorKind::AlreadyExists && same_file(&temp, path) => {}
                linked => linked?,
            },
        }
        Ok(modified)
    });
    if result.is_err() || place == Place::IfAbsent {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Whether `path` holds an object: a file, or a link to an archived copy
/// that exists. Only a missing target is no object; any other failure
/// (an archive share unmounted, no permission) is an error, so that no
/// write takes the name of an object it cannot see.
fn holds_object(path: &Path) -> std::io::Result<bool> {
    match fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether `path` is a symbolic link (an archived object's, see `move_to`).
fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|s| s.file_type().is_symlink())
}

/// Whether `a` and `b` name one file (`b` not followed).
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::symlink_metadata(a), fs::symlink_metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// [`Linking::create`] of an unnamed file: written in `path`'s directory,
/// then linked under its name.
#[cfg(target_os = "linux")]
fn link_new_file(
    path: &Path,
    body: &[u8],
    metadata: &BTreeMap<String, String>,
    how: UnnamedLink,
) -> std::io::Result<SystemTime> {
    use std::os::fd::AsRawFd;
    let dir = path.parent().expect("object paths have a parent");
    let unnamed = || {
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        // What a named file gets under the usual umask (022), not 0666:
        // kernels before 6.0 did not apply the umask to an unnamed file
        // on a file system without POSIX ACLs.
        rustix::fs::open(dir, flags, Mode::from_raw_mode(0o644)).map(File::from)
    };
    let mut file = match unnamed() {
        Err(Errno::NOENT) => fs::create_dir_all(dir).and_then(|()| Ok(unnamed()?))?,
        opened => opened?,
    };
    let modified = fill(&mut file, body, metadata)?;
    match how {
        UnnamedLink::ByDescriptor => rustix::fs::linkat(&file, "", CWD, path, AtFlags::EMPTY_PATH)?,
        UnnamedLink::ByProcPath => {
            let unnamed = format!("/proc/self/fd/{}", file.as_raw_fd());
            rustix::fs::linkat(CWD, unnamed.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW)?;
        }
    }
    Ok(modified)
}

/// Unnamed files are Linux's.
#[cfg(not(target_os = "linux"))]
fn link_new_file(
    _: &Path,
    _: &[u8],
    _: &BTreeMap<String, String>,
    _: UnnamedLink,
) -> std::io::Result<SystemTime> {
    Err(ErrorKind::Unsupported.into())
}

/// The cheapest way of [`Linking`] that works in `dir`; `None` on a file
/// system without hard links (some FUSE ones), where creates lock, check
/// and rename.
fn links_new_files(dir: &Path) -> Option<Linking> {
    // Named as a temporary file, for `remove_abandoned_temp_files`.
    let probe = dir.join(format!(".link-probe.{}-0.tmp", process_id()));
    [
        Linking::Unnamed(UnnamedLink::ByDescriptor),
        Linking::Unnamed(UnnamedLink::ByProcPath),
        Linking::NamedFile,
    ]
    .into_iter()
    .find(|&linking| {
        let _ = fs::remove_file(&probe);
        let metadata = [("k".into(), "v".into())].into();
        let linked = linking
            .create(&probe, b"probe", &metadata)
            .and_then(|_| fs::File::open(&probe))
            .and_then(|file| file.get_xattr(METADATA_XATTR))
            .is_ok_and(|json| json.as_deref() == Some(br#"{"k":"v"}"#.as_slice()));
        let _ = fs::remove_file(&probe);
        linked
    })
}

/// Replaces `path` with a symbolic link to `target`, in one rename.
fn replace_with_link(path: &Path, target: &Path) -> std::io::Result<()> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{file_name}.{}-{n}.tmp", process_id()));
    std::os::unix::fs::symlink(target, &temp)?;
    fs::rename(&temp, path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// This process's id, asked of the kernel once (each ask is a system call).
fn process_id() -> u32 {
    static ID: OnceLock<u32> = OnceLock::new();
    *ID.get_or_init(std::process::id)
}

/// Fails, saying what to do, when the file system holding `dir` cannot
/// keep user extended attributes (NFSv3, tmpfs before Linux 6.6), or keeps
/// them only in name (an attribute written must read back).
fn check_xattr_support(dir: &Path) -> std::io::Result<()> {
    const PROBE: &[u8] = b"{}";
    let probe = dir.join(format!(".xattr-probe.{}.tmp", process_id()));
    let file = File::create(&probe).map_err(|e| at(&probe, e))?;
    let kept = file
        .set_xattr(METADATA_XATTR, PROBE)
        .and_then(|()| file.get_xattr(METADATA_XATTR));
    let _ = fs::remove_file(&probe);
    let unsupported = |why: String| {
        std::io::Error::other(format!(
            "the data directory's file system cannot store extended attributes \
             ({why}), where Crateyard keeps object metadata: put the data directory \
             on ext4, XFS, Btrfs, ZFS, APFS, or tmpfs on Linux 6.6 or later"
        ))
    };
    match kept {
        Ok(Some(value)) if value == PROBE => Ok(()),
        Ok(_) => Err(unsupported("an attribute written did not read back".into())),
        // The file was created: what failed is the attribute.
        Err(e) => Err(unsupported(e.to_string())),
    }
}

/// The marker left where `object-meta/` was (see `adopt_metadata_files`).
const LEGACY_METADATA_MARKER: &str = "Object metadata now lives in each object's extended \
    attribute user.crateyard.metadata (since 2 December 2026); a crateyard older than \
    that cannot use this data directory.\n";

/// `e`, saying which path it is about.
fn at(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn io(e: std::io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

impl FsBlobStore {
    /// `op` on each item, in order, in one blocking task: a batch of
    /// thousands costs one hand-off to the blocking pool, not thousands.
    async fn blocking_each<I, T>(
        &self,
        items: Vec<I>,
        op: impl Fn(&Self, &I) -> Result<T, BlobError> + Send + 'static,
    ) -> Vec<Result<T, BlobError>>
    where
        I: Send + 'static,
        T: Send + 'static,
    {
        let (this, count) = (self.clone(), items.len());
        let done =
            tokio::task::spawn_blocking(move || items.iter().map(|item| op(&this, item)).collect())
                .await;
        done.unwrap_or_else(|e| {
            (0..count)
                .map(|_| Err(BlobError::Backend(e.to_string())))
                .collect()
        })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Backend(e.to_string()))?
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        mode: PutMode,
        options: PutOptions,
    ) -> Result<ObjectMeta, BlobError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.write(&key, &body, &mode, &options)).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<(Bytes, ObjectMeta)>, BlobError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.read(&key)).await
    }

    async fn get_many(
        &self,
        keys: &[ObjectKey],
    ) -> Vec<Result<Option<(Bytes, ObjectMeta)>, BlobError>> {
        self.blocking_each(keys.to_vec(), |store, key| store.read(key))
            .await
    }

    async fn put_many(&self, puts: Vec<Put>) -> Vec<Result<ObjectMeta, BlobError>> {
        self.blocking_each(puts, |store, put| {
            store.write(&put.key, &put.body, &put.mode, &put.options)
        })
        .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, BlobError> {
        Ok(self.get(key).await?.map(|(_, meta)| meta))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.remove(&key, None)).await
    }

    async fn delete_if(&self, key: &ObjectKey, etag: &str) -> Result<(), BlobError> {
        let (this, key, etag) = (self.clone(), key.clone(), etag.to_string());
        blocking(move || this.remove(&key, Some(&etag))).await
    }

    async fn list(&self, prefix: &KeyPrefix) -> Result<Vec<ObjectKey>, BlobError> {
        let (this, prefix) = (self.clone(), prefix.clone());
        blocking(move || this.list_keys(&prefix)).await
    }

    async fn set_storage(
        &self,
        key: &ObjectKey,
        tier: StorageTier,
        _private: bool,
    ) -> Result<(), BlobError> {
        let (this, key) = (self.clone(), key.clone());
        blocking(move || this.move_to(&key, tier)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Archived, an object reads the same at its key (the key is a link
    /// into `archive/`), lists, restores, and deleting it leaves no copy.
    #[tokio::test]
    async fn archived_objects_read_list_restore_and_delete_as_before() {
        let root = tempfile::tempdir().unwrap();
        let dirs = DataDir::new(root.path());
        let store = FsBlobStore::new(dirs.clone()).unwrap();
        let key = ObjectKey::crate_file("main", "serde", "1.0.0").unwrap();
        let options = PutOptions {
            metadata: [("k".to_string(), "v".to_string())].into(),
            private: false,
        };
        let body = Bytes::from_static(b"crate bytes");
        store
            .put(&key, body.clone(), PutMode::Create, options)
            .await
            .unwrap();
        let archived = dirs.archive().join(key.to_string());
        let object = dirs.objects().join(key.to_string());
        let is_link = || fs::symlink_metadata(&object).unwrap().is_symlink();
        for _ in 0..2 {
            store
                .set_storage(&key, StorageTier::Archive, false)
                .await
                .unwrap();
            assert!(is_link() && archived.is_file());
        }
        let (read, meta) = store.get(&key).await.unwrap().unwrap();
        assert_eq!((read, meta.metadata["k"].as_str()), (body.clone(), "v"));
        // Served as a file: the static read path opens the key's path.
        assert_eq!(fs::read(&object).unwrap(), body);
        let repo = crateyard_core::RepoName::new("main").unwrap();
        let listed = store.list(&KeyPrefix::Repository(repo)).await;
        assert_eq!(listed.unwrap(), std::slice::from_ref(&key));
        assert!(matches!(
            store
                .put(&key, body.clone(), PutMode::Create, PutOptions::default())
                .await,
            Err(BlobError::AlreadyExists(_))
        ));

        store
            .set_storage(&key, StorageTier::Standard, false)
            .await
            .unwrap();
        assert!(!is_link() && !archived.exists());
        assert_eq!(store.get(&key).await.unwrap().unwrap().1.metadata["k"], "v");

        store
            .set_storage(&key, StorageTier::Archive, false)
            .await
            .unwrap();
        store.purge(&key).await.unwrap();
        assert!(!archived.exists() && fs::symlink_metadata(&object).is_err());
        let missing = store.set_storage(&key, StorageTier::Archive, false).await;
        assert!(matches!(missing, Err(BlobError::NotFound(_))));
    }

    /// Creates racing for one name: one wins whole, with its own
    /// metadata; every other is told the name is taken; nothing else is
    /// left in the directory. Every way of creating: linking an unnamed
    /// file (as the probe found this process may, and through `/proc`),
    /// linking a named temporary file, all of them at once (processes that
    /// probed differently), and locking where nothing can be linked.
    /// (Across processes: `concurrency.rs`.)
    #[test]
    fn racing_creates_leave_exactly_one_whole_file() {
        let probed = links_new_files(&std::env::temp_dir());
        assert!(probed.is_some(), "this machine's file systems allow it");
        for ways in [
            &[Some(EVERY_LINKING[1])][..],
            &[Some(EVERY_LINKING[2])],
            &EVERY_LINKING.map(Some),
            &[None],
        ] {
            racing_creates(ways);
        }
    }

    const EVERY_LINKING: [Linking; 3] = [
        Linking::Unnamed(UnnamedLink::ByDescriptor),
        Linking::Unnamed(UnnamedLink::ByProcPath),
        Linking::NamedFile,
    ];

    /// A link into `archive/` whose archived copy was lost holds no
    /// object: a create takes its name, every way of creating.
    #[test]
    fn a_create_replaces_a_link_to_a_lost_archived_copy() {
        for way in EVERY_LINKING.map(Some).into_iter().chain([None]) {
            let root = tempfile::tempdir().unwrap();
            let dirs = DataDir::new(root.path());
            let store = FsBlobStore {
                links_new_files: way,
                ..FsBlobStore::new(dirs.clone()).unwrap()
            };
            let key = ObjectKey::crate_file("main", "serde", "1.0.0").unwrap();
            let (create, options) = (&PutMode::Create, &PutOptions::default());
            store.write(&key, b"first", create, options).unwrap();
            store.move_to(&key, StorageTier::Archive).unwrap();
            fs::remove_file(dirs.archive().join(key.to_string())).unwrap();
            assert!(store.read(&key).unwrap().is_none(), "{way:?}");

            store.write(&key, b"second", create, options).unwrap();
            let (read, _) = store.read(&key).unwrap().unwrap();
            assert_eq!(&read[..], b"second", "{way:?}");
            let taken = store.write(&key, b"third", create, options);
            assert!(matches!(taken, Err(BlobError::AlreadyExists(_))), "{way:?}");
        }
    }

    /// Writer `i` creates the way `ways[i % ways.len()]` says: 16 writers,
    /// all released at once for each of 20 keys.
    fn racing_creates(ways: &[Option<Linking>]) {
        const WRITERS: usize = 16;
        const KEYS: usize = 20;
        let root = tempfile::tempdir().unwrap();
        let dirs = DataDir::new(root.path());
        let store = FsBlobStore::new(dirs.clone()).unwrap();
        let key = |k: usize| ObjectKey::crate_file("main", "serde", &format!("1.0.{k}")).unwrap();
        let body = |i: usize, k: usize| format!("writer {i} key {k} ").repeat(5_000);
        let start = std::sync::Barrier::new(WRITERS);
        let outcomes: Vec<Vec<_>> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..WRITERS)
                .map(|i| {
                    let store = FsBlobStore {
                        links_new_files: ways[i % ways.len()],
                        ..store.clone()
                    };
                    let (start, key, body) = (&start, &key, &body);
                    s.spawn(move || {
                        let options = PutOptions {
                            metadata: [("writer".to_string(), i.to_string())].into(),
                            private: false,
                        };
                        (0..KEYS)
                            .map(|k| {
                                start.wait();
                                let create = &PutMode::Create;
                                store.write(&key(k), body(i, k).as_bytes(), create, &options)
                            })
                            .collect()
                    })
                })
                .collect();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        for k in 0..KEYS {
            let of_key: Vec<_> = outcomes.iter().map(|of_writer| &of_writer[k]).collect();
            let winners: Vec<_> = (0..WRITERS).filter(|&i| of_key[i].is_ok()).collect();
            assert_eq!(winners.len(), 1, "key {k}: {of_key:?}");
            let winner = winners[0];
            for written in of_key.iter().filter(|written| written.is_err()) {
                assert!(
                    matches!(written, Err(BlobError::AlreadyExists(_))),
                    "{written:?}"
                );
            }
            let (read, meta) = store.read(&key(k)).unwrap().unwrap();
            assert_eq!(read, body(winner, k).as_bytes(), "key {k}");
            assert_eq!(meta.metadata["writer"], winner.to_string());
        }
        let object = dirs.objects().join(key(0).to_string());
        let left: Vec<_> = fs::read_dir(object.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), KEYS, "temporary files left: {left:?}");
    }

    #[test]
    fn lock_stripes_never_change() {
        // Processes of different versions must lock a key alike.
        let stripes: Vec<u64> = ["main/index/3/f/foo", "main/ui/crates/foo.json", "a"]
            .into_iter()
            .map(lock_stripe)
            .collect();
        assert_eq!(stripes, [31, 5, 12]);
    }

    /// `key` as a data directory before 2 December 2026 held it: the
    /// object, and its revision in `object-meta/KEY.json`.
    fn write_as_before_attributes(dirs: &DataDir, key: &ObjectKey, body: &[u8], revision: u64) {
        let object = dirs.objects().join(key.to_string());
        let legacy = dirs.legacy_object_metadata().join(format!("{key}.json"));
        let metadata = format!(r#"{{"crate-revision":"{revision}"}}"#);
        for (path, body) in [(&object, body), (&legacy, metadata.as_bytes())] {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
    }

    #[test]
    fn metadata_files_of_an_older_data_directory_become_attributes() {
        let root = tempfile::tempdir().unwrap();
        let dirs = DataDir::new(root.path());
        let key = ObjectKey::parse("main/index/3/f/foo").unwrap();
        write_as_before_attributes(&dirs, &key, b"{}\n", 7);
        let store = FsBlobStore::new(dirs.clone()).unwrap();
        let (bytes, meta) = store.read(&key).unwrap().unwrap();
        assert_eq!((&bytes[..], meta.revision()), (&b"{}\n"[..], 7));
        // An older crateyard finds a file where it wants a directory.
        let marker = fs::read_to_string(dirs.legacy_object_metadata()).unwrap();
        assert!(marker.contains("extended attribute"), "{marker}");
        // Opening again finds nothing left to move.
        FsBlobStore::new(dirs).unwrap();
    }

    #[test]
    fn processes_opening_an_older_data_directory_at_once_all_start() {
        let root = tempfile::tempdir().unwrap();
        let dirs = DataDir::new(root.path());
        let keys: Vec<ObjectKey> = (0..300)
            .map(|i| ObjectKey::parse(&format!("main/ui/crates/c{i}.json")).unwrap())
            .collect();
        for key in &keys {
            write_as_before_attributes(&dirs, key, b"{}", 3);
        }
        // Each thread opens its own lock files, as another process would.
        let opened: Vec<_> = std::thread::scope(|scope| {
            let openers: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| FsBlobStore::new(dirs.clone()).map(|_| ())))
                .collect();
            openers.into_iter().map(|o| o.join().unwrap()).collect()
        });
        assert!(opened.iter().all(Result::is_ok), "{opened:?}");
        let store = FsBlobStore::new(dirs).unwrap();
        for key in &keys {
            assert_eq!(store.read(key).unwrap().unwrap().1.revision(), 3, "{key}");
        }
    }

    #[test]
    fn abandoned_temp_files_are_removed_and_live_ones_kept() {
        assert_eq!(temp_file_writer(".foo-1.0.0.crate.123-4.tmp"), Some(123));
        assert_eq!(temp_file_writer("foo-1.0.0.crate"), None);
        assert_eq!(temp_file_writer(".hidden"), None);
        let objects = tempfile::tempdir().unwrap();
        let dir = objects.path().join("main/crates/foo");
        fs::create_dir_all(&dir).unwrap();
        let dead = dir.join(format!(".foo-1.0.0.crate.{}-0.tmp", u32::MAX));
        let live = dir.join(format!(".foo-1.0.0.crate.{}-1.tmp", std::process::id()));
        let object = dir.join("foo-1.0.0.crate");
        for file in [&dead, &live, &object] {
            fs::write(file, b"x").unwrap();
        }
        assert_eq!(remove_abandoned_temp_files(objects.path()), 1);
        assert!(!dead.exists() && live.exists() && object.exists());
    }
}
