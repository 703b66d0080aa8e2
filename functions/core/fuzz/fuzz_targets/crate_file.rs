//! Uploaded `.crate` bytes as they arrive, for any name and version the
//! request claims: any bytes must be accepted or rejected with a
//! `TarballError`, never panic, hang or exhaust memory.
//!
//! Input: a selector byte; 0 keeps the seeds' own name and version
//! (tests/data's semver 1.0.28, so mutations get past the path checks into
//! the manifest), anything else takes a name and a version from the input.
#![no_main]

use crateyard_tarball::{TarballLimits, inspect_crate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (name, version, crate_file) = if selector == 0 {
        ("semver".to_string(), "1.0.28".to_string(), rest)
    } else {
        let name_len = usize::from(selector % 40).min(rest.len());
        let (name, rest) = rest.split_at(name_len);
        let Some((&version_len, rest)) = rest.split_first() else {
            return;
        };
        let (version, rest) = rest.split_at(usize::from(version_len % 40).min(rest.len()));
        (
            String::from_utf8_lossy(name).into_owned(),
            String::from_utf8_lossy(version).into_owned(),
            rest,
        )
    };
    let _ = inspect_crate(crate_file, &name, &version, &[], &TarballLimits::default());
});
