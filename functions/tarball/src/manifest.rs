//! The parts of a normalized `Cargo.toml` (as `cargo package` writes it)
//! that the index and the crate page need.

use serde::Deserialize;
use std::collections::BTreeMap;

pub(crate) type DepsTable = BTreeMap<String, TomlDependency>;

#[derive(Debug, Deserialize)]
pub(crate) struct Manifest {
    pub package: Package,
    #[serde(default)]
    pub dependencies: DepsTable,
    #[serde(default, rename = "dev-dependencies", alias = "dev_dependencies")]
    pub dev_dependencies: DepsTable,
    #[serde(default, rename = "build-dependencies", alias = "build_dependencies")]
    pub build_dependencies: DepsTable,
    #[serde(default)]
    pub target: BTreeMap<String, TargetTables>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TargetTables {
    #[serde(default)]
    pub dependencies: DepsTable,
    #[serde(default, rename = "dev-dependencies", alias = "dev_dependencies")]
    pub dev_dependencies: DepsTable,
    #[serde(default, rename = "build-dependencies", alias = "build_dependencies")]
    pub build_dependencies: DepsTable,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct Package {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    pub license: Option<String>,
    pub license_file: Option<String>,
    pub repository: Option<String>,
    pub homepage: Option<String>,
    pub documentation: Option<String>,
    pub readme: Option<Readme>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    pub edition: Option<String>,
    pub links: Option<String>,
    pub rust_version: Option<String>,
}

/// `readme = "path"` or `readme = false`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Readme {
    Path(String),
    Enabled(bool),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TomlDependency {
    Version(String),
    Detailed(DetailedDependency),
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DetailedDependency {
    pub version: Option<String>,
    pub features: Option<Vec<String>>,
    pub optional: Option<bool>,
    #[serde(rename = "default-features", alias = "default_features")]
    pub default_features: Option<bool>,
    pub package: Option<String>,
    #[serde(rename = "registry-index")]
    pub registry_index: Option<String>,
}

impl TomlDependency {
    pub fn detail(&self) -> (Option<&str>, Option<&DetailedDependency>) {
        match self {
            Self::Version(v) => (Some(v), None),
            Self::Detailed(d) => (d.version.as_deref(), Some(d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_parses_normalized_and_legacy_tables() {
        let manifest: Manifest = toml::from_str(
            r#"
            [package]
            name = "x"
            version = "1.0.0"
            readme = false
            [dependencies.a]
            version = "1"
            default_features = false
            [dev_dependencies]
            b = "2"
            [target."cfg(unix)".build-dependencies]
            c = { version = "3", package = "real-c" }
            "#,
        )
        .unwrap();
        assert!(matches!(
            manifest.package.readme,
            Some(Readme::Enabled(false))
        ));
        let (_, a) = manifest.dependencies["a"].detail();
        assert_eq!(a.unwrap().default_features, Some(false));
        assert!(matches!(&manifest.dev_dependencies["b"], TomlDependency::Version(v) if v == "2"));
        let (_, c) = manifest.target["cfg(unix)"].build_dependencies["c"].detail();
        assert_eq!(c.unwrap().package.as_deref(), Some("real-c"));
    }
}
