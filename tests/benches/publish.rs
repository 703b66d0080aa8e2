//! Publish latency in local mode: server-side time (the `Server-Timing`
//! header of each upload) and client wall time, p50/p99, as the registry
//! grows and as one crate gathers versions. Every tarball check runs.
//!
//! `cargo build --release -p crateyard_server && cargo bench -p crateyard_e2e --bench publish`
//! (with `CRATEYARD_TEST_MOTO=http://127.0.0.1:PORT` of a running
//! moto_server, the AWS backend is measured too).

use crateyard_e2e::{Server, machine_load};
use crateyard_tarball::TarballBuilder;
use std::time::Instant;

const SAMPLES: usize = 100;

fn crate_file(name: &str, version: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"bench\"\n\
         [dependencies]\nserde = \"1\"\nlibc = {{ version = \"0.2\", optional = true }}\n[features]\ndefault = [\"std\"]\nstd = []\n"
    );
    TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .file("src/lib.rs", b"pub fn f() {}\n")
        .file("README.md", b"# bench\n")
        .build()
}

struct Uploader {
    client: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Uploader {
    /// Returns (server-side ms, client wall ms).
    fn upload(&self, name: &str, version: &str) -> (f64, f64) {
        let body = crate_file(name, version);
        let started = Instant::now();
        let res = self
            .client
            .put(format!(
                "{}/main/crates/{name}/{name}-{version}.crate",
                self.url
            ))
            .header("Authorization", format!("Bearer {}", self.token))
            .body(body)
            .send()
            .unwrap();
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(res.status(), 201, "{}", res.text().unwrap_or_default());
        let timing = res.headers()["server-timing"].to_str().unwrap();
        let server: f64 = timing.rsplit("dur=").next().unwrap().parse().unwrap();
        (server, wall)
    }
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, samples: Vec<(f64, f64)>) {
    let (mut server, mut wall): (Vec<f64>, Vec<f64>) = samples.into_iter().unzip();
    println!(
        "| {label} | {:.2} | {:.2} | {:.2} | {:.2} |",
        percentile(&mut server, 0.5),
        percentile(&mut server, 0.99),
        percentile(&mut wall, 0.5),
        percentile(&mut wall, 0.99)
    );
}

/// Publishes `SAMPLES` new crates and `SAMPLES` new versions of one crate.
fn bench_backend(label: &str, server: &Server) {
    let uploader = Uploader {
        client: reqwest::blocking::Client::new(),
        url: server.url.clone(),
        token: server.token("bench"),
    };
    let samples = (0..SAMPLES)
        .map(|i| uploader.upload(&format!("solo{i}"), "1.0.0"))
        .collect();
    report(&format!("{label}: new crate"), samples);
    let samples = (0..SAMPLES)
        .map(|i| uploader.upload("steady", &format!("1.{i}.0")))
        .collect();
    report(
        &format!("{label}: new version (up to {SAMPLES} versions)"),
        samples,
    );
}

/// The bytes the web UI reads to show a crate: its page and, where there
/// are version pages, the newest version's (plain and gzipped).
fn page_bytes(server: &Server, name: &str) -> (usize, usize) {
    let read = |path: &str, gzip: bool| {
        // reqwest is built without gzip here: the body is as sent.
        let mut request =
            reqwest::blocking::Client::new().get(format!("{}/main/ui/{path}", server.url));
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let response = request.send().unwrap();
        assert!(response.status().is_success(), "{path}");
        response.bytes().unwrap()
    };
    let page = read(&format!("crates/{name}.json"), false);
    let page: serde_json::Value = serde_json::from_slice(&page).unwrap();
    let mut paths = vec![format!("crates/{name}.json")];
    paths.extend(page["versions"][0]["details"].as_str().map(str::to_string));
    paths.iter().fold((0, 0), |(plain, gzipped), path| {
        (
            plain + read(path, false).len(),
            gzipped + read(path, true).len(),
        )
    })
}

fn main() {
    println!(
        "Publish latency, {SAMPLES} samples each (ms); before: {}\n",
        machine_load()
    );
    println!(
        "| registry state | server p50 | server p99 | client p50 | client p99 |\n|---|---|---|---|---|"
    );
    if std::env::var_os("CRATEYARD_TEST_MOTO").is_some() {
        bench_backend("AWS backend on moto", &Server::start_aws());
    }
    let server = Server::start();
    let uploader = Uploader {
        client: reqwest::blocking::Client::new(),
        url: server.url.clone(),
        token: server.token("bench"),
    };
    let mut crates = 0;
    for size in [10, 1_000, 10_000] {
        while crates < size {
            uploader.upload(&format!("filler{crates}"), "1.0.0");
            crates += 1;
        }
        let samples = (0..SAMPLES)
            .map(|i| uploader.upload(&format!("new{size}x{i}"), "1.0.0"))
            .collect();
        report(&format!("local, {size} crates: new crate"), samples);
        crates += SAMPLES;
    }
    let mut pages = Vec::new();
    for versions in [10, 1_000] {
        let name = format!("many{versions}");
        for published in 0..versions {
            uploader.upload(&name, &format!("0.{published}.0"));
        }
        let samples = (0..SAMPLES)
            .map(|i| uploader.upload(&name, &format!("1.{i}.0")))
            .collect();
        report(
            &format!("local, crate with {versions} versions: new version"),
            samples,
        );
        pages.push((versions + SAMPLES, page_bytes(&server, &name)));
    }
    for (versions, (page, gzipped)) in pages {
        println!(
            "\ncrate page with {versions} versions: {page} bytes ({gzipped} gzipped), what the web UI reads for it"
        );
    }
    println!("\nafter: {}", machine_load());
}
