//! A crate's README, rendered from Markdown to HTML that is safe to put on a
//! page: the README comes from an untrusted tarball, so every tag and
//! attribute goes through `ammonia`'s allow list (no `<script>`, no event
//! handlers, no `javascript:` URLs), and relative links and images are
//! resolved against the crate's repository, or dropped when there is none.

use std::borrow::Cow;

use ammonia::{Builder, UrlRelative};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};
use url::Url;

/// READMEs longer than this are cut before rendering: a page must stay light
/// and rendering must stay cheap on the publish path.
pub const MAX_README_BYTES: usize = 512 * 1024;

/// Renders `markdown` (the README at `readme_path` inside the crate) for a
/// crate whose manifest names `repository`.
pub fn render_readme(
    markdown: &str,
    readme_path: Option<&str>,
    repository: Option<&str>,
) -> String {
    let markdown = truncate(markdown, MAX_README_BYTES);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    options.insert(Options::ENABLE_FOOTNOTES);
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Event::Start(Tag::Heading {
            level: demoted(level),
            id,
            classes,
            attrs,
        }),
        Event::End(TagEnd::Heading(level)) => Event::End(TagEnd::Heading(demoted(level))),
        other => other,
    });
    html::push_html(&mut unsafe_html, events);

    let bases = RelativeBases::new(repository, readme_path);
    let mut sanitizer = Builder::default();
    sanitizer
        .add_tags(["details", "summary"])
        .add_tag_attributes("img", ["align", "width", "height"])
        .add_tag_attributes("p", ["align"])
        .add_tag_attributes("div", ["align"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tags(["input"])
        // The page has its own h1 and a "README" h2; raw HTML headings of
        // that rank would break its outline (their text stays).
        .rm_tags(["h1", "h2"])
        .attribute_filter(move |element, attribute, value| bases.rewrite(element, attribute, value))
        // The filter above resolves or drops every relative URL itself.
        .url_relative(UrlRelative::PassThrough)
        .link_rel(Some("nofollow noopener noreferrer"));
    sanitizer.clean(&unsafe_html).to_string()
}

/// README headings sit under the page's "README" heading (an h2): an h1
/// becomes an h3, and so on down to h6.
fn demoted(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where a README's relative URLs point: for a GitHub or GitLab repository,
/// links go to the file view and images to the raw file, as crates.io does.
struct RelativeBases {
    links: Option<Url>,
    images: Option<Url>,
}

impl RelativeBases {
    fn new(repository: Option<&str>, readme_path: Option<&str>) -> Self {
        let none = Self {
            links: None,
            images: None,
        };
        let Some(repo) = repository.and_then(|r| Url::parse(r.trim_end_matches('/')).ok()) else {
            return none;
        };
        if repo.scheme() != "https" {
            return none;
        }
        let dir = readme_path
            .and_then(|p| p.rsplit_once('/').map(|(dir, _)| format!("{dir}/")))
            .unwrap_or_default();
        let path = repo
            .path()
            .trim_end_matches(".git")
            .trim_matches('/')
            .to_string();
        let (links, images) = match repo.host_str() {
            Some("github.com") => (
                format!("https://github.com/{path}/blob/HEAD/{dir}"),
                format!("https://raw.githubusercontent.com/{path}/HEAD/{dir}"),
            ),
            Some(host @ ("gitlab.com" | "codeberg.org")) => {
                let (view, raw) = if host == "gitlab.com" {
                    ("-/blob", "-/raw")
                } else {
                    ("src/branch", "raw/branch")
                };
                (
                    format!("https://{host}/{path}/{view}/HEAD/{dir}"),
                    format!("https://{host}/{path}/{raw}/HEAD/{dir}"),
                )
            }
            _ => return none,
        };
        Self {
            links: Url::parse(&links).ok(),
            images: Url::parse(&images).ok(),
        }
    }

    fn rewrite<'a>(&self, element: &str, attribute: &str, value: &'a str) -> Option<Cow<'a, str>> {
        let base = match (element, attribute) {
            ("img", "src") => &self.images,
            (_, "href" | "src" | "cite" | "longdesc") => &self.links,
            _ => return Some(value.into()),
        };
        // In-page anchors stay as they are.
        if value.starts_with('#') {
            return Some(value.into());
        }
        match Url::parse(value) {
            Ok(_) => Some(value.into()),
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let joined = base.as_ref()?.join(value.trim_start_matches('/')).ok()?;
                Some(joined.to_string().into())
            }
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB: Option<&str> = Some("https://github.com/acme/widget");

    #[test]
    fn renders_markdown() {
        let html = render_readme(
            "# Title\n\nSome *text* and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            None,
            None,
        );
        assert!(html.contains("<h3>Title</h3>"), "{html}");
        assert!(html.contains("<em>text</em>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn removes_scripts_event_handlers_and_javascript_urls() {
        let readme = "<script>alert(1)</script>\n\n<img src=\"https://x/y.png\" onerror=\"alert(2)\">\n\n[click](javascript:alert(3)) <a href=\"JaVaScRiPt:alert(4)\">x</a> <a href=\"data:text/html,hi\">d</a>\n\n<iframe src=\"https://evil\"></iframe><style>body{}</style><form action=\"https://e\"><input name=a></form>";
        let html = render_readme(readme, None, GITHUB);
        let lower = html.to_ascii_lowercase();
        for banned in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "data:text",
            "<iframe",
            "<style",
            "<form",
            "name=\"a\"",
        ] {
            assert!(!lower.contains(banned), "{banned} survived in {html}");
        }
        assert!(html.contains("src=\"https://x/y.png\""), "{html}");
    }

    #[test]
    fn resolves_relative_links_and_images_against_the_repository() {
        let html = render_readme(
            "[guide](docs/guide.md) ![logo](./logo.png) [top](#usage) [abs](/LICENSE)",
            Some("crates/w/README.md"),
            GITHUB,
        );
        assert!(
            html.contains(
                "href=\"https://github.com/acme/widget/blob/HEAD/crates/w/docs/guide.md\""
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "src=\"https://raw.githubusercontent.com/acme/widget/HEAD/crates/w/logo.png\""
            ),
            "{html}"
        );
        assert!(html.contains("href=\"#usage\""), "{html}");
        assert!(
            html.contains("href=\"https://github.com/acme/widget/blob/HEAD/crates/w/LICENSE\""),
            "{html}"
        );
    }

    #[test]
    fn drops_relative_urls_without_a_trustworthy_repository() {
        for repository in [
            None,
            Some("javascript:alert(1)"),
            Some("http://github.com/a/b"),
            Some("https://example.com/a/b"),
        ] {
            let html = render_readme("[guide](docs/guide.md) ![logo](logo.png)", None, repository);
            assert!(
                !html.contains("docs/guide.md") && !html.contains("logo.png"),
                "{repository:?}: {html}"
            );
            assert!(html.contains(">guide</a>"), "{html}");
        }
    }

    #[test]
    fn headings_sit_below_the_page_outline() {
        let html = render_readme("# A\n## B\n#### D\n\n<h1>raw</h1><h2>raw2</h2>", None, None);
        assert!(
            html.contains("<h3>A</h3>")
                && html.contains("<h4>B</h4>")
                && html.contains("<h6>D</h6>"),
            "{html}"
        );
        assert!(
            !html.contains("<h1") && !html.contains("<h2") && html.contains("raw"),
            "{html}"
        );
    }

    #[test]
    fn links_open_no_window_reference() {
        let html = render_readme("[x](https://example.com)", None, None);
        assert!(
            html.contains("rel=\"nofollow noopener noreferrer\""),
            "{html}"
        );
    }

    #[test]
    fn cuts_very_long_readmes_on_a_char_boundary() {
        let long = "é".repeat(MAX_README_BYTES);
        let html = render_readme(&long, None, None);
        assert!(html.len() < MAX_README_BYTES + 100);
    }
}
