//! Metadata calculation against crates.io itself: for real `.crate` files
//! from crates.io, the computed index line must equal crates.io's line,
//! except `pubtime` (the publish time is the registry's) and the `registry`
//! of dependencies on crates.io, which any other registry must spell out.

use crateyard_index::CRATES_IO_INDEX;
use crateyard_tarball::{TarballLimits, inspect_crate};
use serde_json::Value;
use std::path::Path;

fn check(fixture: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let bytes = std::fs::read(dir.join(format!("{fixture}.crate"))).unwrap();
    let (name, version) = fixture.rsplit_once('-').unwrap();
    let inspected = inspect_crate(&bytes, name, version, &[], &TarballLimits::default()).unwrap();
    // Every fixture has `readme = "README.md"` and a description.
    let package = &inspected.package;
    assert_eq!(
        package.readme_path.as_deref(),
        Some("README.md"),
        "{fixture}"
    );
    assert!(
        package.readme.as_ref().is_some_and(|r| !r.is_empty()),
        "{fixture}"
    );
    assert!(package.description.is_some(), "{fixture}");
    assert_eq!(inspected.size, bytes.len() as u64);
    let mut ours = serde_json::to_value(&inspected.index_line).unwrap();

    let mut theirs: Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{fixture}.json"))).unwrap())
            .unwrap();
    let theirs_map = theirs.as_object_mut().unwrap();
    theirs_map.remove("pubtime");
    for dep in theirs_map["deps"].as_array_mut().unwrap() {
        let dep = dep.as_object_mut().unwrap();
        assert!(dep.get("registry").is_none());
        dep.insert("registry".into(), CRATES_IO_INDEX.into());
    }
    ours.as_object_mut().unwrap().remove("pubtime");
    assert_eq!(ours, theirs, "{fixture}");
}

#[test]
fn fidelity_semver_renamed_target_and_dep_features() {
    check("semver-1.0.28");
}

#[test]
fn fidelity_getrandom_target_specific_optional_deps() {
    check("getrandom-0.4.3");
}

#[test]
fn fidelity_deranged_exact_requirements_and_features2() {
    check("deranged-0.5.9");
}

#[test]
fn fidelity_nu_ansi_term_renamed_dependency() {
    check("nu-ansi-term-0.50.3");
}
