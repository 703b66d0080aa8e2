const MIB: u64 = 1024 * 1024;

/// Bounds on what an upload may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarballLimits {
    /// The `.crate` file itself.
    pub max_compressed: u64,
    /// Everything the gzip stream inflates to, counted while reading.
    pub max_unpacked: u64,
    pub max_manifest: u64,
    pub max_readme: u64,
    pub max_dependencies: usize,
    /// Features per crate, and values per feature.
    pub max_features: usize,
}

impl Default for TarballLimits {
    fn default() -> Self {
        Self {
            max_compressed: 10 * MIB,
            max_unpacked: 512 * MIB,
            max_manifest: MIB,
            max_readme: MIB,
            max_dependencies: 500,
            max_features: 300,
        }
    }
}

/// `10 MiB`, `512 MiB`, or bytes when not a whole number of MiB.
pub(crate) fn human_size(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}
