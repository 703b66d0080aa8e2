use crate::FeaturesMap;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The URL by which an index line names crates.io as a dependency's registry.
pub const CRATES_IO_INDEX: &str = "https://github.com/rust-lang/crates.io-index";

/// One version of a crate as the sparse index describes it. The field order
/// and the omitted-when-empty fields follow crates.io's index byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexLine {
    pub name: String,
    pub vers: String,
    pub deps: Vec<Dependency>,
    pub cksum: String,
    pub features: FeaturesMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features2: Option<FeaturesMap>,
    pub yanked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust_version: Option<String>,
    /// Publication time, RFC 3339 in UTC with seconds precision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    /// The name the depending crate uses (the key in its `Cargo.toml`).
    pub name: String,
    pub req: String,
    pub features: Vec<String>,
    pub optional: bool,
    pub default_features: bool,
    pub target: Option<String>,
    pub kind: Option<DependencyKind>,
    /// Index URL of the registry the dependency comes from; absent means
    /// "this same registry".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The real package name when the dependency is renamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    Normal,
    Build,
    Dev,
}

impl PartialOrd for Dependency {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// crates.io's order: by name, then kind (normal first, which old cargo
/// versions rely on when a dependency appears twice), then the rest.
impl Ord for Dependency {
    fn cmp(&self, other: &Self) -> Ordering {
        let key = |d: &Self| {
            (
                d.name.clone(),
                d.kind,
                d.req.clone(),
                d.optional,
                d.default_features,
                d.target.clone(),
                d.package.clone(),
                d.features.clone(),
                d.registry.clone(),
            )
        };
        key(self).cmp(&key(other))
    }
}

/// Writes index lines as the file cargo reads: one JSON object per line,
/// each ending in `\n`.
pub fn write_lines<'a>(lines: impl IntoIterator<Item = &'a IndexLine>) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, line).expect("index lines always serialize");
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> IndexLine {
        IndexLine {
            name: "foo".into(),
            vers: "1.0.0".into(),
            deps: vec![Dependency {
                name: "bar".into(),
                req: "^1".into(),
                features: vec![],
                optional: false,
                default_features: true,
                target: None,
                kind: Some(DependencyKind::Normal),
                registry: None,
                package: None,
            }],
            cksum: "ab".into(),
            features: FeaturesMap::new(),
            features2: None,
            yanked: false,
            links: None,
            rust_version: None,
            pubtime: None,
            v: None,
        }
    }

    #[test]
    fn write_lines_matches_crates_io_bytes() {
        let bytes = write_lines([&line(), &line()]);
        let one = r#"{"name":"foo","vers":"1.0.0","deps":[{"name":"bar","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"ab","features":{},"yanked":false}"#;
        assert_eq!(String::from_utf8(bytes).unwrap(), format!("{one}\n{one}\n"));
    }

    #[test]
    fn index_line_round_trips_with_optional_fields() {
        let mut l = line();
        l.links = Some("z".into());
        l.rust_version = Some("1.70".into());
        l.pubtime = Some("2024-01-01T00:00:00Z".into());
        l.v = Some(2);
        l.features2 = Some(FeaturesMap::from([("a".into(), vec!["dep:bar".into()])]));
        l.deps[0].registry = Some(CRATES_IO_INDEX.into());
        let text = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<IndexLine>(&text).unwrap(), l);
    }

    #[test]
    fn dependency_order_puts_normal_before_dev() {
        let mut dev = line().deps[0].clone();
        dev.kind = Some(DependencyKind::Dev);
        let normal = line().deps[0].clone();
        let mut deps = vec![dev.clone(), normal.clone()];
        deps.sort();
        assert_eq!(deps, vec![normal, dev]);
    }
}
