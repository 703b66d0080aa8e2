//! Test harness: a real `crateyard serve` on 127.0.0.1 and the real `cargo`
//! with an isolated `CARGO_HOME`, configured only through environment
//! variables as a CI job would be.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use tempfile::TempDir;

/// The registry name cargo knows the server by in these tests.
pub const REGISTRY: &str = "cy";

/// The `crateyard` binary of this build (`cargo test` builds it for the
/// server crate's own integration tests).
pub fn crateyard_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let bin = dir.join("crateyard");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` or `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// A running local-mode server on a temporary data directory.
pub struct Server {
    child: Child,
    pub url: String,
    data: Arc<TempDir>,
}

impl Server {
    pub fn start() -> Self {
        Self::spawn(Arc::new(tempfile::tempdir().expect("temp dir")))
    }

    /// A second server process on this one's data directory, as two Lambdas
    /// share one bucket and table.
    pub fn start_beside(&self) -> Self {
        Self::spawn(self.data.clone())
    }

    /// Stops this server with SIGTERM (it must exit cleanly) and starts a
    /// new one on its data.
    pub fn restart(mut self) -> Self {
        let status = self.terminate();
        assert!(
            status.is_some_and(|s| s.success()),
            "graceful shutdown on SIGTERM: {status:?}"
        );
        Self::spawn(self.data.clone())
    }

    fn spawn(data: Arc<TempDir>) -> Self {
        let mut child = Command::new(crateyard_bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("crateyard starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stdout = BufReader::new(stdout);
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("the server prints its URL");
        // Keep draining, as a terminal would.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("Crateyard is running at ")
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Self { child, url, data }
    }

    /// SIGTERM, then the exit status (`None` if it had already been reaped).
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return None;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().ok()
    }

    pub fn data(&self) -> &Path {
        self.data.path()
    }

    pub fn index_url(&self) -> String {
        format!("sparse+{}/main/index/", self.url)
    }

    /// Runs `crateyard ARGS --data DIR` and returns its output.
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(crateyard_bin())
            .args(args)
            .arg("--data")
            .arg(self.data())
            .output()
            .expect("crateyard runs")
    }

    /// A new token for `user`, from `crateyard token create`.
    pub fn token(&self, user: &str) -> String {
        let out = self.admin(&["token", "create", "--user", user]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// An object under the data directory, by key.
    pub fn object(&self, key: &str) -> PathBuf {
        self.data().join("objects").join(key)
    }

    pub fn http(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::new()
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.http()
            .get(format!("{}/{path}", self.url))
            .send()
            .expect("GET")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.terminate();
    }
}

/// The real cargo with its own `CARGO_HOME`, pointed at a server.
pub struct Cargo {
    pub home: TempDir,
    index_url: String,
    token: Option<String>,
}

impl Cargo {
    pub fn new(server: &Server, token: Option<&str>) -> Self {
        Self {
            home: tempfile::tempdir().expect("temp dir"),
            index_url: server.index_url(),
            token: token.map(str::to_string),
        }
    }

    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(args)
            .current_dir(dir)
            .env("CARGO_HOME", self.home.path())
            .env(
                format!("CARGO_REGISTRIES_{}_INDEX", REGISTRY.to_uppercase()),
                &self.index_url,
            )
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_REGISTRY_TOKEN")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        if let Some(token) = &self.token {
            cmd.env(
                format!("CARGO_REGISTRIES_{}_TOKEN", REGISTRY.to_uppercase()),
                token,
            );
        }
        cmd
    }

    /// Runs cargo and returns (success, stdout, stderr).
    pub fn run(&self, dir: &Path, args: &[&str]) -> (bool, String, String) {
        let out = self.command(dir, args).output().expect("cargo runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// Runs cargo and panics with its output unless it succeeds.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(dir, args);
        assert!(ok, "cargo {args:?} failed:\n{stdout}\n{stderr}");
        stdout + &stderr
    }
}

/// A crate on disk to publish or build.
pub struct Project {
    pub dir: TempDir,
}

impl Project {
    /// `manifest_tail` goes after the `[package]` table.
    pub fn new(name: &str, version: &str, manifest_tail: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
             description = \"The {name} crate, for tests\"\nlicense = \"MIT\"\n\
             repository = \"https://example.com/{name}\"\nkeywords = [\"test\"]\n\n{manifest_tail}"
        );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("src/lib.rs"),
            format!(
                "pub fn {}() -> &'static str {{ \"{version}\" }}\n",
                name.replace('-', "_")
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), format!("# {name}\n")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, file: &str, content: &str) -> &Self {
        let path = self.dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }
}

/// Publishes a minimal crate with cargo and returns nothing; panics on failure.
pub fn publish(cargo: &Cargo, name: &str, version: &str, manifest_tail: &str) {
    let project = Project::new(name, version, manifest_tail);
    cargo.ok(
        project.path(),
        &[
            "publish",
            "--registry",
            REGISTRY,
            "--no-verify",
            "--allow-dirty",
        ],
    );
}

/// The parsed lines of a crate's index file, fetched over HTTP.
pub fn index_lines(server: &Server, path: &str) -> Vec<serde_json::Value> {
    let res = server.get(&format!("main/index/{path}"));
    assert_eq!(res.status(), 200, "index file {path}");
    res.text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `detail` of a cargo-style error body.
pub fn error_detail(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    v["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no errors[0].detail in {body}"))
        .to_string()
}
