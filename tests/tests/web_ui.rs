//! The web UI: crate pages' data against the index and the tarball, private
//! repositories' pages behind the token check, the static pages on S3, and
//! the pages themselves in headless Chromium (`tests/ui/web_ui.mjs`).

use crateyard_e2e::{Cargo, PUBLISH, Project, Server, index_lines};
use crateyard_tarball::{TarballLimits, inspect_crate};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A README that tries every trick a crate author could.
const HOSTILE_README: &str = "# Widget\n\nFrobs things. <script>window.pwned = 1</script>\n\n\
<img src=\"logo.png\" onerror=\"window.pwned = 2\">\n\n\
[click me](javascript:window.pwned=3) <a href=\"JaVaScRiPt:window.pwned=4\" onclick=\"window.pwned=5\">x</a>\n\n\
[guide](docs/guide.md)\n\n<iframe src=\"https://example.com\"></iframe>\n";

fn manifest(name: &str, version: &str, tail: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         description = \"Frobs widgets\"\nlicense = \"MIT OR Apache-2.0\"\n\
         repository = \"https://github.com/acme/widget\"\nhomepage = \"javascript:alert(1)\"\n\
         keywords = [\"frobnicate\"]\ncategories = [\"gui\"]\nrust-version = \"1.70\"\n\n{tail}"
    )
}

/// `helper` 1.0.0, then `widget` 0.1.0 (no dependencies) and 0.2.0
/// (depends on `helper`, normal and dev, with a feature), all by cargo.
fn publish_widget(server: &Server, token: &str) -> Cargo {
    let cargo = Cargo::new(server, Some(token));
    let helper = Project::new("helper", "1.0.0", "[features]\nextra = []\n");
    cargo.ok(helper.path(), &PUBLISH);
    let deps = "[dependencies]\nhelper = { version = \"1\", registry = \"cy\" }\n\n\
                [dev-dependencies]\nhelper = { version = \"1\", registry = \"cy\" }\n\n\
                [features]\nfast = [\"helper/extra\"]\n";
    for (version, tail) in [("0.1.0", ""), ("0.2.0", deps)] {
        let widget = Project::new("widget", version, "");
        widget
            .write("Cargo.toml", &manifest("widget", version, tail))
            .write("README.md", HOSTILE_README);
        cargo.ok(widget.path(), &PUBLISH);
    }
    cargo
}

fn get_json(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = server.http().get(format!("{}/{path}", server.url));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().expect("GET");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn crate_pages_follow_the_index_and_the_tarball() {
    let server = Server::start();
    let token = server.token("alice");
    publish_widget(&server, &token);

    let (status, page) = get_json(&server, "main/ui/crates/widget.json", None);
    assert_eq!(status, 200);
    let compressed = server
        .http()
        .get(format!("{}/main/ui/crates/widget.json", server.url))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    let index = index_lines(&server, "wi/dg/widget");
    let versions = page["versions"].as_array().unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v["vers"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["0.2.0", "0.1.0"],
        "newest first"
    );
    assert_eq!(page["owners"], json!(["alice"]));
    for summary in versions {
        let vers = summary["vers"].as_str().unwrap();
        let line = index.iter().find(|l| l["vers"] == vers).unwrap();
        assert_eq!(summary["yanked"], line["yanked"]);
        assert_eq!(summary["pubtime"], line["pubtime"]);
        // The rest is on the version's own page, written once.
        let details = summary["details"].as_str().unwrap();
        assert_eq!(details, format!("versions/widget/{vers}.json"));
        let (status, version) = get_json(&server, &format!("main/ui/{details}"), None);
        assert_eq!(status, 200, "{details}");
        let mut published = line.clone();
        published.as_object_mut().unwrap().remove("yanked");
        assert_eq!(
            version["line"], published,
            "{vers}: the version page shows the index line, but for `yanked`"
        );

        let tarball = server
            .get(&format!("main/crates/widget/widget-{vers}.crate"))
            .bytes()
            .unwrap();
        let mut inspected =
            inspect_crate(&tarball, "widget", vers, &[], &TarballLimits::default()).unwrap();
        assert!(inspected.package.readme.take().is_some());
        assert_eq!(
            version["package"],
            serde_json::to_value(&inspected.package).unwrap(),
            "{vers}: the page shows the tarball's metadata"
        );
        assert_eq!(version["size"], json!(tarball.len()));
        assert_eq!(version["published_by"], "alice");

        let readme = server
            .get(&format!(
                "main/ui/{}",
                version["readme"].as_str().expect("a README")
            ))
            .text()
            .unwrap();
        assert!(readme.contains("<h3>Widget</h3>"), "{readme}");
        let lower = readme.to_ascii_lowercase();
        for banned in ["<script", "onerror", "onclick", "javascript:", "<iframe"] {
            assert!(!lower.contains(banned), "{banned} in the README: {readme}");
        }
    }

    // Yank, unyank and owner changes rewrite the page.
    let api = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = server
            .http()
            .request(method, format!("{}/main/api/v1/crates/{path}", server.url))
            .header("Authorization", &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert!(request.send().unwrap().status().is_success(), "{path}");
        get_json(&server, "main/ui/crates/widget.json", None).1
    };
    let version_page = server.object("main/ui/versions/widget/0.2.0.json");
    let written = std::fs::metadata(&version_page)
        .unwrap()
        .modified()
        .unwrap();
    let page = api(reqwest::Method::DELETE, "widget/0.2.0/yank", None);
    assert_eq!(page["versions"][0]["yanked"], true);
    server.admin_ok(&["user", "set", "bob"]);
    let page = api(
        reqwest::Method::PUT,
        "widget/owners",
        Some(json!({ "users": ["bob"] })),
    );
    assert_eq!(page["owners"], json!(["alice", "bob"]));
    let page = api(reqwest::Method::PUT, "widget/0.2.0/unyank", None);
    assert_eq!(page["versions"][0]["yanked"], false);
    assert_eq!(
        std::fs::metadata(&version_page)
            .unwrap()
            .modified()
            .unwrap(),
        written,
        "a version's page is not rewritten by later changes"
    );

    // The home page's documents.
    let (_, recent) = get_json(&server, "main/ui/recent.json", None);
    let names: Vec<&str> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["widget", "helper"], "latest first, once per crate");
    let (_, repos) = get_json(&server, "ui/repositories.json", None);
    assert_eq!(repos["repositories"][0]["name"], "main");

    // A lost page, version page or README comes back with a reindex
    // ("Recalculate Index"), as it was.
    let readme = server.object("main/ui/readmes/widget/0.1.0.html");
    let rendered = std::fs::read_to_string(&readme).unwrap();
    let old_version_page = server.object("main/ui/versions/widget/0.1.0.json");
    let details = std::fs::read(&old_version_page).unwrap();
    std::fs::remove_file(server.object("main/ui/crates/widget.json")).unwrap();
    std::fs::remove_file(&readme).unwrap();
    std::fs::remove_file(&old_version_page).unwrap();
    server.admin_ok(&["reindex", "--repo", "main"]);
    assert_eq!(get_json(&server, "main/ui/crates/widget.json", None).0, 200);
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), rendered);
    assert_eq!(std::fs::read(&old_version_page).unwrap(), details);
}

/// A data directory from before version pages (crate pages holding every
/// version whole, no `ui/versions/`): the page is served as it is (the UI
/// reads both forms), and the crate's next change writes every version
/// page it lacks before the page in its new form.
#[test]
fn a_crate_page_from_before_version_pages_gets_them_at_its_next_change() {
    let server = Server::start();
    let token = server.token("alice");
    publish_widget(&server, &token);
    let versions = server.object("main/ui/versions/widget");
    let read_all = |dir: &Path| {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let written = read_all(&versions);
    assert_eq!(written.len(), 2, "one page per version");
    let page = server.object("main/ui/crates/widget.json");
    let old_form = br#"{"name":"widget","versions":[{"line":{"vers":"0.2.0"}}]}"#;
    std::fs::remove_dir_all(&versions).unwrap();
    std::fs::write(&page, old_form).unwrap();
    let server = server.restart();
    assert_eq!(
        server.get("main/ui/crates/widget.json").bytes().unwrap(),
        &old_form[..]
    );

    let yank = server
        .http()
        .delete(format!(
            "{}/main/api/v1/crates/widget/0.1.0/yank",
            server.url
        ))
        .header("Authorization", &token)
        .send()
        .unwrap();
    assert_eq!(yank.status(), 200);
    assert_eq!(
        read_all(&versions),
        written,
        "the same pages as the publishes wrote"
    );
    let (_, page) = get_json(&server, "main/ui/crates/widget.json", None);
    assert_eq!(page["versions"][1]["details"], "versions/widget/0.1.0.json");
    assert_eq!(page["versions"][1]["yanked"], true);
}

/// A publish retried after a lost answer finds its version committed and
/// catches the crate's files up: the version pages too.
#[test]
fn a_repeated_publish_writes_a_lost_version_page() {
    let server = Server::start();
    let token = server.token("alice");
    publish_widget(&server, &token);
    let version_page = server.object("main/ui/versions/widget/0.2.0.json");
    let written = std::fs::read(&version_page).unwrap();
    std::fs::remove_file(&version_page).unwrap();
    std::fs::remove_file(server.object("main/ui/crates/widget.json")).unwrap();
    let tarball = server
        .get("main/crates/widget/widget-0.2.0.crate")
        .bytes()
        .unwrap();
    let again = server
        .http()
        .put(format!(
            "{}/main/crates/widget/widget-0.2.0.crate",
            server.url
        ))
        .header("Authorization", &token)
        .body(tarball)
        .send()
        .unwrap();
    assert!(!again.status().is_success(), "{}", again.status());
    assert_eq!(std::fs::read(&version_page).unwrap(), written);
    assert_eq!(get_json(&server, "main/ui/crates/widget.json", None).0, 200);
}

#[test]
fn search_matches_keywords() {
    let server = Server::start();
    let token = server.token("alice");
    publish_widget(&server, &token);
    let (status, found) = get_json(&server, "main/api/v1/crates?q=frobnicate", None);
    assert_eq!(status, 200);
    assert_eq!(found["crates"][0]["name"], "widget");
    assert_eq!(found["meta"]["total"], 1);
}

/// Packages a crate with cargo and returns the `.crate` file.
fn package(cargo: &Cargo, name: &str, version: &str) -> (Project, PathBuf) {
    let project = Project::new(name, version, "");
    cargo.ok(
        project.path(),
        &["package", "--no-verify", "--allow-dirty", "--quiet"],
    );
    let file = project
        .path()
        .join(format!("target/package/{name}-{version}.crate"));
    assert!(file.exists());
    (project, file)
}

fn put_crate(server: &Server, repo: &str, token: &str, file: &Path) {
    let name = file.file_name().unwrap().to_str().unwrap();
    let krate = name.rsplit_once('-').unwrap().0;
    let response = server
        .http()
        .put(format!("{}/{repo}/crates/{krate}/{name}", server.url))
        .header("Authorization", format!("Bearer {token}"))
        .body(std::fs::read(file).unwrap())
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().unwrap());
}

#[test]
fn private_pages_need_a_token_that_may_read() {
    let server = Server::start();
    let token = server.token("alice");
    server.admin_ok(&["repo", "create", "secret", "--private"]);
    let cargo = Cargo::new(&server, Some(&token));
    let (_project, file) = package(&cargo, "hidden", "0.1.0");
    put_crate(&server, "secret", &token, &file);

    for path in [
        "secret/ui/crates/hidden.json",
        "secret/api/private/ui/crates/hidden.json",
        "secret/ui/versions/hidden/0.1.0.json",
        "secret/api/private/ui/versions/hidden/0.1.0.json",
        "secret/ui/recent.json",
    ] {
        assert_eq!(get_json(&server, path, None).0, 401, "{path}");
        let response = server
            .http()
            .get(format!("{}/{path}", server.url))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["cache-control"],
            "private, no-cache",
            "{path}"
        );
    }
    let limited = server.admin(&["token", "create", "--user", "carol", "--crates", "other-*"]);
    let limited = String::from_utf8(limited.stdout)
        .unwrap()
        .trim()
        .to_string();
    for path in [
        "secret/ui/crates/hidden.json",
        "secret/ui/versions/hidden/0.1.0.json",
    ] {
        assert_eq!(
            get_json(&server, path, Some(&limited)).0,
            404,
            "a token limited to other crates does not see {path}"
        );
    }
    assert_eq!(
        get_json(&server, "secret/ui/recent.json", Some(&limited)).0,
        404,
        "nor the recent publishes, which name every crate"
    );

    let (_, public) = get_json(&server, "ui/repositories.json", None);
    let names: Vec<&str> = public["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["main"],
        "private repositories are not listed publicly"
    );
    let (status, me) = get_json(&server, "api/v1/me", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(me["login"], "alice");
    let secret = me["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "secret")
        .expect("a signed-in reader sees the private repository");
    assert_eq!(
        secret["data"],
        format!("{}/secret/api/private/ui/", server.url)
    );
    assert_eq!(get_json(&server, "api/v1/me", None).0, 401);
}

#[test]
fn aws_pages_are_static_objects() {
    let server = Server::start_aws();
    // As after a deploy: the UI's own files, written for the public URL.
    server.admin_ok(&[
        "setup",
        "--public-url",
        &server.public_url,
        "--api-url",
        &server.url,
    ]);
    let token = server.token("alice");
    publish_widget(&server, &token);
    // Read from the bucket's endpoint, as CloudFront would: no API involved.
    let public = |key: &str| {
        server
            .http()
            .get(format!("{}/{key}", server.public_url))
            .send()
            .unwrap()
    };
    let page = public("main/ui/crates/widget.json");
    assert_eq!(
        page.status(),
        200,
        "the bucket policy lets anyone read pages"
    );
    let page: Value = page.json().unwrap();
    assert_eq!(page["versions"][0]["vers"], "0.2.0");
    let version = public(&format!(
        "main/ui/{}",
        page["versions"][0]["details"].as_str().unwrap()
    ));
    assert_eq!(version.status(), 200, "and version pages");
    let version: Value = version.json().unwrap();
    assert_eq!(version["line"]["vers"], "0.2.0");
    let readme = public(&format!("main/ui/{}", version["readme"].as_str().unwrap()));
    assert_eq!(readme.headers()["content-type"], "text/html; charset=utf-8");
    let readme = readme.text().unwrap();
    assert!(readme.contains("<h3>Widget</h3>"), "{readme}");
    let shell = public("ui/index.html");
    assert_eq!(shell.status(), 200, "crateyard setup writes the UI");
    assert!(shell.text().unwrap().contains("/ui/assets/app.js"));
    assert_eq!(public("ui/assets/app.js").status(), 200);
    let repos: Value = public("ui/repositories.json").json().unwrap();
    assert_eq!(repos["repositories"][0]["name"], "main");

    // A private repository's pages are tagged (which the bucket policy
    // refuses) and served by the API to a token that may read them.
    server.admin_ok(&[
        "repo",
        "create",
        "secret",
        "--private",
        "--public-url",
        &server.public_url,
        "--api-url",
        &server.url,
    ]);
    let cargo = Cargo::new(&server, Some(&token));
    let (_project, file) = package(&cargo, "hidden", "0.1.0");
    put_crate(&server, "secret", &token, &file);
    // moto does not apply the policy's tag condition: check the tag itself,
    // as the access-control tests do.
    let tagging = public("secret/ui/crates/hidden.json?tagging")
        .text()
        .unwrap();
    assert!(tagging.contains("crateyard-private"), "{tagging}");
    let path = "secret/api/private/ui/crates/hidden.json";
    assert_eq!(get_json(&server, path, None).0, 401);
    let (status, page) = get_json(&server, path, Some(&token));
    assert_eq!((status, &page["name"]), (200, &json!("hidden")));
}

#[test]
fn web_ui_in_chromium() {
    let ui_tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    assert!(
        ui_tests.join("node_modules/playwright-core").exists(),
        "playwright-core is missing: tests/run.sh installs it (npm ci --prefix tests/ui) with Debian's chromium"
    );
    let server = Server::start();
    let token = server.token("alice");
    let cargo = publish_widget(&server, &token);
    // widget 0.1.0 goes to archive storage, to be marked on its page.
    server.admin_ok(&["retention", "set", "main", "--keep-latest", "1"]);
    server.admin_ok(&["retention", "run", "main"]);
    server.admin_ok(&["repo", "create", "secret", "--private"]);
    let (_hidden, hidden) = package(&cargo, "hidden", "0.3.0");
    put_crate(&server, "secret", &token, &hidden);
    let (_gadget, gadget) = package(&cargo, "gadget", "1.0.0");
    // Never contacted: Set Me Up only shows how to use it.
    server.admin_ok(&[
        "repo",
        "create",
        "mirror",
        "--kind",
        "remote",
        "--upstream",
        "http://127.0.0.1:9/index/",
    ]);

    let checksums: serde_json::Map<String, Value> = index_lines(&server, "wi/dg/widget")
        .into_iter()
        .map(|l| (l["vers"].as_str().unwrap().to_string(), l["cksum"].clone()))
        .collect();
    let expected = json!({
        "widget": checksums,
        "private_repo": "secret",
        "private_crate": "hidden",
        "remote_repo": "mirror",
    });
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    let out = Command::new("node")
        .arg(ui_tests.join("web_ui.mjs"))
        .env("CRATEYARD_URL", &server.url)
        .env("CRATEYARD_TOKEN", &token)
        .env("CRATEYARD_UPLOAD", &gadget)
        .env("CRATEYARD_SCREENSHOTS", &screenshots)
        .env("CRATEYARD_EXPECTED", expected.to_string())
        .output()
        .expect("node runs (tests/run.sh installs Node.js' packages)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed (screenshots in {}):\n{stdout}\n{stderr}",
        screenshots.display()
    );
    // What the upload page published is really there.
    assert_eq!(
        get_json(&server, "main/ui/crates/gadget.json", None).1["versions"][0]["vers"],
        "1.0.0"
    );
}
