//! The parts of a normalized `Cargo.toml` (as `cargo package` writes it)
//! that the index and the crate page need.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

pub(crate) type DepsTable = BTreeMap<String, TomlDependency>;

#[derive(Debug, Deserialize)]
pub(crate) struct Manifest {
    /// `[project]` is what very old manifests call it.
    #[serde(alias = "project")]
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

/// `name = "1.0"` or `name = { version = "1.0", ... }`.
#[derive(Debug)]
pub(crate) enum TomlDependency {
    Version(String),
    Detailed(DetailedDependency),
}

/// By hand rather than `#[serde(untagged)]`, whose error ("data did not
/// match any variant") would tell the publisher nothing.
impl<'de> Deserialize<'de> for TomlDependency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DependencyVisitor;
        impl<'de> Visitor<'de> for DependencyVisitor {
            type Value = TomlDependency;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a version requirement like \"1.0\" or a table like { version = \"1.0\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TomlDependency::Version(v.into()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                DetailedDependency::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(TomlDependency::Detailed)
            }
        }
        deserializer.deserialize_any(DependencyVisitor)
    }
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

/// Just enough of a manifest to know which file is its README.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReadmeOnly {
    #[serde(alias = "project")]
    pub package: ReadmeField,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReadmeField {
    pub readme: Option<Readme>,
}

/// Parses a manifest, with errors that point at the line.
pub(crate) fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, String> {
    toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => {
            let line = text[..span.start].matches('\n').count() + 1;
            format!("line {line}: {}", e.message().trim_end())
        }
        None => e.message().trim_end().to_string(),
    })
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

    #[test]
    fn manifest_accepts_a_legacy_project_table() {
        let manifest: Manifest = parse(
            "[project]\nname = \"x\"\nversion = \"0.1.0\"\n[build_dependencies]\ngcc = \"*\"\n",
        )
        .unwrap();
        assert_eq!(manifest.package.name, "x");
        assert!(manifest.build_dependencies.contains_key("gcc"));
    }

    #[test]
    fn manifest_errors_name_the_line_and_the_expected_form() {
        let err = parse::<Manifest>(
            "[package]\nname = \"x\"\nversion = \"1.0.0\"\n[dependencies]\nserde = 1\n",
        )
        .unwrap_err();
        assert!(err.starts_with("line 5: "), "{err}");
        assert!(err.contains("a version requirement like"), "{err}");
    }

    #[test]
    fn readme_only_reads_just_the_readme_field() {
        let r: ReadmeOnly =
            parse("[package]\nreadme = \"docs/intro.md\"\n[whatever]\nx = 1\n").unwrap();
        assert!(matches!(r.package.readme, Some(Readme::Path(p)) if p == "docs/intro.md"));
        let r: ReadmeOnly = parse("").unwrap();
        assert!(r.package.readme.is_none());
    }
}
