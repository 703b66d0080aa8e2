//! README.md's "Run it", as written: its blocks are read from the README
//! itself (so they cannot drift) and run in a bare environment, `USER` and
//! `LOGNAME` unset as in a container, against a real `crateyard serve`.
//!
//! Two substitutions, both because a test cannot do what a person does:
//! - `cargo run --profile P -p crateyard_server -- ARGS` runs this build's
//!   `crateyard ARGS` (no optimised build inside a test), and
//!   `target/P/crateyard` in the working directory links to it;
//! - the port: the server takes a free one (`CRATEYARD_ADDR=127.0.0.1:0`,
//!   as tests run side by side), and `127.0.0.1:7878` in the README's
//!   config and URLs becomes the address it printed.

use crateyard_e2e::crateyard_bin;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const README_ADDR: &str = "127.0.0.1:7878";

/// `cargo run … -p crateyard_server -- ARGS`: the target directory's profile
/// folder (`release` or the `--profile`'s name) and ARGS.
fn parse_serve(line: &str) -> (String, Vec<String>) {
    let (cargo, args) = line
        .trim()
        .split_once(" -- ")
        .unwrap_or_else(|| panic!("not `cargo run … -- ARGS`: {line:?}"));
    let words: Vec<&str> = cargo.split_whitespace().collect();
    assert!(
        words.starts_with(&["cargo", "run"])
            && words.windows(2).any(|w| w == ["-p", "crateyard_server"]),
        "not `cargo run … -p crateyard_server`: {line:?}"
    );
    let profile = match words.iter().position(|w| *w == "--profile") {
        Some(i) => words.get(i + 1).expect("--profile NAME").to_string(),
        None if words.contains(&"--release") => "release".into(),
        None => "debug".into(),
    };
    (
        profile,
        args.split_whitespace().map(str::to_string).collect(),
    )
}

/// The fenced blocks of the "Run it" section, in order: (language, text).
fn run_it_blocks() -> (Vec<(String, String)>, String) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("README.md is readable");
    let start = readme
        .find("\n## Run it\n")
        .expect("README has a `## Run it` section");
    let rest = &readme[start + 1..];
    let section = &rest[..rest[1..].find("\n## ").map_or(rest.len(), |end| end + 1)];
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in section.lines() {
        match (line.strip_prefix("```"), &mut open) {
            (Some(_), Some(_)) => blocks.push(open.take().expect("a block is open")),
            (Some(lang), None) => open = Some((lang.to_string(), String::new())),
            (None, Some((_, text))) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "an unclosed block in README's Run it");
    (blocks, section.to_string())
}

/// The environment of a fresh container: no login name, and none of this
/// machine's Crateyard or cargo settings.
fn bare(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CRATEYARD_") || name.starts_with("CARGO_REGISTR") {
            command.env_remove(name.as_ref());
        }
    }
    command
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env("CARGO_TERM_COLOR", "never")
}

/// Ends the server however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn readme_run_it_works_verbatim_without_user() {
    let (blocks, section) = run_it_blocks();
    let langs: Vec<&str> = blocks.iter().map(|(lang, _)| lang.as_str()).collect();
    assert_eq!(
        langs,
        ["sh", "toml", "sh"],
        "README's Run it changed shape: update this test with it"
    );
    let (serve, config, commands) = (&blocks[0].1, &blocks[1].1, &blocks[2].1);

    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("clone");
    let cargo_home = dir.path().join("cargo-home");
    let (profile, args) = parse_serve(serve);
    std::fs::create_dir_all(work.join("target").join(&profile)).unwrap();
    std::fs::create_dir_all(&cargo_home).unwrap();
    let bin = crateyard_bin();
    std::os::unix::fs::symlink(&bin, work.join("target").join(&profile).join("crateyard")).unwrap();

    // 1. The server, started as the first block says.
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut server = Running(
        bare(&mut Command::new(&bin))
            .args(&args)
            .current_dir(&work)
            .env("CRATEYARD_ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("crateyard serve starts"),
    );
    let mut banner = String::new();
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap());
    // The banner ends with the `cargo login` line.
    while !banner.contains("cargo login") {
        let read = stdout.read_line(&mut banner).unwrap();
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        assert!(
            read > 0,
            "serve stopped before its banner:\n{banner}\n{log}"
        );
    }
    let addr = banner
        .lines()
        .find_map(|l| l.strip_prefix("Crateyard is running at http://"))
        .and_then(|l| l.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no address in the banner:\n{banner}"))
        .to_string();
    assert!(
        work.join("crateyard-data").is_dir(),
        "the data directory is not ./crateyard-data"
    );

    // 2. The config the README shows is the one the server prints.
    let config = config.replace(README_ADDR, &addr);
    assert!(
        banner.contains(config.trim()),
        "README's config.toml block differs from serve's:\n{config}\n---\n{banner}"
    );
    std::fs::write(cargo_home.join("config.toml"), &config).unwrap();

    // 3. The second block, as one `sh -e` script in the same directory.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let path = match Path::new(&cargo).parent() {
        Some(dir) if dir.is_absolute() => format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        _ => std::env::var("PATH").unwrap_or_default(),
    };
    let out = bare(&mut Command::new("sh"))
        .arg("-e")
        .arg("-c")
        .arg(commands)
        .current_dir(&work)
        .env("CARGO_HOME", &cargo_home)
        .env("PATH", path)
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "README's commands failed:\n{commands}\n--- stdout\n{}\n--- stderr\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("for `you` (the default without $USER"),
        "{stderr}"
    );

    // 4. What was published is served, and so is the web UI the README names.
    let http = reqwest::blocking::Client::new();
    let published = commands.lines().find_map(|l| {
        l.strip_prefix("cargo new --lib ")
            .and_then(|rest| rest.split_whitespace().next())
    });
    let name = published.expect("the commands make a crate with `cargo new --lib NAME`");
    let index = http
        .get(format!("http://{addr}/main/index/{}", index_path(name)))
        .send()
        .unwrap();
    assert_eq!(index.status(), 200, "{name} is not in the index");
    assert!(
        index
            .text()
            .unwrap()
            .contains(&format!("\"name\":\"{name}\""))
    );
    let ui = section
        .split('`')
        .find(|s| s.starts_with(&format!("http://{README_ADDR}/ui/")))
        .expect("Run it names the web UI's URL")
        .replace(README_ADDR, &addr);
    assert_eq!(http.get(&ui).send().unwrap().status(), 200, "{ui}");
}

/// cargo's sparse-index path of a crate name.
fn index_path(name: &str) -> String {
    match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}
