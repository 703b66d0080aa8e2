//! Property tests of the pure rules in core: crate names, version identity
//! and the publish frame. Each property is checked against an independent
//! model written from DESIGN.md, not against the code's own helpers.

use bytes::Bytes;
use crateyard_core::{CrateName, RegistryError, canonical_name, parse_publish_frame, version_key};
use proptest::prelude::*;
use semver::Version;
use std::cmp::Ordering;

/// Names as cargo users write them: mostly valid, sometimes not.
fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,70}",
        // Around the length limit, where an off-by-one would hide.
        "[a-zA-Z][a-zA-Z0-9_-]{61,66}",
        "[a-zA-Z0-9_. äÄ/-]{0,70}",
        any::<String>(),
    ]
}

/// The same crate spelled differently: random case and `-`/`_` swaps.
fn respell(name: &str, flips: &[bool]) -> String {
    name.chars()
        .zip(flips.iter().cycle())
        .map(|(c, &flip)| match (c, flip) {
            ('-', true) => '_',
            ('_', true) => '-',
            (c, true) if c.is_ascii_lowercase() => c.to_ascii_uppercase(),
            (c, true) => c.to_ascii_lowercase(),
            (c, false) => c,
        })
        .collect()
}

/// DESIGN.md's rule, written independently of `CrateName::new`.
fn valid_by_the_rules(name: &str) -> bool {
    let reserved = [
        "alloc",
        "core",
        "proc_macro",
        "std",
        "test",
        "con",
        "prn",
        "aux",
        "nul",
    ];
    let folded = name.to_lowercase().replace('-', "_");
    let windows_device = (folded.starts_with("com") || folded.starts_with("lpt"))
        && folded.len() == 4
        && matches!(folded.as_bytes()[3], b'1'..=b'9');
    name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !reserved.contains(&folded.as_str())
        && !windows_device
}

proptest! {
    #[test]
    fn canonical_form_is_idempotent(name in name_like()) {
        let once = canonical_name(&name);
        prop_assert_eq!(canonical_name(&once), once.clone());
        prop_assert!(!once.contains('-'));
        prop_assert!(!once.chars().any(|c| c.is_ascii_uppercase()));
    }

    #[test]
    fn spellings_differing_in_case_or_dashes_collide(
        name in "[a-zA-Z][a-zA-Z0-9_-]{0,63}",
        flips in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let other = respell(&name, &flips);
        prop_assert_eq!(canonical_name(&name), canonical_name(&other));
        // Validity does not depend on the spelling either.
        prop_assert_eq!(CrateName::new(&name).is_ok(), CrateName::new(&other).is_ok());
    }

    #[test]
    fn different_canonical_forms_mean_different_names(
        a in "[a-z][a-z0-9_]{0,10}",
        b in "[a-z][a-z0-9_]{0,10}",
    ) {
        prop_assert_eq!(a == b, canonical_name(&a) == canonical_name(&b));
    }

    #[test]
    fn names_are_valid_exactly_by_the_rules(name in name_like()) {
        match CrateName::new(&name) {
            Ok(valid) => {
                prop_assert!(valid_by_the_rules(&name), "accepted {:?}", name);
                prop_assert_eq!(valid.as_str(), name.as_str());
                prop_assert_eq!(valid.canonical(), canonical_name(&name));
            }
            Err(RegistryError::InvalidName { name: rejected, .. }) => {
                prop_assert!(!valid_by_the_rules(&name), "rejected {:?}", name);
                prop_assert_eq!(rejected, name);
            }
            Err(other) => prop_assert!(false, "not a typed name error: {other:?}"),
        }
    }
}

/// Semver versions with pre-releases and build metadata, parsed by the
/// `semver` crate (what cargo uses). Small ranges, so that equal numbers
/// and pre-releases with different build metadata come up often.
fn version() -> impl Strategy<Value = Version> {
    let ident = prop_oneof![
        "[0-9A-Za-z-]{1,6}",
        Just("rc".to_string()),
        Just("1".to_string())
    ];
    (
        0u64..2,
        0u64..3,
        0u64..2,
        prop::option::of(prop::collection::vec(ident.clone(), 1..3)),
        prop::option::of(prop::collection::vec(ident, 1..3)),
    )
        .prop_filter_map("valid semver", |(major, minor, patch, pre, build)| {
            let mut text = format!("{major}.{minor}.{patch}");
            if let Some(pre) = pre {
                text += &format!("-{}", pre.join("."));
            }
            if let Some(build) = build {
                text += &format!("+{}", build.join("."));
            }
            Version::parse(&text).ok()
        })
}

proptest! {
    /// Two versions are the same version exactly when semver precedence
    /// (which ignores build metadata) says they are equal.
    #[test]
    fn version_key_is_semver_identity(a in version(), b in version()) {
        let same_key = version_key(&a) == version_key(&b);
        prop_assert_eq!(same_key, a.cmp_precedence(&b) == Ordering::Equal, "{} vs {}", a, b);
    }

    #[test]
    fn build_metadata_never_makes_another_version(
        v in version(),
        build in prop::option::of("[0-9A-Za-z]{1,8}"),
    ) {
        let mut other = v.clone();
        other.build = match build {
            Some(b) => semver::BuildMetadata::new(&b).unwrap(),
            None => semver::BuildMetadata::EMPTY,
        };
        prop_assert_eq!(version_key(&v), version_key(&other));
    }

    #[test]
    fn version_key_parses_back_to_the_same_precedence(v in version()) {
        let key = Version::parse(&version_key(&v)).unwrap();
        prop_assert!(key.build.is_empty());
        prop_assert_eq!(key.cmp_precedence(&v), Ordering::Equal);
    }
}

fn frame(json: &[u8], tarball: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend((json.len() as u32).to_le_bytes());
    out.extend(json);
    out.extend((tarball.len() as u32).to_le_bytes());
    out.extend(tarball);
    out
}

fn metadata_json(name: &str, vers: &str, deps: &[(String, String, bool)]) -> Vec<u8> {
    let deps: Vec<_> = deps
        .iter()
        .map(|(name, req, optional)| {
            serde_json::json!({"name": name, "version_req": req, "optional": optional, "kind": "normal"})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"name": name, "vers": vers, "deps": deps})).unwrap()
}

fn is_bad_frame(result: Result<impl std::fmt::Debug, RegistryError>) -> bool {
    matches!(result, Err(RegistryError::BadFrame(_)))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        // Any answer is fine as long as it is an answer; an error is a frame error.
        if let Err(e) = parse_publish_frame(Bytes::from(body)) {
            prop_assert!(matches!(e, RegistryError::BadFrame(_)), "{e:?}");
        }
    }

    #[test]
    fn arbitrary_lengths_around_real_chunks_never_panic(
        json_len in any::<u32>(),
        crate_len in any::<u32>(),
        filler in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut body = json_len.to_le_bytes().to_vec();
        body.extend(&filler);
        body.extend(crate_len.to_le_bytes());
        body.extend(&filler);
        let _ = parse_publish_frame(Bytes::from(body));
    }

    #[test]
    fn well_formed_frames_round_trip(
        name in "[a-zA-Z][a-zA-Z0-9_-]{0,20}",
        vers in "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        deps in prop::collection::vec(("[a-z][a-z0-9_]{0,10}", "\\^[0-9]\\.[0-9]", any::<bool>()), 0..5),
        tarball in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let body = frame(&metadata_json(&name, &vers, &deps), &tarball);
        let (meta, crate_bytes) = parse_publish_frame(Bytes::from(body)).unwrap();
        prop_assert_eq!(&meta.name, &name);
        prop_assert_eq!(&meta.vers, &vers);
        let got: Vec<_> = meta.deps.iter().map(|d| (d.name.clone(), d.version_req.clone(), d.optional)).collect();
        prop_assert_eq!(got, deps);
        prop_assert!(meta.deps.iter().all(|d| d.default_features), "default_features defaults to true");
        prop_assert_eq!(&crate_bytes[..], &tarball[..]);
    }

    #[test]
    fn truncated_frames_are_frame_errors(
        tarball in prop::collection::vec(any::<u8>(), 0..256),
        cut in any::<prop::sample::Index>(),
    ) {
        let body = frame(&metadata_json("foo", "1.0.0", &[]), &tarball);
        let cut = cut.index(body.len());
        prop_assert!(is_bad_frame(parse_publish_frame(Bytes::from(body[..cut].to_vec()))));
    }

    #[test]
    fn lengths_past_the_end_and_trailing_bytes_are_frame_errors(
        tarball in prop::collection::vec(any::<u8>(), 0..256),
        excess in 1u32..=u32::MAX / 2,
        trailing in prop::collection::vec(any::<u8>(), 1..16),
        in_json in any::<bool>(),
    ) {
        let json = metadata_json("foo", "1.0.0", &[]);
        let mut body = frame(&json, &tarball);
        // Claim more bytes than follow, in either length field.
        let at = if in_json { 0 } else { 4 + json.len() };
        let claimed = u32::from_le_bytes(body[at..at + 4].try_into().unwrap()).saturating_add(excess);
        body[at..at + 4].copy_from_slice(&claimed.to_le_bytes());
        prop_assert!(is_bad_frame(parse_publish_frame(Bytes::from(body))));

        let mut body = frame(&json, &tarball);
        body.extend(&trailing);
        prop_assert!(is_bad_frame(parse_publish_frame(Bytes::from(body))));
    }
}
