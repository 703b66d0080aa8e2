//! The body of `PUT /api/v1/crates/new`: a little-endian u32 length and the
//! JSON metadata, then a u32 length and the `.crate` bytes.

use crate::RegistryError;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::BTreeMap;

/// What cargo declares about the crate. Only a claim: it is cross-checked
/// against the tarball's `Cargo.toml`, which is the truth.
#[derive(Debug, Clone, Deserialize)]
pub struct PublishMetadata {
    pub name: String,
    pub vers: String,
    #[serde(default)]
    pub deps: Vec<PublishDependency>,
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub links: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PublishDependency {
    /// The real package name.
    pub name: String,
    pub version_req: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default = "yes")]
    pub default_features: bool,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub registry: Option<String>,
    /// The name used in `Cargo.toml` when the dependency is renamed.
    #[serde(default)]
    pub explicit_name_in_toml: Option<String>,
}

fn yes() -> bool {
    true
}

/// Splits a publish body into its metadata and `.crate` bytes.
pub fn parse_publish_frame(body: Bytes) -> Result<(PublishMetadata, Bytes), RegistryError> {
    let mut rest = body;
    let json = take_chunk(&mut rest, "metadata")?;
    let tarball = take_chunk(&mut rest, ".crate")?;
    if !rest.is_empty() {
        let n = rest.len();
        return Err(RegistryError::BadFrame(format!(
            "{n} unexpected byte{} after the .crate; the body must end with it",
            if n == 1 { "" } else { "s" }
        )));
    }
    let metadata = serde_json::from_slice(&json).map_err(|e| {
        RegistryError::BadFrame(if e.is_data() {
            format!("the metadata is JSON but not cargo's publish metadata: {e}")
        } else {
            format!("the metadata is not valid JSON: {e}")
        })
    })?;
    Ok((metadata, tarball))
}

fn take_chunk(rest: &mut Bytes, what: &str) -> Result<Bytes, RegistryError> {
    if rest.len() < 4 {
        return Err(RegistryError::BadFrame(format!(
            "the body ends before the length of the {what}"
        )));
    }
    let len_bytes = rest.split_to(4);
    let len = u32::from_le_bytes(len_bytes[..].try_into().expect("4 bytes")) as usize;
    if len > rest.len() {
        return Err(RegistryError::BadFrame(format!(
            "the {what} is said to be {len} bytes but only {} follow",
            rest.len()
        )));
    }
    Ok(rest.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(json: &[u8], tarball: &[u8]) -> Bytes {
        let mut out = Vec::new();
        out.extend((json.len() as u32).to_le_bytes());
        out.extend(json);
        out.extend((tarball.len() as u32).to_le_bytes());
        out.extend(tarball);
        out.into()
    }

    const JSON: &[u8] = br#"{"name":"foo","vers":"1.0.0","deps":[{"name":"bar","version_req":"^1","kind":"normal"}]}"#;

    #[test]
    fn parse_publish_frame_splits_metadata_and_crate() {
        let (meta, tarball) = parse_publish_frame(frame(JSON, b"TAR")).unwrap();
        assert_eq!((meta.name.as_str(), meta.vers.as_str()), ("foo", "1.0.0"));
        assert!(meta.deps[0].default_features);
        assert_eq!(&tarball[..], b"TAR");
    }

    #[test]
    fn parse_publish_frame_rejects_truncated_bodies() {
        let full = frame(JSON, b"TAR");
        for cut in [0, 3, 10, JSON.len() + 4, JSON.len() + 6, full.len() - 1] {
            let err = parse_publish_frame(full.slice(..cut))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("invalid publish request: the body ends") || err.contains("only"),
                "{cut}: {err}"
            );
        }
    }

    #[test]
    fn parse_publish_frame_rejects_lengths_past_the_end() {
        let mut body = frame(JSON, b"TAR").to_vec();
        body[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = parse_publish_frame(body.into()).unwrap_err().to_string();
        assert!(err.contains("is said to be 4294967295 bytes"), "{err}");
    }

    #[test]
    fn parse_publish_frame_rejects_bad_json_and_trailing_bytes() {
        let err = parse_publish_frame(frame(b"{not json", b""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
        let mut body = frame(JSON, b"TAR").to_vec();
        body.push(0);
        let err = parse_publish_frame(body.into()).unwrap_err().to_string();
        assert!(err.contains("1 unexpected byte after"), "{err}");
    }
}
