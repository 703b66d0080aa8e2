//! Object keys and their HTTP headers: the one place that knows the layout
//! `{repo}/index/…` and `{repo}/crates/{name}/{name}-{version}.crate`.

use crateyard_index::index_file_path;

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

/// The README of a version, kept beside (not in) the metadata store: it can be
/// larger than a DynamoDB item may be.
pub fn readme_key(repo: &str, name: &str, version: &str) -> String {
    format!(
        "{repo}/readmes/{name}/{}",
        crate_file_name(name, version).replace(".crate", ".md")
    )
}

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
}

impl ObjectKind {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::IndexFile => "text/plain",
            Self::CrateFile => "application/octet-stream",
        }
    }

    /// Index files change on every publish: caches revalidate often (changes
    /// also invalidate the CDN). A `.crate` never changes once written.
    pub fn cache_control(self) -> &'static str {
        match self {
            Self::IndexFile => "public, max-age=60, must-revalidate",
            Self::CrateFile => "public, max-age=31536000, immutable",
        }
    }
}

/// What an object key (or a URL path that mirrors one) holds, if it is servable.
pub fn object_kind(key: &str) -> Option<ObjectKind> {
    let (_repo, rest) = key.split_once('/')?;
    if rest.starts_with("index/") {
        Some(ObjectKind::IndexFile)
    } else if rest.starts_with("crates/") && rest.ends_with(".crate") {
        Some(ObjectKind::CrateFile)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            readme_key("main", "foo", "1.0.0+b"),
            "main/readmes/foo/foo-1.0.0+b.md"
        );
        assert_eq!(
            object_kind(&readme_key("main", "foo", "1.0.0")),
            None,
            "READMEs are not served as files"
        );
    }
}
