//! The two ref files of git's dumb HTTP protocol: `HEAD`, a symbolic ref
//! to the one branch, and `info/refs`, which says where the branch is.
//! cargo fetches `HEAD` of a git registry; git resolves it through
//! `info/refs`.

use crate::GitError;
use crate::object::HASH;
use gix_hash::ObjectId;

/// The one branch.
pub(crate) const BRANCH: &str = "refs/heads/master";

/// `HEAD`'s content.
pub(crate) fn head() -> String {
    format!("ref: {BRANCH}\n")
}

/// `info/refs` naming `commit` as the branch's tip.
pub(crate) fn info_refs(commit: &ObjectId) -> String {
    format!("{commit}\t{BRANCH}\n")
}

/// The branch's tip in an `info/refs`.
pub(crate) fn parse_info_refs(text: &[u8]) -> Result<ObjectId, GitError> {
    let text = std::str::from_utf8(text).map_err(|e| GitError::BadRefs(e.to_string()))?;
    text.lines()
        .find_map(|line| {
            let (id, name) = line.split_once('\t')?;
            (name == BRANCH).then_some(id)
        })
        .ok_or_else(|| GitError::BadRefs(format!("no {BRANCH}")))
        .and_then(|id| {
            ObjectId::from_hex(id.as_bytes())
                .ok()
                .filter(|id| id.kind() == HASH)
                .ok_or_else(|| GitError::BadRefs(format!("`{id}` is not an object id")))
        })
}

/// `objects/info/packs` listing `packs`, as `git update-server-info`
/// writes it.
pub(crate) fn info_packs(packs: &[ObjectId]) -> String {
    packs
        .iter()
        .map(|id| format!("P pack-{id}.pack\n"))
        .collect()
}

/// The packs an `objects/info/packs` lists (lines it cannot read skipped:
/// git skips them too).
pub(crate) fn parse_info_packs(text: &[u8]) -> Vec<ObjectId> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| {
            let id = line.strip_prefix("P pack-")?.strip_suffix(".pack")?;
            ObjectId::from_hex(id.as_bytes()).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_refs_reads_back() {
        let id = ObjectId::from_hex(b"4b825dc642cb6eb9a060e54bf8d69288fbee4904").unwrap();
        assert_eq!(parse_info_refs(info_refs(&id).as_bytes()).unwrap(), id);
        assert_eq!(head(), "ref: refs/heads/master\n");
        for bad in [
            &b""[..],
            b"4b825dc642cb6eb9a060e54bf8d69288fbee4904\trefs/heads/main\n",
            b"xyz\trefs/heads/master\n",
            b"\xff",
        ] {
            assert!(parse_info_refs(bad).is_err());
        }
    }

    #[test]
    fn info_packs_reads_back() {
        let id = ObjectId::from_hex(b"4b825dc642cb6eb9a060e54bf8d69288fbee4904").unwrap();
        let text = info_packs(&[id, id]);
        assert_eq!(
            text.lines().next(),
            Some("P pack-4b825dc642cb6eb9a060e54bf8d69288fbee4904.pack")
        );
        assert_eq!(parse_info_packs(text.as_bytes()), [id, id]);
        assert!(parse_info_packs(b"P pack-x.pack\nnonsense\n").is_empty());
    }
}
