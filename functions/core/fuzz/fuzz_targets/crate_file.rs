//! Uploaded `.crate` bytes as they arrive: any bytes must be accepted or
//! rejected with a `TarballError`, never panic, hang or exhaust memory.
#![no_main]

use crateyard_tarball::{TarballLimits, inspect_crate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The name and version of one seed (tests/data), so mutations of it get
    // past the path checks into the manifest.
    let _ = inspect_crate(data, "semver", "1.0.28", &[], &TarballLimits::default());
});
