const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Bounds on what an upload may contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarballLimits {
    /// The `.crate` file itself.
    pub max_compressed: u64,
    /// Everything the gzip stream inflates to, counted while reading.
    pub max_unpacked: u64,
    /// The `Cargo.toml` inside the `.crate`.
    pub max_manifest: u64,
    /// A README larger than this is not kept (the upload is still accepted).
    pub max_readme: u64,
    /// Dependencies of all kinds and targets together.
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

/// A limit as people write it: `10 MiB`, `64 KiB`, or `1000 bytes`.
pub(crate) fn human_limit(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A measured size, rounded up to a tenth so that anything over a limit
/// never reads as equal to it: `12.3 MiB`, `10.1 MiB`, `512 bytes`.
pub(crate) fn human_size(bytes: u64) -> String {
    let (unit, name) = match bytes {
        b if b >= MIB => (MIB, "MiB"),
        b if b >= KIB => (KIB, "KiB"),
        _ => return format!("{bytes} bytes"),
    };
    let tenths = (u128::from(bytes) * 10).div_ceil(u128::from(unit));
    if tenths.is_multiple_of(10) {
        format!("{} {name}", tenths / 10)
    } else {
        format!("{}.{} {name}", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_limit_uses_whole_units() {
        assert_eq!(human_limit(10 * MIB), "10 MiB");
        assert_eq!(human_limit(64 * KIB), "64 KiB");
        assert_eq!(human_limit(1000), "1000 bytes");
        assert_eq!(human_limit(MIB + 1), format!("{} bytes", MIB + 1));
    }

    #[test]
    fn human_size_rounds_up_to_a_tenth() {
        assert_eq!(human_size(12 * MIB + 3 * MIB / 10), "12.3 MiB");
        assert_eq!(human_size(10 * MIB + 1), "10.1 MiB");
        assert_eq!(human_size(10 * MIB), "10 MiB");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(11), "11 bytes");
    }
}
