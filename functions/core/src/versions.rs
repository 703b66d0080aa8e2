use crate::RegistryError;
use semver::{BuildMetadata, Version};

/// The longest version a request may name: it becomes part of object keys
/// and file names.
pub(crate) const MAX_VERSION_LEN: usize = 128;

/// Parses a version as cargo does (semver 2.0).
pub(crate) fn parse_version(version: &str) -> Result<Version, RegistryError> {
    if version.len() > MAX_VERSION_LEN {
        return Err(RegistryError::InvalidVersion {
            version: format!("{}…", version.chars().take(32).collect::<String>()),
            why: format!("it is longer than {MAX_VERSION_LEN} characters"),
        });
    }
    Version::parse(version).map_err(|e| RegistryError::InvalidVersion {
        version: version.into(),
        why: e.to_string(),
    })
}

/// A semver version as its publisher wrote it (build metadata kept), as it
/// appears in object keys and file names: checked, so it holds no `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CrateVersion(String);

impl CrateVersion {
    pub fn new(version: &str) -> Result<Self, RegistryError> {
        parse_version(version)?;
        Ok(Self(version.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CrateVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The identity of a version: two versions that differ only in build
/// metadata (`1.0.0+a`, `1.0.0+b`) are the same version to cargo.
pub fn version_key(version: &Version) -> String {
    let mut v = version.clone();
    v.build = BuildMetadata::EMPTY;
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_key_ignores_build_metadata() {
        let a = parse_version("1.0.0+build.1").unwrap();
        let b = parse_version("1.0.0+other").unwrap();
        assert_eq!(version_key(&a), version_key(&b));
        assert_eq!(version_key(&a), "1.0.0");
        assert_ne!(version_key(&parse_version("1.0.0-rc.1").unwrap()), "1.0.0");
    }

    #[test]
    fn parse_version_rejects_non_semver() {
        for bad in ["1.0", "v1.0.0", "1.0.0.0", "01.0.0", ""] {
            let err = parse_version(bad).unwrap_err().to_string();
            assert!(
                err.contains("is not a valid semver version"),
                "{bad}: {err}"
            );
        }
    }
}
