//! Metadata calculation: from a checked tarball to the index line and the
//! package facts a crate page shows, computed as crates.io computes them.

use crate::TarballError;
use crate::archive::{ArchiveContents, read_archive};
use crate::bounds::check_manifest_bounds;
use crate::limits::{TarballLimits, human_limit, human_size};
use crate::manifest::{self, DepsTable, Manifest, Readme, ReadmeOnly};
use crateyard_index::{CRATES_IO_INDEX, Dependency, DependencyKind, IndexLine, split_features};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What `cargo info` and a crate page show beyond the index line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageInfo {
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
    pub documentation: Option<String>,
    pub readme_path: Option<String>,
    pub readme: Option<String>,
    pub keywords: Vec<String>,
    pub categories: Vec<String>,
    pub authors: Vec<String>,
    pub edition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrateMetadata {
    /// Not yanked, without `pubtime` (the registry stamps it).
    pub index_line: IndexLine,
    pub package: PackageInfo,
    /// Of the `.crate` file.
    pub size: u64,
}

/// Index URLs that name crates.io in a `registry-index` field, normalized.
const CRATES_IO_ALIASES: &[&str] = &[
    "https://github.com/rust-lang/crates.io-index",
    "https://index.crates.io",
];

/// The README cargo uses when the manifest names none.
const DEFAULT_README: &str = "README.md";

/// Checks a `.crate` that should hold `name` `version` and computes its
/// metadata. `own_index_urls` are the URLs under which the registry
/// receiving it knows itself: a dependency from there has no `registry`.
pub fn inspect_crate(
    crate_bytes: &[u8],
    name: &str,
    version: &str,
    own_index_urls: &[String],
    limits: &TarballLimits,
) -> Result<CrateMetadata, TarballError> {
    let size = crate_bytes.len() as u64;
    if size > limits.max_compressed {
        return Err(TarballError::TooLarge {
            size: human_size(size),
            limit: human_limit(limits.max_compressed),
        });
    }
    let ArchiveContents { manifest, readmes } = read_archive(
        crate_bytes,
        &format!("{name}-{version}"),
        limits,
        declared_readme,
    )?;
    let manifest = std::str::from_utf8(&manifest)
        .map_err(|_| TarballError::InvalidManifest("it is not valid UTF-8".into()))?;
    let manifest: Manifest = manifest::parse(manifest).map_err(TarballError::InvalidManifest)?;
    let package = &manifest.package;
    check_name_and_version(&package.name, &package.version, name, version)?;
    check_feature_limits(&manifest, limits)?;
    check_manifest_bounds(&manifest)?;
    let deps = dependencies(&manifest, own_index_urls)?;
    if deps.len() > limits.max_dependencies {
        return Err(TarballError::TooManyDependencies {
            count: deps.len(),
            limit: limits.max_dependencies,
        });
    }
    let (features, extended) = split_features(manifest.features.clone());
    let (features2, v) = if extended.is_empty() {
        (None, None)
    } else {
        (Some(extended), Some(2))
    };
    let index_line = IndexLine {
        name: name.into(),
        vers: version.into(),
        deps,
        cksum: hex::encode(Sha256::digest(crate_bytes)),
        features,
        features2,
        yanked: false,
        links: package.links.clone(),
        rust_version: package.rust_version.clone(),
        pubtime: None,
        v,
    };
    Ok(CrateMetadata {
        index_line,
        package: package_info(&manifest, readmes),
        size,
    })
}

/// The README of a `.crate` inspected before (at publish), at `readme_path`
/// as [`PackageInfo::readme_path`] holds it: the same checked walk as
/// [`inspect_crate`], without parsing the manifest again. `None` when the
/// package has no file there.
pub fn read_readme(
    crate_bytes: &[u8],
    name: &str,
    version: &str,
    readme_path: &str,
    limits: &TarballLimits,
) -> Result<Option<String>, TarballError> {
    let size = crate_bytes.len() as u64;
    if size > limits.max_compressed {
        return Err(TarballError::TooLarge {
            size: human_size(size),
            limit: human_limit(limits.max_compressed),
        });
    }
    let contents = read_archive(crate_bytes, &format!("{name}-{version}"), limits, |_| {
        Some(readme_path.to_string())
    })?;
    Ok(pick_readme(contents.readmes, readme_path))
}

/// The README candidate at `wanted`, as text.
fn pick_readme(readmes: Vec<(String, Vec<u8>)>, wanted: &str) -> Option<String> {
    readmes
        .into_iter()
        .find(|(path, _)| path == wanted)
        .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
}

fn check_name_and_version(
    manifest_name: &str,
    manifest_version: &str,
    name: &str,
    version: &str,
) -> Result<(), TarballError> {
    if manifest_name != name {
        return Err(TarballError::NameMismatch {
            manifest: manifest_name.into(),
            expected: name.into(),
        });
    }
    for v in [version, manifest_version] {
        semver::Version::parse(v).map_err(|e| TarballError::InvalidVersion {
            version: v.into(),
            why: e.to_string(),
        })?;
    }
    if manifest_version != version {
        return Err(TarballError::VersionMismatch {
            manifest: manifest_version.into(),
            expected: version.into(),
        });
    }
    Ok(())
}

/// The README path a manifest declares, relative to the package root; `None`
/// for `readme = false`. Read before the whole manifest is parsed, so that
/// the archive walk keeps that file whatever its name.
fn declared_readme(manifest: &[u8]) -> Option<String> {
    let parsed = std::str::from_utf8(manifest)
        .ok()
        .and_then(|text| manifest::parse::<ReadmeOnly>(text).ok())
        .unwrap_or_default();
    match parsed.package.readme {
        Some(Readme::Path(path)) => Some(normalize_readme_path(&path)),
        Some(Readme::Enabled(false)) => None,
        Some(Readme::Enabled(true)) | None => Some(DEFAULT_README.into()),
    }
}

fn normalize_readme_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    rest.to_string()
}

fn check_feature_limits(manifest: &Manifest, limits: &TarballLimits) -> Result<(), TarballError> {
    let count = manifest.features.len();
    if count > limits.max_features {
        return Err(TarballError::TooManyFeatures {
            count,
            limit: limits.max_features,
        });
    }
    match manifest
        .features
        .iter()
        .find(|(_, values)| values.len() > limits.max_features)
    {
        Some((feature, values)) => Err(TarballError::FeatureTooLong {
            feature: feature.clone(),
            count: values.len(),
            limit: limits.max_features,
        }),
        None => Ok(()),
    }
}

/// Every dependency of every kind and target, sorted as crates.io sorts them.
fn dependencies(
    manifest: &Manifest,
    own_index_urls: &[String],
) -> Result<Vec<Dependency>, TarballError> {
    let mut tables: Vec<(&DepsTable, DependencyKind, Option<&str>)> = vec![
        (&manifest.dependencies, DependencyKind::Normal, None),
        (&manifest.dev_dependencies, DependencyKind::Dev, None),
        (&manifest.build_dependencies, DependencyKind::Build, None),
    ];
    for (target, t) in &manifest.target {
        tables.push((&t.dependencies, DependencyKind::Normal, Some(target)));
        tables.push((&t.dev_dependencies, DependencyKind::Dev, Some(target)));
        tables.push((&t.build_dependencies, DependencyKind::Build, Some(target)));
    }
    let mut deps = Vec::new();
    for (table, kind, target) in tables {
        for (toml_name, dep) in table {
            let (req, detail) = dep.detail();
            let req = req.ok_or_else(|| TarballError::MissingRequirement(toml_name.clone()))?;
            let parsed =
                semver::VersionReq::parse(req).map_err(|e| TarballError::InvalidRequirement {
                    name: toml_name.clone(),
                    req: req.into(),
                    why: e.to_string(),
                })?;
            let registry_index = detail.and_then(|d| d.registry_index.as_deref());
            deps.push(Dependency {
                name: toml_name.clone(),
                req: parsed.to_string(),
                features: detail.and_then(|d| d.features.clone()).unwrap_or_default(),
                optional: detail.and_then(|d| d.optional).unwrap_or(false),
                default_features: detail.and_then(|d| d.default_features).unwrap_or(true),
                target: target.map(str::to_string),
                kind: Some(kind),
                registry: dependency_registry(registry_index, own_index_urls),
                package: detail.and_then(|d| d.package.clone()),
            });
        }
    }
    deps.sort();
    Ok(deps)
}

/// No `registry-index` means crates.io (the default registry of whoever
/// builds the crate); our own URL means "this registry" (no `registry`).
fn dependency_registry(registry_index: Option<&str>, own_index_urls: &[String]) -> Option<String> {
    let Some(url) = registry_index else {
        return Some(CRATES_IO_INDEX.into());
    };
    let normalized = normalize_index_url(url);
    if own_index_urls
        .iter()
        .any(|own| normalize_index_url(own) == normalized)
    {
        None
    } else if CRATES_IO_ALIASES.contains(&normalized.as_str()) {
        Some(CRATES_IO_INDEX.into())
    } else {
        Some(url.into())
    }
}

fn normalize_index_url(url: &str) -> String {
    url.strip_prefix("sparse+")
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

fn package_info(manifest: &Manifest, readmes: Vec<(String, Vec<u8>)>) -> PackageInfo {
    let p = &manifest.package;
    let readme_path = match &p.readme {
        Some(Readme::Path(path)) => Some(normalize_readme_path(path)),
        Some(Readme::Enabled(false)) => None,
        Some(Readme::Enabled(true)) | None => Some(DEFAULT_README.into()),
    };
    let readme = readme_path
        .as_ref()
        .and_then(|wanted| pick_readme(readmes, wanted));
    PackageInfo {
        description: p.description.clone(),
        license: p.license.clone(),
        license_file: p.license_file.clone(),
        repository: p.repository.clone(),
        homepage: p.homepage.clone(),
        documentation: p.documentation.clone(),
        readme_path,
        readme,
        keywords: p.keywords.clone(),
        categories: p.categories.clone(),
        authors: p.authors.clone(),
        edition: p.edition.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TarballBuilder;
    use serde_json::{Value, json};

    const OWN: &str = "sparse+http://127.0.0.1:7878/main/index/";

    fn manifest(tail: &str) -> String {
        format!("[package]\nname = \"foo\"\nversion = \"1.0.0\"\n{tail}")
    }

    fn inspect_files(files: &[(&str, &[u8])]) -> Result<CrateMetadata, TarballError> {
        let bytes = files
            .iter()
            .fold(TarballBuilder::new("foo-1.0.0"), |b, (path, content)| {
                b.file(path, content)
            })
            .build();
        inspect_crate(
            &bytes,
            "foo",
            "1.0.0",
            &[OWN.into()],
            &TarballLimits::default(),
        )
    }

    fn inspect(manifest_tail: &str) -> Result<CrateMetadata, TarballError> {
        inspect_files(&[("Cargo.toml", manifest(manifest_tail).as_bytes())])
    }

    /// The index line's dependencies as JSON, as crates.io would write them.
    fn deps_json(manifest_tail: &str) -> Value {
        serde_json::to_value(&inspect(manifest_tail).unwrap().index_line)
            .unwrap()
            .get("deps")
            .cloned()
            .unwrap()
    }

    fn dep(name: &str, req: &str, kind: &str) -> Value {
        json!({"name": name, "req": req, "features": [], "optional": false,
               "default_features": true, "target": null, "kind": kind,
               "registry": CRATES_IO_INDEX})
    }

    fn with(mut dep: Value, key: &str, value: Value) -> Value {
        dep.as_object_mut().unwrap().insert(key.into(), value);
        dep
    }

    #[test]
    fn inspect_crate_computes_every_dependency_form() {
        let meta = inspect(
            r#"links = "z"
rust-version = "1.70"
[dependencies]
plain = "1.2"
renamed = { package = "real", version = "0.3", features = ["x"], default-features = false }
opt = { version = "2", optional = true, registry-index = "sparse+http://127.0.0.1:7878/main/index/" }
other = { version = "3", registry-index = "https://other.example/index" }
[dev-dependencies]
plain = "1"
[build-dependencies]
cc = "1"
[target.'cfg(windows)'.dependencies]
winapi = "0.3"
[features]
default = ["std"]
std = []
with-opt = ["dep:opt"]
weak = ["opt?/fast"]
uses-with-opt = ["with-opt"]
"#,
        )
        .unwrap();
        let line = serde_json::to_value(&meta.index_line).unwrap();
        let expected = json!({
            "name": "foo", "vers": "1.0.0",
            "deps": [
                {"name": "cc", "req": "^1", "features": [], "optional": false, "default_features": true, "target": null, "kind": "build", "registry": CRATES_IO_INDEX},
                {"name": "opt", "req": "^2", "features": [], "optional": true, "default_features": true, "target": null, "kind": "normal"},
                {"name": "other", "req": "^3", "features": [], "optional": false, "default_features": true, "target": null, "kind": "normal", "registry": "https://other.example/index"},
                {"name": "plain", "req": "^1.2", "features": [], "optional": false, "default_features": true, "target": null, "kind": "normal", "registry": CRATES_IO_INDEX},
                {"name": "plain", "req": "^1", "features": [], "optional": false, "default_features": true, "target": null, "kind": "dev", "registry": CRATES_IO_INDEX},
                {"name": "renamed", "req": "^0.3", "features": ["x"], "optional": false, "default_features": false, "target": null, "kind": "normal", "registry": CRATES_IO_INDEX, "package": "real"},
                {"name": "winapi", "req": "^0.3", "features": [], "optional": false, "default_features": true, "target": "cfg(windows)", "kind": "normal", "registry": CRATES_IO_INDEX},
            ],
            "cksum": meta.index_line.cksum,
            "features": {"default": ["std"], "std": []},
            "features2": {"with-opt": ["dep:opt"], "weak": ["opt?/fast"], "uses-with-opt": ["with-opt"]},
            "yanked": false, "links": "z", "rust_version": "1.70", "v": 2,
        });
        assert_eq!(line, expected);
        assert_eq!(meta.index_line.pubtime, None);
    }

    #[test]
    fn free_form_fields_are_bounded() {
        let long = "x".repeat(5000);
        for (tail, expected) in [
            (
                r#"keywords = ["a", "b", "c", "d", "e", "f"]"#.to_string(),
                "`keywords` in Cargo.toml has 6 entries; at most 5 are allowed",
            ),
            (
                r#"keywords = ["abcdefghijklmnopqrstuvwxyz"]"#.to_string(),
                "an entry of `keywords` in Cargo.toml is longer than 20 characters",
            ),
            (
                format!("links = \"{}\"", &long[..65]),
                "`links` in Cargo.toml is longer than 64 characters",
            ),
            (
                format!("description = \"{long}\""),
                "`description` in Cargo.toml is longer than 4096 characters",
            ),
            (
                format!("authors = [\"{}\"]", &long[..300]),
                "an entry of `authors` in Cargo.toml is longer than 256 characters",
            ),
            (
                format!("[features]\n{} = []", &long[..101]),
                "a feature name in Cargo.toml is longer than 100 characters",
            ),
        ] {
            let err = inspect(&tail).unwrap_err();
            assert_eq!(err.to_string(), expected, "{tail:.60}");
        }
        assert!(inspect(r#"keywords = ["a", "b"]"#).is_ok());
    }

    #[test]
    fn data_after_the_gzip_stream_is_refused() {
        let mut bytes = TarballBuilder::new("foo-1.0.0")
            .file("Cargo.toml", manifest("").as_bytes())
            .build();
        bytes.extend_from_slice(b"trailing");
        let err =
            inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate is not a gzip-compressed tar archive: 8 bytes follow the gzip stream; a .crate is exactly one gzip stream"
        );
    }

    #[test]
    fn index_line_checksum_and_size_are_of_the_crate_file() {
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file("Cargo.toml", manifest("").as_bytes())
            .build();
        let meta = inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap();
        assert_eq!(meta.index_line.cksum, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(meta.index_line.cksum.len(), 64);
        assert_eq!(meta.size, bytes.len() as u64);
        assert!(meta.index_line.deps.is_empty());
        assert_eq!((meta.index_line.features2, meta.index_line.v), (None, None));
    }

    #[test]
    fn index_line_renamed_dependency_uses_the_toml_key() {
        assert_eq!(
            deps_json("[dependencies]\nmy-rand = { package = \"rand\", version = \"0.8\" }\n"),
            json!([with(
                dep("my-rand", "^0.8", "normal"),
                "package",
                json!("rand")
            )])
        );
    }

    #[test]
    fn index_line_optional_dependency_and_legacy_default_features() {
        assert_eq!(
            deps_json(
                "[dependencies.x]\nversion = \"=1.0.3\"\noptional = true\ndefault_features = false\nfeatures = [\"a\", \"b\"]\n"
            ),
            json!([with(
                with(
                    with(dep("x", "=1.0.3", "normal"), "optional", json!(true)),
                    "default_features",
                    json!(false)
                ),
                "features",
                json!(["a", "b"])
            )])
        );
    }

    #[test]
    fn index_line_target_specific_dependencies() {
        assert_eq!(
            deps_json(
                "[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\n[target.x86_64-pc-windows-gnu.dev-dependencies]\nw = \"1\"\n[target.'cfg(unix)'.build_dependencies]\ncc = \"1\"\n"
            ),
            json!([
                with(dep("cc", "^1", "build"), "target", json!("cfg(unix)")),
                with(dep("libc", "^0.2", "normal"), "target", json!("cfg(unix)")),
                with(
                    dep("w", "^1", "dev"),
                    "target",
                    json!("x86_64-pc-windows-gnu")
                ),
            ])
        );
    }

    #[test]
    fn index_line_dev_and_build_dependencies_sort_after_normal() {
        assert_eq!(
            deps_json(
                "[dev_dependencies]\na = \">= 1.0, < 2\"\n[build-dependencies]\na = \"1\"\n[dependencies]\na = \"*\"\nb = \"~1.2.3\"\n"
            ),
            json!([
                dep("a", "*", "normal"),
                dep("a", "^1", "build"),
                dep("a", ">=1.0, <2", "dev"),
                dep("b", "~1.2.3", "normal"),
            ])
        );
    }

    #[test]
    fn index_line_splits_dep_and_weak_features_into_features2() {
        let line = inspect(
            "[dependencies]\nserde = { version = \"1\", optional = true }\n[features]\nstd = []\nderive = [\"serde?/derive\"]\nserde = [\"dep:serde\", \"std\"]\nall = [\"serde\"]\n",
        )
        .unwrap()
        .index_line;
        let map = |entries: &[(&str, &[&str])]| {
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect::<crateyard_index::FeaturesMap>()
        };
        assert_eq!(line.features, map(&[("std", &[])]));
        assert_eq!(
            line.features2,
            Some(map(&[
                ("all", &["serde"]),
                ("derive", &["serde?/derive"]),
                ("serde", &["dep:serde", "std"]),
            ]))
        );
        assert_eq!(line.v, Some(2));
    }

    #[test]
    fn index_line_keeps_plain_features_without_v2() {
        let line = inspect("[features]\ndefault = [\"a\"]\na = []\n")
            .unwrap()
            .index_line;
        assert_eq!(line.features.len(), 2);
        assert_eq!((line.features2, line.v), (None, None));
    }

    #[test]
    fn dependency_registry_maps_crates_io_and_own_urls() {
        let own = [OWN.to_string(), "https://Host.example/r/index/".to_string()];
        assert_eq!(
            dependency_registry(None, &own).as_deref(),
            Some(CRATES_IO_INDEX)
        );
        for same in [
            "http://127.0.0.1:7878/main/index",
            "sparse+http://127.0.0.1:7878/main/index/",
            "sparse+https://host.example/r/index",
        ] {
            assert_eq!(dependency_registry(Some(same), &own), None, "{same}");
        }
        for crates_io in [
            "sparse+https://index.crates.io/",
            "https://github.com/rust-lang/crates.io-index",
            "https://github.com/rust-lang/crates.io-index/",
        ] {
            assert_eq!(
                dependency_registry(Some(crates_io), &own).as_deref(),
                Some(CRATES_IO_INDEX),
                "{crates_io}"
            );
        }
        assert_eq!(
            dependency_registry(Some("sparse+https://x.example/i/"), &own).as_deref(),
            Some("sparse+https://x.example/i/")
        );
    }

    #[test]
    fn inspect_crate_rejects_a_name_mismatch() {
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file(
                "Cargo.toml",
                b"[package]\nname = \"Foo\"\nversion = \"1.0.0\"\n",
            )
            .build();
        let err =
            inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cargo.toml says name `Foo` but the upload is for `foo`"
        );
    }

    #[test]
    fn inspect_crate_rejects_a_version_mismatch() {
        let err = inspect_files(&[(
            "Cargo.toml",
            b"[package]\nname = \"foo\"\nversion = \"1.0.1\"\n",
        )])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cargo.toml says version 1.0.1 but the upload is for 1.0.0"
        );
        // Equal as semver, but not the same string.
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file(
                "Cargo.toml",
                b"[package]\nname = \"foo\"\nversion = \"1.0.0+b\"\n",
            )
            .build();
        let err =
            inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap_err();
        assert!(matches!(err, TarballError::VersionMismatch { .. }), "{err}");
    }

    #[test]
    fn inspect_crate_rejects_an_invalid_version() {
        let bytes = TarballBuilder::new("foo-1.0")
            .file(
                "Cargo.toml",
                b"[package]\nname = \"foo\"\nversion = \"1.0\"\n",
            )
            .build();
        let err = inspect_crate(&bytes, "foo", "1.0", &[], &TarballLimits::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("version `1.0` is not a valid semantic version: "),
            "{err}"
        );
    }

    #[test]
    fn inspect_crate_rejects_a_dependency_without_version() {
        let err = inspect("[dependencies]\nx = { path = \"../x\" }\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "dependency `x` has no version requirement; every dependency of a published crate needs one"
        );
    }

    #[test]
    fn inspect_crate_rejects_an_invalid_requirement() {
        let err = inspect("[dev-dependencies]\nx = \"not a req\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("dependency `x` has an invalid version requirement `not a req`: "),
            "{err}"
        );
    }

    #[test]
    fn inspect_crate_rejects_invalid_manifests() {
        let err = inspect("[dependencies\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the Cargo.toml in the .crate is invalid: line 4: "),
            "{err}"
        );
        let err = inspect_files(&[("Cargo.toml", b"[package]\nname = \"\xff\"\n")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Cargo.toml in the .crate is invalid: it is not valid UTF-8"
        );
        let err = inspect_files(&[("Cargo.toml", b"[package]\nname = \"foo\"\n")]).unwrap_err();
        assert!(matches!(err, TarballError::InvalidManifest(_)), "{err}");
    }

    #[test]
    fn inspect_crate_rejects_too_many_dependencies() {
        let deps: String = (0..501).map(|i| format!("d{i} = \"1\"\n")).collect();
        let err = inspect(&format!("[dependencies]\n{deps}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the crate declares 501 dependencies; at most 500 are allowed"
        );
        // All kinds and targets count.
        let half: String = (0..251).map(|i| format!("d{i} = \"1\"\n")).collect();
        let err = inspect(&format!(
            "[dev-dependencies]\n{half}[target.'cfg(unix)'.dependencies]\n{half}"
        ))
        .unwrap_err();
        assert!(
            matches!(err, TarballError::TooManyDependencies { count: 502, .. }),
            "{err}"
        );
    }

    #[test]
    fn inspect_crate_rejects_too_many_features() {
        let features: String = (0..301).map(|i| format!("f{i} = []\n")).collect();
        let err = inspect(&format!("[features]\n{features}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the crate declares 301 features; at most 300 are allowed"
        );
        let values: Vec<String> = (0..301).map(|i| format!("\"f{i}\"")).collect();
        let err = inspect(&format!("[features]\nbig = [{}]\n", values.join(","))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "feature `big` lists 301 entries; at most 300 are allowed"
        );
    }

    #[test]
    fn inspect_crate_rejects_an_oversized_crate_file() {
        let limits = TarballLimits {
            max_compressed: 10,
            ..TarballLimits::default()
        };
        let err = inspect_crate(&[0; 11], "foo", "1.0.0", &[], &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate is 11 bytes, over the 10 bytes limit"
        );
        let err = inspect_crate(
            &vec![0; 12 * 1024 * 1024 + 300 * 1024],
            "foo",
            "1.0.0",
            &[],
            &TarballLimits::default(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate is 12.3 MiB, over the 10 MiB limit"
        );
    }

    #[test]
    fn package_info_keeps_the_crate_page_fields() {
        let meta = inspect_files(&[
            (
                "Cargo.toml",
                manifest(
                    "edition = \"2021\"\ndescription = \"d\"\nlicense = \"MIT\"\nlicense-file = \"L\"\nrepository = \"https://r\"\nhomepage = \"https://h\"\ndocumentation = \"https://d\"\nkeywords = [\"k\"]\ncategories = [\"c\"]\nauthors = [\"a <a@x>\"]\nreadme = \"./docs/Intro.md\"\n",
                )
                .as_bytes(),
            ),
            ("README.md", b"not this"),
            ("docs/Intro.md", b"# Intro \xff"),
        ])
        .unwrap();
        assert_eq!(
            meta.package,
            PackageInfo {
                description: Some("d".into()),
                license: Some("MIT".into()),
                license_file: Some("L".into()),
                repository: Some("https://r".into()),
                homepage: Some("https://h".into()),
                documentation: Some("https://d".into()),
                readme_path: Some("docs/Intro.md".into()),
                readme: Some("# Intro \u{fffd}".into()),
                keywords: vec!["k".into()],
                categories: vec!["c".into()],
                authors: vec!["a <a@x>".into()],
                edition: Some("2021".into()),
            }
        );
        let info: PackageInfo = serde_json::from_str("{\"license\": \"MIT\"}").unwrap();
        assert_eq!(info.license.as_deref(), Some("MIT"));
    }

    #[test]
    fn package_info_readme_defaults_to_readme_md_and_can_be_off() {
        let readme = |tail: &str, files: &[(&str, &[u8])]| {
            let m = manifest(tail);
            let mut all: Vec<(&str, &[u8])> = vec![("Cargo.toml", m.as_bytes())];
            all.extend_from_slice(files);
            let p = inspect_files(&all).unwrap().package;
            (p.readme_path, p.readme)
        };
        let files: &[(&str, &[u8])] = &[("README.md", b"md"), ("README.txt", b"txt")];
        assert_eq!(
            readme("", files),
            (Some("README.md".into()), Some("md".into()))
        );
        assert_eq!(
            readme("readme = true\n", files),
            (Some("README.md".into()), Some("md".into()))
        );
        assert_eq!(readme("readme = false\n", files), (None, None));
        assert_eq!(
            readme("readme = \"README.txt\"\n", files),
            (Some("README.txt".into()), Some("txt".into()))
        );
        // Declared but not in the package.
        assert_eq!(
            readme("readme = \"README.rst\"\n", files),
            (Some("README.rst".into()), None)
        );
    }

    #[test]
    fn read_readme_finds_what_inspection_found() {
        let m = manifest("readme = \"./docs/Intro.md\"\n");
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file("Cargo.toml", m.as_bytes())
            .file("docs/Intro.md", b"# Intro")
            .file("README.md", b"other")
            .build();
        let limits = TarballLimits::default();
        let package = inspect_crate(&bytes, "foo", "1.0.0", &[], &limits)
            .unwrap()
            .package;
        let path = package.readme_path.unwrap();
        let read = |path: &str| read_readme(&bytes, "foo", "1.0.0", path, &limits).unwrap();
        assert_eq!(read(&path), package.readme);
        assert_eq!(read("README.md").as_deref(), Some("other"));
        assert_eq!(read("missing.md"), None);
        // The same checks as inspection: another package's name is refused.
        assert!(read_readme(&bytes, "bar", "1.0.0", &path, &limits).is_err());
    }
}
