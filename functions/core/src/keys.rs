//! Object keys and their HTTP headers: the one place that knows the layout
//! `{repo}/index/…` and `{repo}/crates/{name}/{name}-{version}.crate`.

use crate::CrateName;
use crate::versions::parse_version;
use crateyard_index::index_file_path;

/// The crate whose index file `path` (below `index/`) is, only when `path`
/// is exactly that crate's canonical index path (`se/rd/serde`): untrusted
/// text never reaches an upstream URL or a store key in any other form.
pub fn parse_index_path(path: &str) -> Option<CrateName> {
    let name = CrateName::new(path.rsplit('/').next()?).ok()?;
    (index_file_path(name.as_str()) == path).then_some(name)
}

/// The crate and version a download names (`{name}/{name}-{version}.crate`),
/// only when the version is semver and the file name is exactly the one the
/// layout gives them.
pub fn parse_crate_file(name: &str, file_name: &str) -> Option<(CrateName, String)> {
    let name = CrateName::new(name).ok()?;
    let version = version_in_file_name(name.as_str(), file_name)?;
    parse_version(version)
        .is_ok()
        .then(|| (name, version.to_string()))
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

pub fn index_config_key(repo: &str) -> String {
    format!("{repo}/index/config.json")
}

pub fn index_file_key(repo: &str, name: &str) -> String {
    format!("{repo}/index/{}", index_file_path(name))
}

/// `{name}-{version}.crate`. A `+` (build metadata) stays literal in the key;
/// in URLs it must travel as `%2B`, since S3 reads a `+` in a path as a space
/// (the CloudFront function rewrites cargo's raw `+`).
pub fn crate_file_name(name: &str, version: &str) -> String {
    format!("{name}-{version}.crate")
}

pub fn crate_file_key(repo: &str, name: &str, version: &str) -> String {
    format!("{repo}/crates/{name}/{}", crate_file_name(name, version))
}

/// A crate's page data for the web UI (see [`crate::pages`]).
pub fn crate_page_key(repo: &str, canonical: &str) -> String {
    format!("{repo}/ui/crates/{canonical}.json")
}

/// A version's README, rendered for the web UI. Kept beside (not in) the
/// metadata store: it can be larger than a DynamoDB item may be.
pub fn readme_html_key(repo: &str, canonical: &str, version: &str) -> String {
    format!("{repo}/ui/readmes/{canonical}/{version}.html")
}

/// A repository's latest publishes, for the web UI's home page.
pub fn recent_publishes_key(repo: &str) -> String {
    format!("{repo}/ui/recent.json")
}

/// The public repositories, for the web UI's home page. `ui` is a reserved
/// repository name, so this is outside every repository.
pub const UI_REPOSITORIES_KEY: &str = "ui/repositories.json";

/// Where large uploads are staged: outside every repository (repository
/// names have no `.`), so that one S3 notification prefix and one lifecycle
/// rule cover them, and no public-read pattern (`*/index/*`, `*/crates/*`)
/// can match them. The upload's record says which repository it is for.
pub const UPLOADS_PREFIX: &str = ".uploads/";

/// A large upload's staging object, written through a presigned URL and
/// removed once ingested.
pub fn upload_key(id: &str) -> String {
    format!("{UPLOADS_PREFIX}{id}.crate")
}

/// `.uploads/{id}.crate` → `id`; `None` for any other key.
pub fn parse_upload_key(key: &str) -> Option<&str> {
    let id = key.strip_prefix(UPLOADS_PREFIX)?.strip_suffix(".crate")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    IndexFile,
    CrateFile,
    /// The web UI's JSON documents: a crate page, recent publishes.
    PageData,
    /// A rendered, sanitised README.
    Readme,
}

impl ObjectKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::IndexFile => "text/plain",
            Self::CrateFile => "application/octet-stream",
            Self::PageData => "application/json",
            Self::Readme => "text/html; charset=utf-8",
        }
    }

    /// Index files change on every publish: caches revalidate often (changes
    /// also invalidate the CDN). A `.crate` never changes once written.
    pub fn cache_control(self) -> &'static str {
        match self {
            Self::IndexFile => "public, max-age=60, must-revalidate",
            Self::CrateFile => "public, max-age=31536000, immutable",
            // Changes invalidate the CDN too, as for index files.
            Self::PageData => "public, max-age=60, must-revalidate",
            // Rewritten only when a version is published again after a
            // lost answer, or by a newer renderer.
            Self::Readme => "public, max-age=3600",
        }
    }
}

/// What an object key (or a URL path that mirrors one) holds, if it is servable.
pub fn object_kind(key: &str) -> Option<ObjectKind> {
    if key == UI_REPOSITORIES_KEY {
        return Some(ObjectKind::PageData);
    }
    let (_repo, rest) = key.split_once('/')?;
    if rest.starts_with("index/") {
        Some(ObjectKind::IndexFile)
    } else if rest.starts_with("crates/") && rest.ends_with(".crate") {
        Some(ObjectKind::CrateFile)
    } else if rest.starts_with("ui/readmes/") && rest.ends_with(".html") {
        Some(ObjectKind::Readme)
    } else if rest.starts_with("ui/") && rest.ends_with(".json") {
        Some(ObjectKind::PageData)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_parse_only_in_canonical_form() {
        assert_eq!(parse_index_path("se/rd/serde").unwrap().as_str(), "serde");
        assert_eq!(parse_index_path("3/a/abc").unwrap().as_str(), "abc");
        for bad in [
            "se/rd/Serde",
            "xx/rd/serde",
            "se/rd//serde",
            "se/rd/serde?x=1",
            "x\\..\\..\\secret",
            "..",
            "",
            "1/é",
            "se/rd/sérde",
            "config.json",
        ] {
            assert!(parse_index_path(bad).is_none(), "{bad:?}");
        }
        let (name, version) = parse_crate_file("foo", "foo-1.0.0+b.1.crate").unwrap();
        assert_eq!((name.as_str(), version.as_str()), ("foo", "1.0.0+b.1"));
        let long = format!("foo-1.0.0-{}.crate", "a".repeat(200));
        for (n, f) in [
            ("foo", "foo-1.0.crate"),
            ("foo", "bar-1.0.0.crate"),
            ("foo", "foo-1.0.0.tar.gz"),
            ("fo/o", "fo/o-1.0.0.crate"),
            ("é", "é-1.0.0.crate"),
            ("foo", long.as_str()),
        ] {
            assert!(parse_crate_file(n, f).is_none(), "{n} {f}");
        }
    }

    #[test]
    fn keys_follow_the_object_layout() {
        assert_eq!(index_config_key("main"), "main/index/config.json");
        assert_eq!(
            index_file_key("main", "Serde_json"),
            "main/index/se/rd/serde_json"
        );
        assert_eq!(
            crate_file_key("main", "Foo", "1.0.0+git.1"),
            "main/crates/Foo/Foo-1.0.0+git.1.crate"
        );
        assert_eq!(
            object_kind("main/index/3/f/foo"),
            Some(ObjectKind::IndexFile)
        );
        assert_eq!(
            object_kind("main/crates/foo/foo-1.0.0.crate"),
            Some(ObjectKind::CrateFile)
        );
        assert_eq!(object_kind("main/api/v1/crates"), None);
        assert_eq!(
            readme_html_key("main", "foo", "1.0.0+b"),
            "main/ui/readmes/foo/1.0.0+b.html"
        );
        assert_eq!(
            object_kind(&readme_html_key("main", "foo", "1.0.0")),
            Some(ObjectKind::Readme)
        );
        assert_eq!(
            object_kind(&crate_page_key("main", "foo_bar")),
            Some(ObjectKind::PageData)
        );
        assert_eq!(
            object_kind(&recent_publishes_key("main")),
            Some(ObjectKind::PageData)
        );
        assert_eq!(object_kind("main/readmes/foo/foo-1.0.0.md"), None);
    }
}
