//! Object keys: the one place that knows the layout of the bucket (or the
//! local data directory) and what each kind of object is served with.
//!
//! ```text
//! {repo}/index/config.json
//! {repo}/index/{1|2|3/c|ab/cd}/{name}          name lowercase
//! {repo}/crates/{name}/{name}-{version}.crate  name as published
//! {repo}/ui/crates/{canonical}.json            a crate's page: its versions, in short
//! {repo}/ui/versions/{canonical}/{version}.json one version's details
//! {repo}/ui/readmes/{canonical}/{version}.html a version's README
//! {repo}/ui/recent.json                        the latest publishes
//! {repo}/git/HEAD, {repo}/git/info/refs         the git index's refs
//! {repo}/git/objects/{xx}/{38 hex}              its loose objects
//! {repo}/git/objects/pack/pack-{40 hex}.{pack,idx} its packs
//! {repo}/git-trees/{40 hex}                    the git index's trees, kept for its writer
//! {repo}/search/{00..0f}.json                  search entries, where the store has no text index
//! ui/repositories.json, ui/index.html, ui/assets/app.{js,css}
//! .uploads/{id}.crate                          a large upload, staged
//! .tasks/{id}.json                             a reindex job's task (AWS)
//! ```
//!
//! A key is made from validated parts or parsed from a store key or a
//! request path by [`ObjectKey::parse`]; nothing else names an object, so
//! nothing derived from a request reaches a store in any other form.

use crate::blob_store::PutOptions;
use crate::{CrateName, CrateVersion, RegistryError, RepoName};
use crateyard_index::index_file_path;
use std::fmt;

/// An object the registry stores. Construct one with the functions below
/// (they normalise names as the layout spells them) or [`ObjectKey::parse`];
/// its [`Display`](fmt::Display) is the storage key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// `{repo}/index/config.json`: cargo's registry configuration.
    IndexConfig { repo: RepoName },
    /// A crate's sparse index file; `name` lowercase, as cargo asks for it.
    IndexFile { repo: RepoName, name: CrateName },
    /// A `.crate`, under the name and version as published.
    CrateFile {
        repo: RepoName,
        name: CrateName,
        version: CrateVersion,
    },
    /// A crate's page data for the web UI (see [`crate::pages`]); `name`
    /// canonical.
    CratePage { repo: RepoName, name: CrateName },
    /// One version's details for the web UI (see [`crate::pages`]); `name`
    /// canonical. Written once, when the version is committed.
    VersionPage {
        repo: RepoName,
        name: CrateName,
        version: CrateVersion,
    },
    /// A version's README, rendered for the web UI; `name` canonical. Kept
    /// beside (not in) the metadata store: it can be larger than a DynamoDB
    /// item may be.
    Readme {
        repo: RepoName,
        name: CrateName,
        version: CrateVersion,
    },
    /// A repository's latest publishes, for the web UI's home page.
    RecentPublishes { repo: RepoName },
    /// The public repositories, for the web UI's home page. `ui` is a
    /// reserved repository name, so this is outside every repository.
    Repositories,
    /// One of the web UI's own files.
    Ui(UiFile),
    /// A large upload's staging object, written through a presigned URL
    /// and removed once ingested. Outside every repository (repository
    /// names have no `.`), so that one S3 notification prefix and one
    /// lifecycle rule cover them, and no public-read pattern (`*/index/*`,
    /// `*/crates/*`) can match them. The upload's record says which
    /// repository it is for.
    Upload { id: UploadId },
    /// A reindex job's task, waiting for the function its S3 notification
    /// invokes (see [`crate::reindex_jobs`]); removed once done. Outside
    /// every repository, like uploads, for one notification prefix.
    Task { id: TaskId },
    /// A file of the repository's index as a git repository, read by git's
    /// dumb HTTP protocol (`{repo}/git/…`).
    Git { repo: RepoName, file: GitFile },
    /// A copy of a tree or commit of a repository's git index (a loose
    /// object's bytes), read by the writer that builds the next tree on
    /// it: a tree packed for clones has no loose object (git would fetch
    /// that first, and the pack would save nothing). Never served: no route,
    /// static path or CloudFront bucket policy names `{repo}/git-trees/`
    /// (private as its repository is: the same bytes as a loose tree).
    GitTreeCopy { repo: RepoName, id: GitObjectId },
    /// One shard of a repository's search entries (see
    /// [`crate::search_index`]), kept where the metadata store cannot
    /// search text (DynamoDB). Read by the API only, never served: no
    /// route, static path or CloudFront bucket policy names
    /// `{repo}/search/`, and it is written private.
    SearchShard {
        repo: RepoName,
        shard: SearchShardId,
    },
}

/// Which of a repository's search shards: below
/// [`SearchShardId::COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SearchShardId(u8);

impl SearchShardId {
    /// Shards per repository: enough that a shard of a 100,000-crate
    /// repository stays near 1 MB, few enough that one search checks them
    /// all at once.
    pub const COUNT: u8 = 16;

    pub fn new(shard: u8) -> Option<Self> {
        (shard < Self::COUNT).then_some(Self(shard))
    }

    pub fn all() -> impl Iterator<Item = Self> {
        (0..Self::COUNT).map(Self)
    }

    /// The shard a crate's entry lives in, by its canonical name: a stable
    /// hash (SHA-256), the same in every process and release.
    pub fn of(canonical: &str) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(canonical.as_bytes())[0] % Self::COUNT)
    }
}

/// The files of a git repository that git's dumb HTTP protocol reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GitFile {
    /// `HEAD`: a symbolic ref to the one branch.
    Head,
    /// `info/refs`: the branch and the commit it points to; the one file a
    /// new commit replaces (by compare-and-swap).
    InfoRefs,
    /// `objects/info/packs`: the packs git may fall back to.
    InfoPacks,
    /// `objects/{xx}/{38 hex}`: a zlib-compressed loose object.
    Object(GitObjectId),
    /// `objects/pack/pack-{id}.pack`: many objects, named by its checksum.
    Pack(GitObjectId),
    /// `objects/pack/pack-{id}.idx`: the index git reads before a pack.
    PackIndex(GitObjectId),
}

impl GitFile {
    fn parse(path: &str) -> Option<Self> {
        match path {
            "HEAD" => Some(Self::Head),
            "info/refs" => Some(Self::InfoRefs),
            "objects/info/packs" => Some(Self::InfoPacks),
            _ if path.starts_with("objects/pack/") => {
                let file = path.strip_prefix("objects/pack/pack-")?;
                let (id, kind) = file.split_once('.')?;
                let id = GitObjectId::new(id)?;
                match kind {
                    "pack" => Some(Self::Pack(id)),
                    "idx" => Some(Self::PackIndex(id)),
                    _ => None,
                }
            }
            _ => {
                let (dir, file) = path.strip_prefix("objects/")?.split_once('/')?;
                (dir.len() == 2)
                    .then(|| GitObjectId::new(&format!("{dir}{file}")))
                    .flatten()
                    .map(Self::Object)
            }
        }
    }
}

impl fmt::Display for GitFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Head => f.write_str("HEAD"),
            Self::InfoRefs => f.write_str("info/refs"),
            Self::InfoPacks => f.write_str("objects/info/packs"),
            Self::Object(id) => {
                let (dir, file) = id.0.split_at(2);
                write!(f, "objects/{dir}/{file}")
            }
            Self::Pack(id) => write!(f, "objects/pack/pack-{}.pack", id.0),
            Self::PackIndex(id) => write!(f, "objects/pack/pack-{}.idx", id.0),
        }
    }
}

/// A git object's id: 40 lowercase hex digits (SHA-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GitObjectId(String);

impl GitObjectId {
    /// `None` unless `hex` is 40 lowercase hex digits.
    pub fn new(hex: &str) -> Option<Self> {
        let valid = hex.len() == 40
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self(hex.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The web UI's shell and assets (`crateyard setup` writes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UiFile {
    Shell,
    Script,
    Stylesheet,
}

impl UiFile {
    /// In the order a deploy writes them: the shell last, since it names
    /// the assets' version, and a browser that follows a new shell must
    /// find (and the edge cache) the new assets, not the old ones.
    pub const ALL: [UiFile; 3] = [Self::Script, Self::Stylesheet, Self::Shell];

    fn path(self) -> &'static str {
        match self {
            Self::Shell => "index.html",
            Self::Script => "assets/app.js",
            Self::Stylesheet => "assets/app.css",
        }
    }
}

/// An upload's id: the hex digits the registry made it from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadId(String);

impl UploadId {
    /// `None` unless `id` is 1 to 64 lowercase hex digits.
    pub fn new(id: &str) -> Option<Self> {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task's id: made by the registry from its job's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskId(String);

impl TaskId {
    /// `None` unless `id` is 1 to 64 lowercase ASCII letters, digits or `-`.
    pub fn new(id: &str) -> Option<Self> {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The part of a repository a request path names, after `{repo}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `index/…`
    Index,
    /// `crates/…`
    Crates,
    /// `ui/…`
    Ui,
    /// `git/…`
    Git,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Crates => "crates",
            Self::Ui => "ui",
            Self::Git => "git",
        }
    }
}

const UPLOADS_DIR: &str = ".uploads";
const TASKS_DIR: &str = ".tasks";
const GIT_TREES_DIR: &str = "git-trees";
const SEARCH_DIR: &str = "search";
const UI_DIR: &str = "ui";

/// Where the objects of one kind, or one repository, are: what a listing,
/// an S3 notification filter or a CDN invalidation names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPrefix {
    /// `{repo}/`: every object of a repository.
    Repository(RepoName),
    /// `{repo}/index/`
    Index(RepoName),
    /// `{repo}/ui/`: the web UI's data of a repository.
    Ui(RepoName),
    /// `{repo}/git/`: the repository's git index.
    Git(RepoName),
    /// `ui/`: the web UI itself (its shell, assets and repository list),
    /// also where its URL is, below the public URL.
    WebUi,
    /// `{repo}/ui/crates/`: crate pages.
    CratePages(RepoName),
    /// `{repo}/ui/versions/`: version pages.
    VersionPages(RepoName),
    /// `{repo}/ui/versions/{canonical}/`: one crate's version pages.
    CrateVersionPages { repo: RepoName, name: CrateName },
    /// `{repo}/ui/readmes/`
    Readmes(RepoName),
    /// `{repo}/ui/readmes/{canonical}/`: one crate's READMEs.
    CrateReadmes { repo: RepoName, name: CrateName },
    /// `{repo}/search/`: a repository's search shards.
    SearchShards(RepoName),
    /// `.uploads/`
    Uploads,
    /// `.tasks/`
    Tasks,
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Repository(repo) => write!(f, "{repo}/"),
            Self::Index(repo) => write!(f, "{repo}/index/"),
            Self::Ui(repo) => write!(f, "{repo}/{UI_DIR}/"),
            Self::Git(repo) => write!(f, "{repo}/git/"),
            Self::WebUi => write!(f, "{UI_DIR}/"),
            Self::CratePages(repo) => write!(f, "{repo}/{UI_DIR}/crates/"),
            Self::VersionPages(repo) => write!(f, "{repo}/{UI_DIR}/versions/"),
            Self::CrateVersionPages { repo, name } => {
                write!(f, "{repo}/{UI_DIR}/versions/{}/", name.canonical())
            }
            Self::Readmes(repo) => write!(f, "{repo}/{UI_DIR}/readmes/"),
            Self::CrateReadmes { repo, name } => {
                write!(f, "{repo}/{UI_DIR}/readmes/{}/", name.canonical())
            }
            Self::SearchShards(repo) => write!(f, "{repo}/{SEARCH_DIR}/"),
            Self::Uploads => write!(f, "{UPLOADS_DIR}/"),
            Self::Tasks => write!(f, "{TASKS_DIR}/"),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexConfig { repo } => write!(f, "{repo}/index/config.json"),
            Self::IndexFile { repo, name } => {
                write!(f, "{repo}/index/{}", index_file_path(name.as_str()))
            }
            Self::CrateFile {
                repo,
                name,
                version,
            } => write!(f, "{repo}/crates/{name}/{}", crate_file_name(name, version)),
            Self::CratePage { repo, name } => {
                write!(f, "{repo}/{UI_DIR}/crates/{}.json", name.canonical())
            }
            Self::VersionPage {
                repo,
                name,
                version,
            } => write!(
                f,
                "{repo}/{UI_DIR}/versions/{}/{version}.json",
                name.canonical()
            ),
            Self::Readme {
                repo,
                name,
                version,
            } => write!(
                f,
                "{repo}/{UI_DIR}/readmes/{}/{version}.html",
                name.canonical()
            ),
            Self::RecentPublishes { repo } => write!(f, "{repo}/{UI_DIR}/recent.json"),
            Self::Repositories => write!(f, "{UI_DIR}/repositories.json"),
            Self::Ui(file) => write!(f, "{UI_DIR}/{}", file.path()),
            Self::Upload { id } => write!(f, "{UPLOADS_DIR}/{}.crate", id.as_str()),
            Self::Task { id } => write!(f, "{TASKS_DIR}/{}.json", id.as_str()),
            Self::Git { repo, file } => write!(f, "{repo}/git/{file}"),
            Self::GitTreeCopy { repo, id } => write!(f, "{repo}/{GIT_TREES_DIR}/{}", id.as_str()),
            Self::SearchShard { repo, shard } => {
                write!(f, "{repo}/{SEARCH_DIR}/{:02x}.json", shard.0)
            }
        }
    }
}

/// `{name}-{version}.crate`. A `+` (build metadata) stays literal in the key;
/// in URLs it must travel as `%2B`, since S3 reads a `+` in a path as a space
/// (the CloudFront function rewrites cargo's raw `+`).
pub(crate) fn crate_file_name(name: impl fmt::Display, version: impl fmt::Display) -> String {
    format!("{name}-{version}.crate")
}

/// `{name}-{version}.crate` → `version` (not checked; empty is `None`):
/// the inverse of [`crate_file_name`].
pub(crate) fn version_in_file_name<'f>(name: &str, file_name: &'f str) -> Option<&'f str> {
    file_name
        .strip_prefix(name)?
        .strip_prefix('-')?
        .strip_suffix(".crate")
        .filter(|v| !v.is_empty())
}

/// The name a key holds in its canonical form.
fn canonical(name: &CrateName) -> CrateName {
    CrateName::new(&name.canonical()).expect("a valid name's canonical form is valid")
}

impl ObjectKey {
    /// cargo's `dl` template for a repository's crates, relative to where
    /// the repository is read: the layout of [`ObjectKey::CrateFile`].
    pub const DL_TEMPLATE: &'static str = "crates/{crate}/{crate}-{version}.crate";

    pub fn index_config(repo: &str) -> Result<Self, RegistryError> {
        Ok(Self::IndexConfig {
            repo: RepoName::new(repo)?,
        })
    }

    pub fn index_file(repo: &str, name: &str) -> Result<Self, RegistryError> {
        Ok(Self::IndexFile {
            repo: RepoName::new(repo)?,
            name: CrateName::new(&name.to_ascii_lowercase())?,
        })
    }

    pub fn crate_file(repo: &str, name: &str, version: &str) -> Result<Self, RegistryError> {
        Ok(Self::CrateFile {
            repo: RepoName::new(repo)?,
            name: CrateName::new(name)?,
            version: CrateVersion::new(version)?,
        })
    }

    pub fn crate_page(repo: &str, name: &str) -> Result<Self, RegistryError> {
        Ok(Self::CratePage {
            repo: RepoName::new(repo)?,
            name: canonical(&CrateName::new(name)?),
        })
    }

    pub fn version_page(repo: &str, name: &str, version: &str) -> Result<Self, RegistryError> {
        Ok(Self::VersionPage {
            repo: RepoName::new(repo)?,
            name: canonical(&CrateName::new(name)?),
            version: CrateVersion::new(version)?,
        })
    }

    pub fn readme(repo: &str, name: &str, version: &str) -> Result<Self, RegistryError> {
        Ok(Self::Readme {
            repo: RepoName::new(repo)?,
            name: canonical(&CrateName::new(name)?),
            version: CrateVersion::new(version)?,
        })
    }

    pub fn recent_publishes(repo: &str) -> Result<Self, RegistryError> {
        Ok(Self::RecentPublishes {
            repo: RepoName::new(repo)?,
        })
    }

    /// The object `key` names, only when `key` is exactly the key the
    /// layout gives it (a store key, or a percent-decoded request path
    /// without its leading `/`): untrusted text never reaches a store, an
    /// upstream URL or a log line in any other form.
    pub fn parse(key: &str) -> Option<Self> {
        let parsed = match key.split_once('/')? {
            (UPLOADS_DIR, file) => Self::Upload {
                id: UploadId::new(file.strip_suffix(".crate")?)?,
            },
            (TASKS_DIR, file) => Self::Task {
                id: TaskId::new(file.strip_suffix(".json")?)?,
            },
            (UI_DIR, "repositories.json") => Self::Repositories,
            (UI_DIR, path) => Self::Ui(UiFile::ALL.into_iter().find(|f| f.path() == path)?),
            (repo, rest) => {
                let (section, path) = rest.split_once('/')?;
                if section == GIT_TREES_DIR {
                    let copy = Self::GitTreeCopy {
                        repo: RepoName::new(repo).ok()?,
                        id: GitObjectId::new(path)?,
                    };
                    return (copy.to_string() == key).then_some(copy);
                }
                if section == SEARCH_DIR {
                    let shard = u8::from_str_radix(path.strip_suffix(".json")?, 16).ok()?;
                    let shard = Self::SearchShard {
                        repo: RepoName::new(repo).ok()?,
                        shard: SearchShardId::new(shard)?,
                    };
                    return (shard.to_string() == key).then_some(shard);
                }
                let section = [Section::Index, Section::Crates, Section::Ui, Section::Git]
                    .into_iter()
                    .find(|s| s.as_str() == section)?;
                return Self::parse_in(repo, section, path);
            }
        };
        (parsed.to_string() == key).then_some(parsed)
    }

    /// [`ObjectKey::parse`] for a request path the router has taken apart:
    /// `{repo}/{section}/{path}`.
    pub fn parse_in(repo: &str, section: Section, path: &str) -> Option<Self> {
        let repo = RepoName::new(repo).ok()?;
        let name = |name: &str| CrateName::new(name).ok();
        let version = |version: &str| CrateVersion::new(version).ok();
        let parsed = match (section, path.split_once('/')) {
            (Section::Index, _) if path == "config.json" => Self::IndexConfig { repo },
            (Section::Index, _) => Self::IndexFile {
                name: name(path.rsplit('/').next()?)?,
                repo,
            },
            (Section::Crates, Some((crate_name, file))) => Self::CrateFile {
                version: version(version_in_file_name(crate_name, file)?)?,
                name: name(crate_name)?,
                repo,
            },
            (Section::Git, _) => Self::Git {
                file: GitFile::parse(path)?,
                repo,
            },
            (Section::Ui, None) if path == "recent.json" => Self::RecentPublishes { repo },
            (Section::Ui, Some(("crates", file))) => Self::CratePage {
                name: name(file.strip_suffix(".json")?)?,
                repo,
            },
            (Section::Ui, Some(("versions", rest))) => {
                let (crate_name, file) = rest.split_once('/')?;
                Self::VersionPage {
                    version: version(file.strip_suffix(".json")?)?,
                    name: name(crate_name)?,
                    repo,
                }
            }
            (Section::Ui, Some(("readmes", rest))) => {
                let (crate_name, file) = rest.split_once('/')?;
                Self::Readme {
                    version: version(file.strip_suffix(".html")?)?,
                    name: name(crate_name)?,
                    repo,
                }
            }
            _ => return None,
        };
        // Rendering normalises: a name in another case, a second spelling
        // of the same path, anything that is not the layout's own form.
        let canonical = match parsed.repository() {
            Some(repo) => {
                parsed
                    .to_string()
                    .strip_prefix(repo.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .and_then(|rest| rest.strip_prefix(section.as_str()))
                    .and_then(|rest| rest.strip_prefix('/'))
                    == Some(path)
            }
            None => false,
        };
        canonical.then_some(parsed)
    }

    /// The repository the object belongs to; `None` for the registry's own.
    pub fn repository(&self) -> Option<&RepoName> {
        match self {
            Self::IndexConfig { repo }
            | Self::IndexFile { repo, .. }
            | Self::CrateFile { repo, .. }
            | Self::CratePage { repo, .. }
            | Self::VersionPage { repo, .. }
            | Self::Readme { repo, .. }
            | Self::RecentPublishes { repo }
            | Self::Git { repo, .. }
            | Self::GitTreeCopy { repo, .. }
            | Self::SearchShard { repo, .. } => Some(repo),
            Self::Repositories | Self::Ui(_) | Self::Upload { .. } | Self::Task { .. } => None,
        }
    }

    /// The crate the object is about; `None` for a repository's or the
    /// registry's documents.
    pub fn crate_name(&self) -> Option<&CrateName> {
        match self {
            Self::IndexFile { name, .. }
            | Self::CrateFile { name, .. }
            | Self::CratePage { name, .. }
            | Self::VersionPage { name, .. }
            | Self::Readme { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The key below `prefix` (`readmes/foo/1.0.0.html` below
    /// `{repo}/ui/`), as a client reading the prefix's URL names it.
    pub fn below(&self, prefix: &KeyPrefix) -> Option<String> {
        self.to_string()
            .strip_prefix(&prefix.to_string())
            .map(str::to_string)
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            Self::IndexFile { .. } => "text/plain",
            Self::Git {
                file: GitFile::Object(_),
                ..
            }
            | Self::GitTreeCopy { .. } => "application/x-git-loose-object",
            Self::Git {
                file: GitFile::Pack(_),
                ..
            } => "application/x-git-packed-objects",
            Self::Git {
                file: GitFile::PackIndex(_),
                ..
            } => "application/x-git-packed-objects-toc",
            Self::Git { .. } => "text/plain",
            Self::CrateFile { .. } | Self::Upload { .. } => "application/octet-stream",
            Self::IndexConfig { .. }
            | Self::CratePage { .. }
            | Self::VersionPage { .. }
            | Self::RecentPublishes { .. }
            | Self::Repositories
            | Self::Task { .. }
            | Self::SearchShard { .. } => "application/json",
            Self::Readme { .. } | Self::Ui(UiFile::Shell) => "text/html; charset=utf-8",
            Self::Ui(UiFile::Script) => "text/javascript; charset=utf-8",
            Self::Ui(UiFile::Stylesheet) => "text/css; charset=utf-8",
        }
    }

    /// Index files and the UI's data change on every publish: caches
    /// revalidate often (changes also invalidate the CDN). A `.crate`
    /// never changes once written.
    pub fn cache_control(&self) -> &'static str {
        match self {
            Self::IndexConfig { .. }
            | Self::IndexFile { .. }
            | Self::CratePage { .. }
            | Self::RecentPublishes { .. }
            | Self::Repositories => "public, max-age=60, must-revalidate",
            // A commit replaces `info/refs` (HEAD never changes):
            // revalidated like index files.
            Self::Git {
                file: GitFile::Head | GitFile::InfoRefs,
                ..
            } => "public, max-age=60, must-revalidate",
            // A repack lists a pack here, then deletes the loose copies of
            // what it holds: a cached older list would send git after an
            // object it can no longer find. Never served stale.
            Self::Git {
                file: GitFile::InfoPacks,
                ..
            } => "no-cache",
            // Named by their content.
            Self::CrateFile { .. }
            | Self::Git {
                file: GitFile::Object(_) | GitFile::Pack(_) | GitFile::PackIndex(_),
                ..
            } => "public, max-age=31536000, immutable",
            // Rewritten only when a version is published again after a
            // lost answer, or by a newer renderer.
            Self::VersionPage { .. } | Self::Readme { .. } => "public, max-age=3600",
            // The shell names the assets by path: revalidate it often.
            Self::Ui(UiFile::Shell) => "public, max-age=60",
            Self::Ui(_) => "public, max-age=300",
            Self::Upload { .. }
            | Self::Task { .. }
            | Self::GitTreeCopy { .. }
            | Self::SearchShard { .. } => "private, no-store",
        }
    }

    /// How the object is written. A repository's objects are private
    /// (kept off the static read path) while the repository is; the
    /// registry's own are always public, an upload never is.
    pub fn put_options(&self, private_repository: bool) -> PutOptions {
        PutOptions {
            private: match self {
                Self::Upload { .. } | Self::Task { .. } | Self::SearchShard { .. } => true,
                _ => private_repository && self.repository().is_some(),
            },
            ..PutOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> RepoName {
        RepoName::new(name).unwrap()
    }

    fn every_kind() -> Vec<(ObjectKey, &'static str)> {
        let id = UploadId::new("0123abcd").unwrap();
        vec![
            (
                ObjectKey::index_config("main").unwrap(),
                "main/index/config.json",
            ),
            (
                ObjectKey::index_file("main", "Serde_json").unwrap(),
                "main/index/se/rd/serde_json",
            ),
            (
                ObjectKey::index_file("main", "a").unwrap(),
                "main/index/1/a",
            ),
            (
                ObjectKey::index_file("main", "ab").unwrap(),
                "main/index/2/ab",
            ),
            (
                ObjectKey::index_file("main", "Abc").unwrap(),
                "main/index/3/a/abc",
            ),
            (
                ObjectKey::crate_file("main", "Foo", "1.0.0+git.1").unwrap(),
                "main/crates/Foo/Foo-1.0.0+git.1.crate",
            ),
            (
                ObjectKey::crate_page("team-a", "Foo-Bar").unwrap(),
                "team-a/ui/crates/foo_bar.json",
            ),
            (
                ObjectKey::version_page("main", "Foo-Bar", "1.0.0+b").unwrap(),
                "main/ui/versions/foo_bar/1.0.0+b.json",
            ),
            (
                ObjectKey::readme("main", "foo", "1.0.0+b").unwrap(),
                "main/ui/readmes/foo/1.0.0+b.html",
            ),
            (
                ObjectKey::recent_publishes("main").unwrap(),
                "main/ui/recent.json",
            ),
            (
                ObjectKey::SearchShard {
                    repo: repo("main"),
                    shard: SearchShardId::new(15).unwrap(),
                },
                "main/search/0f.json",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::Head,
                },
                "main/git/HEAD",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::InfoRefs,
                },
                "main/git/info/refs",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::InfoPacks,
                },
                "main/git/objects/info/packs",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::Object(
                        GitObjectId::new("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391").unwrap(),
                    ),
                },
                "main/git/objects/e6/9de29bb2d1d6434b8b29ae775ad8c2e48c5391",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::Pack(
                        GitObjectId::new("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391").unwrap(),
                    ),
                },
                "main/git/objects/pack/pack-e69de29bb2d1d6434b8b29ae775ad8c2e48c5391.pack",
            ),
            (
                ObjectKey::Git {
                    repo: repo("main"),
                    file: GitFile::PackIndex(
                        GitObjectId::new("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391").unwrap(),
                    ),
                },
                "main/git/objects/pack/pack-e69de29bb2d1d6434b8b29ae775ad8c2e48c5391.idx",
            ),
            (
                ObjectKey::GitTreeCopy {
                    repo: repo("main"),
                    id: GitObjectId::new("4b825dc642cb6eb9a060e54bf8d69288fbee4904").unwrap(),
                },
                "main/git-trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            ),
            (ObjectKey::Repositories, "ui/repositories.json"),
            (ObjectKey::Ui(UiFile::Shell), "ui/index.html"),
            (ObjectKey::Ui(UiFile::Script), "ui/assets/app.js"),
            (ObjectKey::Ui(UiFile::Stylesheet), "ui/assets/app.css"),
            (ObjectKey::Upload { id }, ".uploads/0123abcd.crate"),
            (
                ObjectKey::Task {
                    id: TaskId::new("20261202-041500-3fa9c1-b000001").unwrap(),
                },
                ".tasks/20261202-041500-3fa9c1-b000001.json",
            ),
        ]
    }

    #[test]
    fn every_kind_renders_the_documented_layout_and_parses_back() {
        for (key, rendered) in every_kind() {
            assert_eq!(key.to_string(), rendered);
            assert_eq!(
                ObjectKey::parse(rendered).as_ref(),
                Some(&key),
                "{rendered}"
            );
        }
    }

    #[test]
    fn request_paths_parse_like_keys() {
        let key = ObjectKey::parse_in("main", Section::Index, "se/rd/serde").unwrap();
        assert_eq!(key, ObjectKey::index_file("main", "serde").unwrap());
        let key = ObjectKey::parse_in("main", Section::Crates, "foo/foo-1.0.0+b.1.crate").unwrap();
        assert_eq!(
            key,
            ObjectKey::crate_file("main", "foo", "1.0.0+b.1").unwrap()
        );
        assert_eq!(
            ObjectKey::parse_in("main", Section::Ui, "recent.json"),
            Some(ObjectKey::recent_publishes("main").unwrap())
        );
        assert_eq!(
            ObjectKey::parse_in("main", Section::Crates, "config.json"),
            None
        );
        assert_eq!(ObjectKey::parse_in("ui", Section::Index, "1/a"), None);
    }

    #[test]
    fn non_canonical_keys_parse_to_none() {
        let long = format!("main/crates/foo/foo-1.0.0-{}.crate", "a".repeat(200));
        for bad in [
            "",
            "/",
            "main",
            "main/",
            "main/index",
            "main/index/",
            // Index paths: exactly cargo's, lowercase.
            "main/index/se/rd/Serde",
            "main/index/xx/rd/serde",
            "main/index/se/rd//serde",
            "main/index/se//rd/serde",
            "main/index/se/rd/serde?x=1",
            "main/index/se/rd/serde/",
            "main/index/1/é",
            "main/index/se/rd/sérde",
            "main/index/3/s/std",
            "main/index/x\\..\\..\\secret",
            "main/index/%5C/x",
            "main/index/../index/1/a",
            "main/index/./1/a",
            // Traversal and odd repositories.
            "../main/index/1/a",
            "./index/1/a",
            "../index/config.json",
            "/main/index/1/a",
            "main%2F/index/1/a",
            "ui/index/1/a",
            "api/index/1/a",
            ".uploads/index/1/a",
            "ma in/index/1/a",
            // Crate files: a semver version in the layout's file name.
            "main/crates/foo/foo-1.0.crate",
            "main/crates/foo/foo-01.0.0.crate",
            "main/crates/foo/foo-v1.0.0.crate",
            "main/crates/foo/foo-.crate",
            "main/crates/foo/bar-1.0.0.crate",
            "main/crates/foo/foo-1.0.0.tar.gz",
            "main/crates/foo/foo-1.0.0.crate?x",
            "main/crates/fo/o/fo/o-1.0.0.crate",
            "main/crates/foo/x/foo-1.0.0.crate",
            "main/crates//foo-1.0.0.crate",
            "main/crates/é/é-1.0.0.crate",
            "main/crates/foo%5C/foo%5C-1.0.0.crate",
            long.as_str(),
            // The UI's data: canonical names, known documents.
            "main/ui/crates/Foo.json",
            "main/ui/crates/foo-bar.json",
            "main/ui/crates/foo",
            "main/ui/readmes/Foo/1.0.0.html",
            "main/ui/readmes/foo/1.0.html",
            "main/ui/readmes/foo/1.0.0.md",
            "main/ui/versions/Foo/1.0.0.json",
            "main/ui/versions/foo/1.0.json",
            "main/ui/versions/foo/1.0.0.html",
            "main/ui/versions/foo.json",
            "main/ui/recent.json/",
            "main/ui/other.json",
            "main/api/v1/crates",
            "main/readmes/foo/foo-1.0.0.md",
            "ui/repositories.json/x",
            "ui/assets/other.js",
            "ui/",
            // Uploads: the registry's hex ids only.
            ".uploads/.crate",
            ".uploads/ABC.crate",
            ".uploads/a/b.crate",
            ".uploads/../x.crate",
            ".uploads/abc",
            // Tasks: the registry's ids only.
            ".tasks/.json",
            ".tasks/A.json",
            ".tasks/a/b.json",
            ".tasks/a_b.json",
            ".tasks/abc",
            // The git index: git's own files, lowercase full object ids.
            "main/git/",
            "main/git/head",
            "main/git/config",
            "main/git/info/refs/",
            "main/git/info/../HEAD",
            "main/git/refs/heads/master",
            "main/git/objects/e6/9DE29BB2D1D6434B8B29AE775AD8C2E48C5391",
            "main/git/objects/e6/9de29bb2d1d6434b8b29ae775ad8c2e48c539",
            "main/git/objects/e69/de29bb2d1d6434b8b29ae775ad8c2e48c5391",
            "main/git/objects/e6/9de29bb2d1d6434b8b29ae775ad8c2e48c5391/",
            "main/git/objects/../../index/config.json",
            "main/git/../index/config.json",
            "main/git/objects/pack/pack-1.pack",
            "main/git/objects/pack/pack-e69de29bb2d1d6434b8b29ae775ad8c2e48c5391.keep",
            "main/git/objects/pack/pack-e69de29bb2d1d6434b8b29ae775ad8c2e48c5391.pack/",
            "main/git/objects/pack/e69de29bb2d1d6434b8b29ae775ad8c2e48c5391.idx",
            "main/git-trees",
            "main/git-trees/",
            "../git-trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
            "main/git-trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904/x",
            "ui/git-trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        ] {
            assert_eq!(ObjectKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes_follow_the_layout() {
        let main = repo("main");
        let readme = ObjectKey::readme("main", "Foo_Bar", "1.0.0").unwrap();
        let crate_readmes = KeyPrefix::CrateReadmes {
            repo: main.clone(),
            name: CrateName::new("Foo_Bar").unwrap(),
        };
        assert!(readme.to_string().starts_with(&crate_readmes.to_string()));
        assert!(
            readme
                .to_string()
                .starts_with(&KeyPrefix::Readmes(main.clone()).to_string())
        );
        assert_eq!(
            readme.below(&KeyPrefix::Ui(main.clone())).as_deref(),
            Some("readmes/foo_bar/1.0.0.html")
        );
        let page = ObjectKey::version_page("main", "Foo_Bar", "1.0.0").unwrap();
        let crate_pages = KeyPrefix::CrateVersionPages {
            repo: main.clone(),
            name: CrateName::new("Foo_Bar").unwrap(),
        };
        assert!(page.to_string().starts_with(&crate_pages.to_string()));
        assert!(
            crate_pages
                .to_string()
                .starts_with(&KeyPrefix::VersionPages(main.clone()).to_string())
        );
        assert_eq!(
            page.below(&KeyPrefix::Ui(main.clone())).as_deref(),
            Some("versions/foo_bar/1.0.0.json")
        );
        assert_eq!(KeyPrefix::Repository(main.clone()).to_string(), "main/");
        assert_eq!(KeyPrefix::Index(main.clone()).to_string(), "main/index/");
        assert_eq!(KeyPrefix::Uploads.to_string(), ".uploads/");
        for key in UiFile::ALL
            .map(ObjectKey::Ui)
            .into_iter()
            .chain([ObjectKey::Repositories])
        {
            assert!(
                key.to_string().starts_with(&KeyPrefix::WebUi.to_string()),
                "{key}"
            );
        }
        let upload = ObjectKey::Upload {
            id: UploadId::new("ab").unwrap(),
        };
        assert!(
            upload
                .to_string()
                .starts_with(&KeyPrefix::Uploads.to_string())
        );
    }

    #[test]
    fn the_dl_template_is_the_crate_file_layout() {
        let dl = ObjectKey::DL_TEMPLATE
            .replace("{crate}", "Foo")
            .replace("{version}", "1.0.0");
        let key = ObjectKey::crate_file("main", "Foo", "1.0.0").unwrap();
        assert_eq!(key.below(&KeyPrefix::Repository(repo("main"))), Some(dl));
    }

    #[test]
    fn put_options_follow_the_kind() {
        let index = ObjectKey::index_file("main", "foo").unwrap();
        assert_eq!(index.content_type(), "text/plain");
        assert!(index.put_options(true).private);
        assert!(!index.put_options(false).private);
        let krate = ObjectKey::crate_file("main", "foo", "1.0.0").unwrap();
        assert_eq!(krate.cache_control(), "public, max-age=31536000, immutable");
        let config = ObjectKey::index_config("main").unwrap();
        assert_eq!(config.content_type(), "application/json");
        assert!(!ObjectKey::Repositories.put_options(true).private);
    }

    proptest::proptest! {
        #[test]
        fn every_key_made_from_valid_parts_parses_back(
            repo in "[A-Za-z0-9_-]{1,12}",
            name in "[A-Za-z][A-Za-z0-9_-]{0,20}",
            version in r"(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(-[a-z][a-z0-9]{0,4})?(\+[A-Za-z0-9.]{1,6})?",
        ) {
            let made = [
                ObjectKey::index_config(&repo),
                ObjectKey::index_file(&repo, &name),
                ObjectKey::crate_file(&repo, &name, &version),
                ObjectKey::crate_page(&repo, &name),
                ObjectKey::readme(&repo, &name, &version),
                ObjectKey::recent_publishes(&repo),
            ];
            for key in made.into_iter().flatten() {
                proptest::prop_assert_eq!(ObjectKey::parse(&key.to_string()), Some(key));
            }
        }

        #[test]
        fn whatever_parses_is_exactly_its_key(
            text in r"(main/(index|crates|ui)/|ui/|\.uploads/)?[a-zA-Z0-9_./+%?\\-]{0,30}",
        ) {
            if let Some(key) = ObjectKey::parse(&text) {
                proptest::prop_assert_eq!(key.to_string(), text);
            }
        }
    }
}
