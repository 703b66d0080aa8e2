//! `PUT /api/v1/crates/new` bodies: any bytes must give a frame or a typed
//! error, never a panic or an allocation sized by an untrusted length.
#![no_main]

use bytes::Bytes;
use crateyard_core::{RegistryError, parse_publish_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_publish_frame(Bytes::copy_from_slice(data)) {
        Ok((_, tarball)) => assert!(tarball.len() <= data.len()),
        Err(RegistryError::BadFrame(_)) => {}
        Err(other) => panic!("not a frame error: {other:?}"),
    }
});
