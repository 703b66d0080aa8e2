//! Property tests of index lines: any line survives the file format
//! (write → read gives it back), one line per version, with crates.io's
//! field order whichever optional fields are present.

use crateyard_index::{Dependency, DependencyKind, FeaturesMap, IndexLine, write_lines};
use proptest::prelude::*;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// crates.io's key order for a version line and for a dependency.
const LINE_ORDER: &[&str] = &[
    "name",
    "vers",
    "deps",
    "cksum",
    "features",
    "features2",
    "yanked",
    "links",
    "rust_version",
    "pubtime",
    "v",
];
const DEP_ORDER: &[&str] = &[
    "name",
    "req",
    "features",
    "optional",
    "default_features",
    "target",
    "kind",
    "registry",
    "package",
];

/// Text with what JSON must escape: quotes, backslashes, newlines, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_-]{1,12}",
        any::<String>(),
        "[\"\\\\\n\t/ é😀]{0,8}"
    ]
}

fn features() -> impl Strategy<Value = FeaturesMap> {
    prop::collection::btree_map(text(), prop::collection::vec(text(), 0..4), 0..5)
}

fn dependency() -> impl Strategy<Value = Dependency> {
    (
        (text(), text(), prop::collection::vec(text(), 0..3)),
        (any::<bool>(), any::<bool>(), prop::option::of(text())),
        prop::option::of(prop_oneof![
            Just(DependencyKind::Normal),
            Just(DependencyKind::Build),
            Just(DependencyKind::Dev),
        ]),
        (prop::option::of(text()), prop::option::of(text())),
    )
        .prop_map(
            |(
                (name, req, features),
                (optional, default_features, target),
                kind,
                (registry, package),
            )| Dependency {
                name,
                req,
                features,
                optional,
                default_features,
                target,
                kind,
                registry,
                package,
            },
        )
}

fn index_line() -> impl Strategy<Value = IndexLine> {
    (
        (text(), text(), prop::collection::vec(dependency(), 0..4)),
        ("[0-9a-f]{64}", features(), prop::option::of(features())),
        (
            any::<bool>(),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        (prop::option::of(text()), prop::option::of(any::<u32>())),
    )
        .prop_map(
            |(
                (name, vers, deps),
                (cksum, features, features2),
                (yanked, links, rust_version),
                (pubtime, v),
            )| IndexLine {
                name,
                vers,
                deps,
                cksum,
                features,
                features2,
                yanked,
                links,
                rust_version,
                pubtime,
                v,
            },
        )
}

/// The keys of one JSON object, in the order they appear in the text, and
/// those of each object in its `deps` array (serde_json's `Value` would sort them).
#[derive(Default)]
struct Keys {
    keys: Vec<String>,
    deps: Vec<Keys>,
}

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut out = Keys::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "deps" {
                        out.deps = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    out.keys.push(key);
                }
                Ok(out)
            }
        }
        d.deserialize_map(KeysVisitor)
    }
}

/// The keys appear in the reference order (optional ones may be absent).
fn in_reference_order(keys: &[String], order: &[&str]) -> bool {
    let positions: Option<Vec<usize>> = keys
        .iter()
        .map(|k| order.iter().position(|o| o == k))
        .collect();
    positions.is_some_and(|p| p.windows(2).all(|w| w[0] < w[1]))
}

proptest! {
    #[test]
    fn index_files_round_trip(lines in prop::collection::vec(index_line(), 0..6)) {
        let file = write_lines(&lines);
        let text = String::from_utf8(file).expect("index files are UTF-8");
        prop_assert_eq!(text.matches('\n').count(), lines.len(), "one line per version");
        let parsed: Vec<IndexLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        prop_assert_eq!(parsed, lines);
    }

    #[test]
    fn fields_come_in_crates_io_order(line in index_line()) {
        let json = String::from_utf8(write_lines([&line])).unwrap();
        let Keys { keys, deps } = serde_json::from_str(&json).unwrap();
        prop_assert!(in_reference_order(&keys, LINE_ORDER), "{:?}", keys);
        // The required fields are always there; optional ones only when set.
        for required in ["name", "vers", "deps", "cksum", "features", "yanked"] {
            prop_assert!(keys.iter().any(|k| k == required), "{} missing", required);
        }
        prop_assert_eq!(keys.iter().any(|k| k == "v"), line.v.is_some());
        prop_assert_eq!(keys.iter().any(|k| k == "features2"), line.features2.is_some());
        prop_assert_eq!(deps.len(), line.deps.len());
        for (dep, keys) in line.deps.iter().zip(&deps) {
            prop_assert!(in_reference_order(&keys.keys, DEP_ORDER), "{:?}", keys.keys);
            prop_assert_eq!(keys.keys.iter().any(|k| k == "registry"), dep.registry.is_some());
            prop_assert_eq!(keys.keys.iter().any(|k| k == "package"), dep.package.is_some());
        }
    }
}

#[test]
fn the_order_check_rejects_a_swapped_order() {
    // Guards the property above against a checker that accepts anything.
    let swapped = ["vers".to_string(), "name".to_string()];
    assert!(!in_reference_order(&swapped, LINE_ORDER));
    assert!(!in_reference_order(&["unknown".to_string()], LINE_ORDER));
}
