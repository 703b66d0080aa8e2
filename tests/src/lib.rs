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

/// Where [`Server::start_logged`] keeps the server's log, in its data directory.
const LOG_FILE: &str = "server.log";

pub mod aws_calls;
pub mod edge;
pub mod generate;
pub mod snapshot;

/// The `crateyard` binary of this build (`cargo test` builds it for the
/// server crate's own integration tests).
pub fn crateyard_bin() -> PathBuf {
    built_binary("crateyard")
}

/// A binary of this build, by name: `crateyard`, or a Lambda function's
/// (`api`, `setup`…; `cargo test` builds them for their crates' own tests).
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let bin = dir.join(name);
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `cargo build --workspace` or `cargo test --workspace`",
                bin.display()
            )
        });
    // A binary older than the code it is built from would test old code:
    // refuse it (`cargo test -p crateyard_e2e` alone does not rebuild it).
    // The sources are the ones cargo's dep-info file lists for it.
    if let Some(newer) = newest_source(&dir.join(format!("{name}.d"))).filter(|(at, _)| *at > built)
    {
        panic!(
            "{} is older than {}: run `cargo build --workspace` (or `cargo test --workspace`)",
            bin.display(),
            newer.1.display()
        );
    }
    bin
}

/// The most recently modified of the sources a cargo dep-info file
/// (`target/<profile>/NAME.d`: `OUTPUT: SOURCE SOURCE…`) lists.
fn newest_source(dep_info: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let text = std::fs::read_to_string(dep_info).ok()?;
    let (_, sources) = text.lines().next()?.split_once(": ")?;
    sources
        .split_whitespace()
        .map(PathBuf::from)
        .filter_map(|path| Some((std::fs::metadata(&path).ok()?.modified().ok()?, path)))
        .max_by_key(|(at, _)| *at)
}

/// "N cores, load average A B C": printed beside every benchmark figure.
pub fn machine_load() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let averages: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{cores} cores, load average {}", averages.join(" "))
}

/// A running `crateyard serve`: local mode on a temporary data directory,
/// or the AWS backend on a bucket and table of a moto_server.
pub struct Server {
    child: Child,
    /// Where the server itself answers (the API, and local mode's reads).
    pub url: String,
    /// Where cargo reads the index and crates: the server, or the S3 endpoint.
    pub public_url: String,
    data: Arc<TempDir>,
    storage: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    pub fn start() -> Self {
        let data = Arc::new(tempfile::tempdir().expect("temp dir"));
        let storage = vec!["--data".to_string(), data.path().display().to_string()];
        Self::spawn(data, storage, Vec::new(), None)
    }

    /// Local mode, the server's environment adding `extra`.
    pub fn start_with(extra: &[(&str, &str)]) -> Self {
        let data = Arc::new(tempfile::tempdir().expect("temp dir"));
        let storage = vec!["--data".to_string(), data.path().display().to_string()];
        let env = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::spawn(data, storage, env, None)
    }

    /// Local mode, with the server's info-level log kept for [`Server::log`].
    pub fn start_logged() -> Self {
        let data = Arc::new(tempfile::tempdir().expect("temp dir"));
        let storage = vec!["--data".to_string(), data.path().display().to_string()];
        let env = vec![("RUST_LOG".to_string(), "info".to_string())];
        Self::spawn(data, storage, env, None)
    }

    /// What a server from [`Server::start_logged`] has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data().join(LOG_FILE)).unwrap_or_default()
    }

    /// The AWS backend on a new bucket and table of the moto_server named by
    /// `CRATEYARD_TEST_MOTO`, created with `crateyard setup`. Index and crate
    /// files are read from the S3 endpoint itself, as from CloudFront.
    pub fn start_aws() -> Self {
        let endpoint = std::env::var("CRATEYARD_TEST_MOTO").expect(
            "CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)",
        );
        Self::start_aws_at(&endpoint)
    }

    /// The AWS backend at `endpoint` (moto, or something in front of it).
    pub fn start_aws_at(endpoint: &str) -> Self {
        Self::start_aws_with(endpoint, &[])
    }

    /// [`Self::start_aws_at`], the server's environment adding `extra`.
    pub fn start_aws_with(endpoint: &str, extra: &[(&str, &str)]) -> Self {
        let endpoint = endpoint.to_string();
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (bucket, table) = (
            format!("cy-e2e-{}-{n}", std::process::id()),
            format!("cy-e2e-{}-{n}", std::process::id()),
        );
        let env = vec![
            ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ];
        let storage = vec![
            "--bucket".to_string(),
            bucket.clone(),
            "--table".to_string(),
            table,
        ];
        let setup = Command::new(crateyard_bin())
            .arg("setup")
            .args(&storage)
            .envs(env.clone())
            .output()
            .expect("crateyard runs");
        assert!(
            setup.status.success(),
            "setup: {}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let public_url = format!("{endpoint}/{bucket}");
        let env = env
            .into_iter()
            .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        Self::spawn(
            Arc::new(tempfile::tempdir().expect("temp dir")),
            storage,
            env,
            Some(public_url),
        )
    }

    /// The AWS backend's bucket and table, as `--bucket` and `--table` name them.
    pub fn aws_storage(&self) -> Option<(&str, &str)> {
        let value = |flag: &str| {
            let at = self.storage.iter().position(|a| a == flag)?;
            self.storage.get(at + 1).map(String::as_str)
        };
        Some((value("--bucket")?, value("--table")?))
    }

    /// Whether it runs on the AWS backend (S3 and DynamoDB on moto).
    pub fn is_aws(&self) -> bool {
        self.storage.iter().any(|arg| arg == "--bucket")
    }

    /// A second server process on this one's storage, as two Lambdas share
    /// one bucket and table.
    pub fn start_beside(&self) -> Self {
        let public_url = (self.public_url != self.url).then(|| self.public_url.clone());
        Self::spawn(
            self.data.clone(),
            self.storage.clone(),
            self.env.clone(),
            public_url,
        )
    }

    /// Stops this server with SIGTERM; it must exit cleanly.
    pub fn stop(&mut self) {
        let status = self.terminate();
        assert!(
            status.is_some_and(|s| s.success()),
            "graceful shutdown on SIGTERM: {status:?}"
        );
    }

    /// Kills this server with SIGKILL: no shutdown at all, as a crash or an
    /// OOM kill. Start another on its storage with [`Server::start_beside`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops this server and starts a new one on its storage.
    pub fn restart(mut self) -> Self {
        self.stop();
        self.start_beside()
    }

    fn spawn(
        data: Arc<TempDir>,
        storage: Vec<String>,
        env: Vec<(String, String)>,
        public_url: Option<String>,
    ) -> Self {
        let mut command = Command::new(crateyard_bin());
        command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(&storage)
            .env("RUST_LOG", "warn")
            .envs(env.clone());
        if let Some(public_url) = &public_url {
            command.args(["--public-url", public_url]);
        }
        let logged = env.iter().any(|(k, _)| k == "RUST_LOG");
        let stderr = if logged {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.path().join(LOG_FILE))
                .expect("log file");
            Stdio::from(log)
        } else {
            Stdio::inherit()
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
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
        Self {
            child,
            public_url: public_url.unwrap_or_else(|| url.clone()),
            url,
            data,
            storage,
            env,
        }
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

    pub fn index_url(&self) -> String {
        format!("sparse+{}/main/index/", self.public_url)
    }

    /// The server's process id (for its memory, in benchmarks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs `crateyard ARGS` on this server's storage and returns its output.
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(crateyard_bin())
            .args(args)
            .args(&self.storage)
            .envs(self.env.clone())
            .output()
            .expect("crateyard runs")
    }

    /// Runs `crateyard ARGS` like [`Server::admin`], panics unless it
    /// succeeds, and returns what it wrote to stderr.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "crateyard {args:?}: {stderr}");
        stderr
    }

    /// A new token for `user`, from `crateyard token create`.
    pub fn token(&self, user: &str) -> String {
        self.token_with(&["--user", user])
    }

    /// A new token from `crateyard token create ARGS` (`--user`, limits).
    pub fn token_with(&self, args: &[&str]) -> String {
        let mut all = vec!["token", "create"];
        all.extend(args);
        let out = self.admin(&all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// An object under the data directory, by key.
    /// Local mode's data directory.
    pub fn data(&self) -> &Path {
        self.data.path()
    }

    /// An object under the data directory, by key (local mode).
    pub fn object(&self, key: &str) -> PathBuf {
        self.data().join("objects").join(key)
    }

    pub fn http(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::new()
    }

    /// GETs a path of the public URL space (index, crates) or of the API.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        let base = if path.contains("/api/") {
            &self.url
        } else {
            &self.public_url
        };
        self.http()
            .get(format!("{base}/{path}"))
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
        Self::with_index(&server.index_url(), token)
    }

    /// Cargo pointed at a sparse index URL (`sparse+…`) of its own.
    pub fn with_index(index_url: &str, token: Option<&str>) -> Self {
        Self {
            home: tempfile::tempdir().expect("temp dir"),
            index_url: index_url.into(),
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
            .env(
                format!(
                    "CARGO_REGISTRIES_{}_CREDENTIAL_PROVIDER",
                    REGISTRY.to_uppercase()
                ),
                "cargo:token",
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

/// `cargo publish` to the test registry, without building the package first.
pub const PUBLISH: [&str; 5] = [
    "publish",
    "--registry",
    REGISTRY,
    "--no-verify",
    "--allow-dirty",
];

/// Publishes a minimal crate with cargo; panics on failure.
pub fn publish(cargo: &Cargo, name: &str, version: &str, manifest_tail: &str) {
    let project = Project::new(name, version, manifest_tail);
    cargo.ok(project.path(), &PUBLISH);
}

/// A minimal `.crate` for `name` `version`, built in memory; `marker` is
/// its `src/lib.rs`, so two markers make two different files of one version.
pub fn crate_bytes(name: &str, version: &str, marker: &str) -> Vec<u8> {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    crateyard_tarball::TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", marker.as_bytes())
        .build()
}

/// The parsed lines of a crate's index file, fetched over HTTP.
/// Every file under `root` (a git checkout's `.git` aside), by
/// `/`-separated relative path, in path order.
pub fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_name() == ".git" {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                files.push((relative.replace('\\', "/"), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

pub fn index_lines(server: &Server, path: &str) -> Vec<serde_json::Value> {
    let res = server.get(&format!("main/index/{path}"));
    assert_eq!(res.status(), 200, "index file {path}");
    res.text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A `cargo publish` request body: JSON metadata and `.crate`, each after
/// its length as a little-endian u32.
pub fn publish_body(metadata: &serde_json::Value, tarball: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(metadata).unwrap();
    let mut body = Vec::new();
    body.extend((json.len() as u32).to_le_bytes());
    body.extend(&json);
    body.extend((tarball.len() as u32).to_le_bytes());
    body.extend(tarball);
    body
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
