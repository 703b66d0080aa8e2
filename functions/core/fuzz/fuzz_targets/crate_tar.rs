//! The tar layer under valid gzip: the input is the tar archive, wrapped in
//! gzip here, so the fuzzer mutates entries and headers rather than the
//! deflate stream (which `crate_file` covers).
#![no_main]

use crateyard_tarball::{TarballLimits, inspect_crate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|tar: &[u8]| {
    let _ = inspect_crate(
        &gzip_stored(tar),
        "semver",
        "1.0.28",
        &[],
        &TarballLimits::default(),
    );
});

/// `data` as one gzip member (RFC 1952) of stored deflate blocks (RFC 1951,
/// 3.2.4): valid gzip with nothing compressed. flate2 even at level 0 runs
/// its compressor over every byte, which took four fifths of each execution
/// in this target, where deflate is not what is tested.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    const MAX_STORED: usize = u16::MAX as usize;
    let mut out = Vec::with_capacity(data.len() + data.len() / MAX_STORED * 5 + 23);
    // ID1 ID2, deflate, no flags, no mtime, no extra flags, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut blocks = data.chunks(MAX_STORED).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        // BFINAL on the last block, BTYPE 00 (stored), then byte-aligned.
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}
