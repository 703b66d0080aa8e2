//! A crate's README comes from an untrusted tarball: any text, README path
//! and repository URL must render (to sanitised HTML), never panic.
//!
//! Input: the README path and the repository URL on the first two lines,
//! then the Markdown.
#![no_main]

use crateyard_readme::render_readme;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let path = parts.next().filter(|p| !p.is_empty());
    let repository = parts.next().filter(|r| !r.is_empty());
    let markdown = parts.next().unwrap_or_default();
    let html = render_readme(markdown, path, repository);
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
});
