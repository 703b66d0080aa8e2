use crate::RegistryError;
use std::fmt;

const MAX_NAME_LEN: usize = 64;

/// Names cargo and the common platforms treat specially: the standard library's
/// crates and file names Windows reserves.
const RESERVED: &[&str] = &[
    "alloc",
    "core",
    "proc_macro",
    "std",
    "test",
    "con",
    "prn",
    "aux",
    "nul",
    "com1",
    "com2",
    "com3",
    "com4",
    "com5",
    "com6",
    "com7",
    "com8",
    "com9",
    "lpt1",
    "lpt2",
    "lpt3",
    "lpt4",
    "lpt5",
    "lpt6",
    "lpt7",
    "lpt8",
    "lpt9",
];

/// A valid crate name, spelled as its publisher spelled it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CrateName(String);

impl CrateName {
    /// Checks cargo's rules: ASCII letters, digits, `-` and `_`, starting with a
    /// letter, at most 64 characters, and not a reserved name.
    pub fn new(name: &str) -> Result<Self, RegistryError> {
        let invalid = |why: String| RegistryError::InvalidName {
            name: name.into(),
            why,
        };
        if name.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "it is longer than {MAX_NAME_LEN} characters"
            )));
        }
        if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(invalid("it must start with an ASCII letter".into()));
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(invalid(format!(
                "`{c}` is not allowed; use only ASCII letters, digits, `-` and `_`"
            )));
        }
        if RESERVED.contains(&canonical_name(name).as_str()) {
            return Err(invalid("it is reserved".into()));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form under which two spellings are the same crate.
    pub fn canonical(&self) -> String {
        canonical_name(&self.0)
    }
}

impl fmt::Display for CrateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid repository name (see [`crate::check_repository_name`]): the
/// first segment of every key of the repository's objects, so it can hold
/// no `/` or `.` and is never one of the names the registry's own URLs use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoName(String);

impl RepoName {
    pub fn new(name: &str) -> Result<Self, RegistryError> {
        crate::check_repository_name(name)?;
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercase with `-` as `_`: `Foo-Bar` and `foo_bar` are one crate.
pub fn canonical_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_name_accepts_cargo_names() {
        for ok in ["a", "serde_json", "tokio-util", "A1", &"x".repeat(64)] {
            assert!(CrateName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn crate_name_rejects_invalid_and_reserved() {
        for bad in [
            "",
            "1abc",
            "-a",
            "_a",
            "a.b",
            "a b",
            "ä",
            &"x".repeat(65),
            "std",
            "nul",
            "Proc-Macro",
        ] {
            let err = CrateName::new(bad).unwrap_err().to_string();
            assert!(err.contains("is not a valid crate name"), "{bad}: {err}");
        }
    }

    #[test]
    fn canonical_name_folds_case_and_dashes() {
        assert_eq!(canonical_name("Foo_bar"), canonical_name("foo-bar"));
        assert_eq!(canonical_name("Foo-Bar"), "foo_bar");
    }
}
