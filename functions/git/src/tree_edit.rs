//! Edits a git tree by paths: the files at the changed paths replaced or
//! removed, every other entry kept, so a new tree shares each unchanged
//! subtree with the old one. Pure: the trees along the changed paths are
//! loaded by the caller first (see [`missing_trees`]).

use crate::GitError;
use crate::object::EncodedObject;
use gix_hash::ObjectId;
use gix_object::Tree;
use gix_object::bstr::{BStr, BString, ByteSlice};
use gix_object::tree::{Entry, EntryKind};
use std::collections::{BTreeMap, HashMap};

/// Trees read so far, by id.
pub type Trees = HashMap<ObjectId, Tree>;

/// A file to write at a `/`-separated path, or to remove (`None`).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub path: &'a str,
    pub content: Option<&'a [u8]>,
}

/// A new tree: its id and the objects that are new in it (blobs and trees
/// that the old tree did not have), children before their parents.
#[derive(Debug)]
pub struct Edited {
    pub root: ObjectId,
    pub objects: Vec<EncodedObject>,
}

/// The trees not yet in `trees` that editing `paths` under `root` reads
/// next: load them and ask again until none is left (one round per level).
pub fn missing_trees<'p>(
    root: Option<ObjectId>,
    trees: &Trees,
    paths: impl IntoIterator<Item = &'p str>,
) -> Vec<ObjectId> {
    let Some(root) = root else { return Vec::new() };
    let mut missing = Vec::new();
    for path in paths {
        let dirs = path.split('/').rev().skip(1).count();
        let mut tree_id = root;
        for dir in path.split('/').take(dirs + 1) {
            let Some(tree) = trees.get(&tree_id) else {
                if !missing.contains(&tree_id) {
                    missing.push(tree_id);
                }
                break;
            };
            match entry(tree, dir.as_bytes().as_bstr()) {
                Some(e) if e.mode.is_tree() => tree_id = e.oid,
                _ => break,
            }
        }
    }
    missing
}

/// Applies `changes` (the last of two at one path wins) to the tree `root`
/// (`None`: an empty tree), reading its trees from `trees`.
pub fn apply(
    root: Option<ObjectId>,
    trees: &Trees,
    changes: &[Change<'_>],
) -> Result<Edited, GitError> {
    let mut split = Vec::with_capacity(changes.len());
    for change in changes {
        split.push((components(change.path)?, change.content));
    }
    let existing = match root {
        Some(id) => Some((id, load(trees, id)?)),
        None => None,
    };
    let mut objects = Vec::new();
    let edited = edit(existing, trees, &split, &mut objects)?;
    let root = match edited {
        Some(id) => id,
        // Git has no empty directories, but a commit needs a root tree.
        None => {
            let empty = EncodedObject::new(&Tree::empty())?;
            let id = empty.id;
            objects.push(empty);
            id
        }
    };
    Ok(Edited { root, objects })
}

type Split<'a> = (Vec<&'a str>, Option<&'a [u8]>);

/// One directory: `None` once it holds nothing.
fn edit(
    existing: Option<(ObjectId, &Tree)>,
    trees: &Trees,
    changes: &[Split<'_>],
    out: &mut Vec<EncodedObject>,
) -> Result<Option<ObjectId>, GitError> {
    let mut entries: BTreeMap<BString, Entry> = existing
        .map(|(_, tree)| {
            tree.entries
                .iter()
                .map(|e| (e.filename.clone(), e.clone()))
                .collect()
        })
        .unwrap_or_default();
    // The changes by the name they touch here: files here, or deeper.
    let mut here: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
    let mut below: BTreeMap<&str, Vec<Split<'_>>> = BTreeMap::new();
    for (path, content) in changes {
        match path.as_slice() {
            [] => {}
            [name] => {
                here.insert(name, *content);
            }
            [name, rest @ ..] => below
                .entry(name)
                .or_default()
                .push((rest.to_vec(), *content)),
        }
    }
    if let Some(name) = here.keys().find(|name| below.contains_key(*name)) {
        return Err(GitError::BadPath(format!(
            "{name} (a file and a directory)"
        )));
    }
    for (name, content) in here {
        let filename = BString::from(name);
        match content {
            None => {
                entries.remove(&filename);
            }
            Some(content) => {
                let blob = EncodedObject::blob(content)?;
                let entry = Entry {
                    mode: EntryKind::Blob.into(),
                    filename: filename.clone(),
                    oid: blob.id,
                };
                if entries.get(&filename) != Some(&entry) {
                    out.push(blob);
                    entries.insert(filename, entry);
                }
            }
        }
    }
    for (name, changes) in below {
        let filename = BString::from(name);
        let child = match entries.get(&filename) {
            Some(e) if e.mode.is_tree() => Some((e.oid, load(trees, e.oid)?)),
            // A file where a directory goes: replaced.
            _ => None,
        };
        match edit(child, trees, &changes, out)? {
            None => {
                entries.remove(&filename);
            }
            Some(oid) => {
                let entry = Entry {
                    mode: EntryKind::Tree.into(),
                    filename: filename.clone(),
                    oid,
                };
                entries.insert(filename, entry);
            }
        }
    }
    if entries.is_empty() {
        return Ok(None);
    }
    let mut tree = Tree {
        entries: entries.into_values().collect(),
    };
    // Git's order: a directory sorts as if its name ended in `/`.
    tree.entries.sort();
    let encoded = EncodedObject::new(&tree)?;
    let id = encoded.id;
    if existing.map(|(old, _)| old) != Some(id) {
        out.push(encoded);
    }
    Ok(Some(id))
}

fn load(trees: &Trees, id: ObjectId) -> Result<&Tree, GitError> {
    trees
        .get(&id)
        .ok_or_else(|| GitError::MissingObject(id.to_string()))
}

fn entry<'t>(tree: &'t Tree, name: &BStr) -> Option<&'t Entry> {
    tree.entries.iter().find(|e| e.filename == name)
}

/// A path's components, refused unless each is a plain name git checks
/// out as is (no `.`, `..`, `.git`, empty part or separator in it).
fn components(path: &str) -> Result<Vec<&str>, GitError> {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |part: &&str| {
        !part.is_empty()
            && *part != "."
            && *part != ".."
            && !part.eq_ignore_ascii_case(".git")
            && !part.contains(['\\', '\0'])
    };
    if parts.iter().all(plain) {
        Ok(parts)
    } else {
        Err(GitError::BadPath(path.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies changes as the writer does: loading what is missing from
    /// `stored` (every object written so far), round by round.
    fn apply_loading(
        root: Option<ObjectId>,
        stored: &HashMap<ObjectId, EncodedObject>,
        changes: &[Change<'_>],
    ) -> (Edited, usize) {
        let mut trees = Trees::new();
        let mut loaded = 0;
        loop {
            let missing = missing_trees(root, &trees, changes.iter().map(|c| c.path));
            if missing.is_empty() {
                break;
            }
            for id in missing {
                let object = &stored[&id];
                let tree = gix_object::TreeRef::from_bytes(&object.data, crate::object::HASH)
                    .unwrap()
                    .into_owned();
                trees.insert(id, tree);
                loaded += 1;
            }
        }
        (apply(root, &trees, changes).unwrap(), loaded)
    }

    fn put<'a>(path: &'a str, content: &'a str) -> Change<'a> {
        Change {
            path,
            content: Some(content.as_bytes()),
        }
    }

    /// Every file of a tree, by path.
    fn files(root: ObjectId, stored: &HashMap<ObjectId, EncodedObject>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut pending = vec![(String::new(), root)];
        while let Some((prefix, id)) = pending.pop() {
            let tree = gix_object::TreeRef::from_bytes(&stored[&id].data, crate::object::HASH)
                .unwrap()
                .into_owned();
            for e in tree.entries {
                let path = format!("{prefix}{}", e.filename);
                if e.mode.is_tree() {
                    pending.push((format!("{path}/"), e.oid));
                } else {
                    let data = String::from_utf8(stored[&e.oid].data.clone()).unwrap();
                    out.push((path, data));
                }
            }
        }
        out.sort();
        out
    }

    fn store(stored: &mut HashMap<ObjectId, EncodedObject>, edited: &Edited) {
        for o in &edited.objects {
            stored.insert(o.id, o.clone());
        }
    }

    #[test]
    fn a_tree_from_nothing_holds_every_file() {
        let mut stored = HashMap::new();
        let changes = [
            put("config.json", "{}"),
            put("se/rd/serde", "s1\n"),
            put("1/a", "a1\n"),
            put("3/a/abc", "abc1\n"),
        ];
        let (edited, loaded) = apply_loading(None, &stored, &changes);
        assert_eq!(loaded, 0);
        store(&mut stored, &edited);
        assert_eq!(
            files(edited.root, &stored),
            [
                ("1/a", "a1\n"),
                ("3/a/abc", "abc1\n"),
                ("config.json", "{}"),
                ("se/rd/serde", "s1\n")
            ]
            .map(|(p, c)| (p.to_string(), c.to_string()))
        );
        // 4 blobs; trees: root, 1, 3, 3/a, se, se/rd.
        assert_eq!(edited.objects.len(), 10);
    }

    #[test]
    fn the_same_files_make_the_same_tree_whatever_the_order() {
        let a = apply(None, &Trees::new(), &[put("2/ab", "x"), put("1/a", "y")]).unwrap();
        let b = apply(None, &Trees::new(), &[put("1/a", "y"), put("2/ab", "x")]).unwrap();
        assert_eq!(a.root, b.root);
    }

    #[test]
    fn one_change_writes_only_its_path_and_shares_the_rest() {
        let mut stored = HashMap::new();
        let (first, _) = apply_loading(
            None,
            &stored,
            &[
                put("config.json", "{}"),
                put("se/rd/serde", "s1\n"),
                put("se/xx/sexy", "x1\n"),
                put("3/a/abc", "abc1\n"),
            ],
        );
        store(&mut stored, &first);
        let (second, loaded) =
            apply_loading(Some(first.root), &stored, &[put("se/rd/serde", "s1\ns2\n")]);
        // Read: root, se, se/rd. Written: blob, se/rd, se, root.
        assert_eq!(loaded, 3);
        let kinds: Vec<_> = second.objects.iter().map(|o| o.kind).collect();
        use gix_object::Kind::{Blob, Tree};
        assert_eq!(kinds, [Blob, Tree, Tree, Tree]);
        store(&mut stored, &second);
        let files = files(second.root, &stored);
        assert!(files.contains(&("se/rd/serde".into(), "s1\ns2\n".into())));
        assert!(files.contains(&("se/xx/sexy".into(), "x1\n".into())));
        assert!(files.contains(&("3/a/abc".into(), "abc1\n".into())));
    }

    #[test]
    fn writing_what_is_there_changes_nothing() {
        let mut stored = HashMap::new();
        let (first, _) = apply_loading(None, &stored, &[put("1/a", "a\n")]);
        store(&mut stored, &first);
        let (again, _) = apply_loading(Some(first.root), &stored, &[put("1/a", "a\n")]);
        assert_eq!(again.root, first.root);
        assert!(again.objects.is_empty());
    }

    #[test]
    fn removing_the_last_file_of_a_directory_removes_the_directory() {
        let mut stored = HashMap::new();
        let (first, _) = apply_loading(None, &stored, &[put("1/a", "a"), put("3/a/abc", "c")]);
        store(&mut stored, &first);
        let removal = [Change {
            path: "3/a/abc",
            content: None,
        }];
        let (second, _) = apply_loading(Some(first.root), &stored, &removal);
        store(&mut stored, &second);
        assert_eq!(files(second.root, &stored), [("1/a".into(), "a".into())]);
        let only_a = apply(None, &Trees::new(), &[put("1/a", "a")]).unwrap();
        assert_eq!(second.root, only_a.root, "no empty `3/` left behind");
        // Removing what is not there: nothing to write.
        let (third, _) = apply_loading(Some(second.root), &stored, &removal);
        assert_eq!(third.root, second.root);
    }

    #[test]
    fn an_emptied_tree_is_git_s_empty_tree() {
        let edited = apply(
            None,
            &Trees::new(),
            &[Change {
                path: "1/a",
                content: None,
            }],
        )
        .unwrap();
        assert_eq!(
            edited.root.to_string(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn paths_that_escape_or_hide_are_refused() {
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "../a",
            "a/../b",
            "./a",
            ".git/config",
            "a/.GIT/x",
            "a\\b",
        ] {
            let result = apply(None, &Trees::new(), &[put(bad, "x")]);
            assert!(matches!(result, Err(GitError::BadPath(_))), "{bad:?}");
        }
        let clash = apply(None, &Trees::new(), &[put("a", "x"), put("a/b", "y")]);
        assert!(matches!(clash, Err(GitError::BadPath(_))));
    }

    #[test]
    fn a_tree_that_was_not_loaded_is_reported_missing() {
        let first = apply(None, &Trees::new(), &[put("1/a", "a")]).unwrap();
        let result = apply(Some(first.root), &Trees::new(), &[put("1/b", "b")]);
        assert!(matches!(result, Err(GitError::MissingObject(_))));
    }
}
