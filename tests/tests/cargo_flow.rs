//! The whole life of crates driven by the real cargo: login, publish with
//! every kind of dependency, build a consumer, yank, owners, search, info.

use crateyard_e2e::{Cargo, PUBLISH, Project, REGISTRY, Server, index_lines, publish};

fn dep(name: &str, req: &str) -> String {
    format!("{name} = {{ version = \"{req}\", registry = \"{REGISTRY}\" }}\n")
}

#[test]
fn cargo_full_registry_workflow() {
    let server = Server::start();
    let alice = server.token("alice");
    let cargo = Cargo::new(&server, Some(&alice));

    // `cargo login` stores the token; publishing then needs no variable.
    let logged_in = Cargo::new(&server, None);
    let scratch = tempfile::tempdir().unwrap();
    logged_in.ok(scratch.path(), &["login", "--registry", REGISTRY, &alice]);
    publish(
        &logged_in,
        "base",
        "1.0.0",
        "[features]\ndefault = [\"std\"]\nstd = []\nextra = []\n",
    );
    publish(
        &cargo,
        "base",
        "1.1.0",
        "[features]\ndefault = [\"std\"]\nstd = []\nextra = []\n",
    );
    for name in ["helper", "tdep", "devdep", "builddep"] {
        publish(&cargo, name, "0.1.0", "");
    }
    publish(&cargo, "optdep", "0.1.0", "[features]\nfast = []\n");

    // A crate using every dependency form, published with verification
    // (cargo builds it from the registry's own downloads).
    let fancy = Project::new(
        "fancy",
        "0.1.0",
        &format!(
            "build = \"build.rs\"\n\n[dependencies]\nbase = {{ version = \"1.0\", registry = \"{REGISTRY}\", features = [\"extra\"], default-features = false }}\n\
             renamed = {{ package = \"helper\", version = \"0.1\", registry = \"{REGISTRY}\" }}\n\
             optdep = {{ version = \"0.1\", registry = \"{REGISTRY}\", optional = true }}\n\n\
             [target.'cfg(unix)'.dependencies]\n{}\n[dev-dependencies]\n{}\n[build-dependencies]\n{}\n\
             [features]\nwith-opt = [\"dep:optdep\"]\nweak = [\"optdep?/fast\"]\nplain = []\n",
            dep("tdep", "0.1"),
            dep("devdep", "0.1"),
            dep("builddep", "0.1")
        ),
    );
    fancy.write("build.rs", "fn main() { let _ = builddep::builddep(); }\n");
    fancy.write(
        "src/lib.rs",
        "pub fn answer() -> u32 { let _ = renamed::helper(); let _ = base::base(); 42 }\n",
    );
    cargo.ok(
        fancy.path(),
        &["publish", "--registry", REGISTRY, "--allow-dirty"],
    );

    let readme =
        std::fs::read_to_string(server.object("main/ui/readmes/fancy/0.1.0.html")).unwrap();
    assert_eq!(
        readme, "<h3>fancy</h3>\n",
        "the README is rendered for the crate page"
    );

    let lines = index_lines(&server, "fa/nc/fancy");
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["name"], "fancy");
    assert_eq!(line["vers"], "0.1.0");
    assert_eq!(line["yanked"], false);
    assert_eq!(line["v"], 2);
    assert_eq!(line["features"], serde_json::json!({ "plain": [] }));
    assert_eq!(
        line["features2"],
        serde_json::json!({ "with-opt": ["dep:optdep"], "weak": ["optdep?/fast"] })
    );
    assert!(line["pubtime"].as_str().unwrap().ends_with('Z'));
    let deps = line["deps"].as_array().unwrap();
    let find = |name: &str| {
        deps.iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("no dep {name} in {deps:?}"))
    };
    assert_eq!(find("base")["req"], "^1.0");
    assert_eq!(find("base")["features"], serde_json::json!(["extra"]));
    assert_eq!(find("base")["default_features"], false);
    assert_eq!(find("renamed")["package"], "helper");
    assert_eq!(find("optdep")["optional"], true);
    assert_eq!(find("tdep")["target"], "cfg(unix)");
    assert_eq!(find("devdep")["kind"], "dev");
    assert_eq!(find("builddep")["kind"], "build");
    assert!(
        deps.iter().all(|d| d.get("registry").is_none()),
        "same-registry deps carry no registry: {deps:?}"
    );

    // A consumer builds through the registry, optional dependency included.
    let app = Project::new(
        "app",
        "0.1.0",
        &format!(
            "[dependencies]\nfancy = {{ version = \"0.1\", registry = \"{REGISTRY}\", features = [\"with-opt\"] }}\n"
        ),
    );
    app.write("src/lib.rs", "pub fn run() -> u32 { fancy::answer() }\n");
    let out = cargo.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling fancy v0.1.0"), "{out}");
    let lock = std::fs::read_to_string(app.path().join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"optdep\""), "{lock}");
    assert!(
        lock.contains("name = \"base\"\nversion = \"1.1.0\""),
        "{lock}"
    );

    // Yank: new resolutions skip the version; unyank brings it back.
    cargo.ok(
        scratch.path(),
        &["yank", "--registry", REGISTRY, "base@1.1.0"],
    );
    assert_eq!(index_lines(&server, "ba/se/base")[1]["yanked"], true);
    let fresh = Project::new(
        "fresh",
        "0.1.0",
        &format!("[dependencies]\n{}", dep("base", "1")),
    );
    cargo.ok(fresh.path(), &["generate-lockfile"]);
    let lock = std::fs::read_to_string(fresh.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"base\"\nversion = \"1.0.0\""),
        "yanked 1.1.0 must not be chosen:\n{lock}"
    );
    cargo.ok(
        scratch.path(),
        &["yank", "--registry", REGISTRY, "--undo", "base@1.1.0"],
    );
    assert_eq!(index_lines(&server, "ba/se/base")[1]["yanked"], false);
    cargo.ok(fresh.path(), &["update"]);
    let lock = std::fs::read_to_string(fresh.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"base\"\nversion = \"1.1.0\""),
        "{lock}"
    );

    // Owners: bob can publish base only while he is an owner.
    let bob = server.token("bob");
    let bob_cargo = Cargo::new(&server, Some(&bob));
    let project = Project::new("base", "1.2.0", "");
    let (ok, _, stderr) = bob_cargo.run(project.path(), &PUBLISH);
    assert!(
        !ok && stderr.contains("you (`bob`) are not an owner of crate `base`"),
        "{stderr}"
    );
    let out = cargo.ok(
        scratch.path(),
        &["owner", "--registry", REGISTRY, "--add", "bob", "base"],
    );
    assert!(out.contains("bob now owns crate base"), "{out}");
    let out = cargo.ok(
        scratch.path(),
        &["owner", "--registry", REGISTRY, "--list", "base"],
    );
    assert!(out.contains("alice") && out.contains("bob"), "{out}");
    bob_cargo.ok(project.path(), &PUBLISH);
    cargo.ok(
        scratch.path(),
        &["owner", "--registry", REGISTRY, "--remove", "bob", "base"],
    );
    let out = cargo.ok(
        scratch.path(),
        &["owner", "--registry", REGISTRY, "--list", "base"],
    );
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");
    let (ok, _, stderr) = cargo.run(
        scratch.path(),
        &["owner", "--registry", REGISTRY, "--add", "carol", "base"],
    );
    assert!(
        !ok && stderr.contains("user `carol` does not exist"),
        "{stderr}"
    );

    // Search and info.
    let out = cargo.ok(scratch.path(), &["search", "--registry", REGISTRY, "fanc"]);
    assert!(
        out.contains("fancy = \"0.1.0\"") && out.contains("The fancy crate, for tests"),
        "{out}"
    );
    let out = cargo.ok(
        scratch.path(),
        &["search", "--registry", REGISTRY, "--limit", "2", "d"],
    );
    assert!(out.contains("... and 2 crates more"), "{out}");
    let out = cargo.ok(scratch.path(), &["info", "--registry", REGISTRY, "fancy"]);
    assert!(
        out.contains("The fancy crate, for tests") && out.contains("0.1.0") && out.contains("MIT"),
        "{out}"
    );
}
