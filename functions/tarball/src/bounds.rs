//! Bounds on the free-form fields of a manifest, as crates.io bounds them:
//! they end up in index lines, crate pages and search documents, so none
//! may be unbounded.

use crate::TarballError;
use crate::manifest::Manifest;

/// crates.io: at most 5 keywords of at most 20 characters, and 5 categories.
const MAX_KEYWORDS: usize = 5;
const MAX_KEYWORD_LEN: usize = 20;
const MAX_CATEGORIES: usize = 5;
const MAX_CATEGORY_LEN: usize = 100;
const MAX_AUTHORS: usize = 100;
const MAX_AUTHOR_LEN: usize = 256;
/// `links` names a native library.
const MAX_LINKS_LEN: usize = 64;
const MAX_FEATURE_NAME_LEN: usize = 100;
const MAX_FEATURE_VALUE_LEN: usize = 200;
const MAX_DESCRIPTION_LEN: usize = 4096;
/// `repository`, `homepage`, `documentation`, `license`, `rust-version`, `edition`.
const MAX_SHORT_FIELD_LEN: usize = 1024;

fn too_long(field: &str, limit: usize) -> TarballError {
    TarballError::FieldTooLong {
        field: field.into(),
        limit,
    }
}

fn too_many(field: &str, count: usize, limit: usize) -> TarballError {
    TarballError::TooManyEntries {
        field: field.into(),
        count,
        limit,
    }
}

fn check_list(
    field: &str,
    items: &[String],
    max: usize,
    max_len: usize,
) -> Result<(), TarballError> {
    if items.len() > max {
        return Err(too_many(field, items.len(), max));
    }
    match items.iter().find(|i| i.chars().count() > max_len) {
        Some(_) => Err(too_long(&format!("an entry of `{field}`"), max_len)),
        None => Ok(()),
    }
}

pub(crate) fn check_manifest_bounds(manifest: &Manifest) -> Result<(), TarballError> {
    let p = &manifest.package;
    check_list("keywords", &p.keywords, MAX_KEYWORDS, MAX_KEYWORD_LEN)?;
    check_list(
        "categories",
        &p.categories,
        MAX_CATEGORIES,
        MAX_CATEGORY_LEN,
    )?;
    check_list("authors", &p.authors, MAX_AUTHORS, MAX_AUTHOR_LEN)?;
    let single = [
        ("links", &p.links, MAX_LINKS_LEN),
        ("description", &p.description, MAX_DESCRIPTION_LEN),
        ("repository", &p.repository, MAX_SHORT_FIELD_LEN),
        ("homepage", &p.homepage, MAX_SHORT_FIELD_LEN),
        ("documentation", &p.documentation, MAX_SHORT_FIELD_LEN),
        ("license", &p.license, MAX_SHORT_FIELD_LEN),
        ("rust-version", &p.rust_version, MAX_SHORT_FIELD_LEN),
        ("edition", &p.edition, MAX_SHORT_FIELD_LEN),
    ];
    for (field, value, limit) in single {
        if value.as_ref().is_some_and(|v| v.chars().count() > limit) {
            return Err(too_long(&format!("`{field}`"), limit));
        }
    }
    for (name, values) in &manifest.features {
        if name.chars().count() > MAX_FEATURE_NAME_LEN {
            return Err(too_long("a feature name", MAX_FEATURE_NAME_LEN));
        }
        if values
            .iter()
            .any(|v| v.chars().count() > MAX_FEATURE_VALUE_LEN)
        {
            return Err(too_long(
                &format!("an entry of feature `{name}`"),
                MAX_FEATURE_VALUE_LEN,
            ));
        }
    }
    Ok(())
}
