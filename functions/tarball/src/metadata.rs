//! Metadata calculation: from a checked tarball to the index line and the
//! package facts a crate page shows, computed as crates.io computes them.

use crate::TarballError;
use crate::archive::{ArchiveContents, read_archive};
use crate::limits::{TarballLimits, human_size};
use crate::manifest::{DepsTable, Manifest, Readme};
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

/// Index URLs that name crates.io in a `registry-index` field.
const CRATES_IO_ALIASES: &[&str] = &[
    "https://github.com/rust-lang/crates.io-index",
    "https://index.crates.io",
];

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
            size,
            limit: human_size(limits.max_compressed),
        });
    }
    let ArchiveContents { manifest, readmes } =
        read_archive(crate_bytes, &format!("{name}-{version}"), limits)?;
    let manifest =
        std::str::from_utf8(&manifest).map_err(|e| TarballError::InvalidManifest(e.to_string()))?;
    let manifest: Manifest = toml::from_str(manifest)
        .map_err(|e| TarballError::InvalidManifest(e.message().to_string()))?;
    let package = &manifest.package;
    if package.name != name {
        return Err(TarballError::NameMismatch {
            manifest: package.name.clone(),
            expected: name.into(),
        });
    }
    if package.version != version {
        return Err(TarballError::VersionMismatch {
            manifest: package.version.clone(),
            expected: version.into(),
        });
    }
    check_feature_limits(&manifest, limits)?;
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
        Some(Readme::Path(path)) => Some(path.trim_start_matches("./").to_string()),
        Some(Readme::Enabled(false)) => None,
        Some(Readme::Enabled(true)) | None => ["README.md", "README.txt", "README"]
            .into_iter()
            .find(|candidate| readmes.iter().any(|(path, _)| path == candidate))
            .map(str::to_string),
    };
    let readme = readme_path.as_ref().and_then(|wanted| {
        readmes
            .into_iter()
            .find(|(path, _)| path == wanted)
            .map(|(_, bytes)| String::from_utf8_lossy(&bytes).into_owned())
    });
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

    const OWN: &str = "sparse+http://127.0.0.1:7878/main/index/";

    fn inspect(manifest_tail: &str) -> Result<CrateMetadata, TarballError> {
        let manifest = format!(
            "[package]\nname = \"foo\"\nversion = \"1.0.0\"\ndescription = \"d\"\nreadme = \"README.md\"\n{manifest_tail}"
        );
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file("Cargo.toml", manifest.as_bytes())
            .file("README.md", b"# Foo")
            .build();
        inspect_crate(
            &bytes,
            "foo",
            "1.0.0",
            &[OWN.into()],
            &TarballLimits::default(),
        )
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
        let expected = serde_json::json!({
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
        assert_eq!(meta.package.description.as_deref(), Some("d"));
        assert_eq!(meta.package.readme.as_deref(), Some("# Foo"));
    }

    #[test]
    fn inspect_crate_rejects_name_and_version_mismatches() {
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file(
                "Cargo.toml",
                b"[package]\nname = \"bar\"\nversion = \"1.0.0\"\n",
            )
            .build();
        let err =
            inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cargo.toml says name `bar` but the upload is for `foo`"
        );
        let bytes = TarballBuilder::new("foo-1.0.0")
            .file(
                "Cargo.toml",
                b"[package]\nname = \"foo\"\nversion = \"1.0.1\"\n",
            )
            .build();
        let err =
            inspect_crate(&bytes, "foo", "1.0.0", &[], &TarballLimits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cargo.toml says version 1.0.1 but the upload is for 1.0.0"
        );
    }

    #[test]
    fn inspect_crate_rejects_bad_dependencies_and_manifests() {
        let err = inspect("[dependencies]\nx = { path = \"../x\" }\n").unwrap_err();
        assert!(matches!(err, TarballError::MissingRequirement(_)), "{err}");
        let err = inspect("[dependencies]\nx = \"not a req\"\n").unwrap_err();
        assert!(
            matches!(err, TarballError::InvalidRequirement { .. }),
            "{err}"
        );
        let err = inspect("[dependencies\n").unwrap_err();
        assert!(matches!(err, TarballError::InvalidManifest(_)), "{err}");
    }

    #[test]
    fn inspect_crate_enforces_counts_and_size() {
        let deps: String = (0..501).map(|i| format!("d{i} = \"1\"\n")).collect();
        let err = inspect(&format!("[dependencies]\n{deps}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the crate declares 501 dependencies; at most 500 are allowed"
        );
        let features: String = (0..301).map(|i| format!("f{i} = []\n")).collect();
        let err = inspect(&format!("[features]\n{features}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the crate declares 301 features; at most 300 are allowed"
        );
        let values: Vec<String> = (0..301).map(|i| format!("\"f{i}\"")).collect();
        let err = inspect(&format!("[features]\nbig = [{}]\n", values.join(","))).unwrap_err();
        assert!(matches!(err, TarballError::FeatureTooLong { .. }), "{err}");
        let limits = TarballLimits {
            max_compressed: 10,
            ..TarballLimits::default()
        };
        let err = inspect_crate(&[0; 11], "foo", "1.0.0", &[], &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the .crate is 11 bytes, over the 10 bytes limit"
        );
    }

    #[test]
    fn dependency_registry_maps_crates_io_and_own_urls() {
        let own = [OWN.to_string()];
        assert_eq!(
            dependency_registry(None, &own).as_deref(),
            Some(CRATES_IO_INDEX)
        );
        assert_eq!(
            dependency_registry(Some("http://127.0.0.1:7878/main/index"), &own),
            None
        );
        assert_eq!(
            dependency_registry(Some("sparse+https://index.crates.io/"), &own).as_deref(),
            Some(CRATES_IO_INDEX)
        );
        assert_eq!(
            dependency_registry(Some("https://x.example/i/"), &own).as_deref(),
            Some("https://x.example/i/")
        );
    }
}
