//! The tar layer under valid gzip: the input is the tar archive, gzipped
//! here, so the fuzzer mutates entries and headers rather than the deflate
//! stream (which `crate_file` covers).
#![no_main]

use crateyard_tarball::{TarballLimits, inspect_crate};
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|tar: &[u8]| {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(tar).expect("writes to a Vec succeed");
    let crate_file = gz.finish().expect("writes to a Vec succeed");
    let _ = inspect_crate(
        &crate_file,
        "semver",
        "1.0.28",
        &[],
        &TarballLimits::default(),
    );
});
