use std::collections::BTreeMap;

pub type FeaturesMap = BTreeMap<String, Vec<String>>;

/// Splits features as crates.io does: those using the newer syntax (`dep:`,
/// `?/`), and those enabling such features, go to `features2` so that cargo
/// older than 1.60 can still read the `features` map.
pub fn split_features(features: FeaturesMap) -> (FeaturesMap, FeaturesMap) {
    let uses_new_syntax = |v: &String| v.starts_with("dep:") || v.contains("?/");
    let (mut plain, mut extended): (FeaturesMap, FeaturesMap) = features
        .into_iter()
        .partition(|(_, values)| !values.iter().any(uses_new_syntax));
    // A feature enabling an extended one is extended too; each pass moves at
    // least one, so the loop ends after at most `plain.len()` passes.
    loop {
        let (keep, moved): (FeaturesMap, FeaturesMap) = plain
            .into_iter()
            .partition(|(_, values)| !values.iter().any(|v| extended.contains_key(v)));
        plain = keep;
        if moved.is_empty() {
            return (plain, extended);
        }
        extended.extend(moved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &[&str])]) -> FeaturesMap {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn split_features_moves_dep_and_weak_syntax_and_their_users() {
        let (plain, extended) = split_features(map(&[
            ("a", &["dep:x"]),
            ("b", &["y?/std"]),
            ("c", &["a"]),
            ("d", &["c"]),
            ("e", &["std"]),
            ("std", &[]),
        ]));
        assert_eq!(plain, map(&[("e", &["std"]), ("std", &[])]));
        assert_eq!(
            extended,
            map(&[
                ("a", &["dep:x"]),
                ("b", &["y?/std"]),
                ("c", &["a"]),
                ("d", &["c"])
            ])
        );
    }
}
