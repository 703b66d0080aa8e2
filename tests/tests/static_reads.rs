//! The read path: index and crate files with cargo's caching headers.

use crateyard_e2e::{Cargo, Server, publish};
use sha2::{Digest, Sha256};

#[test]
fn index_and_crate_files_have_caching_headers_and_revalidate() {
    let server = Server::start();
    let cargo = Cargo::new(&server, Some(&server.token("alice")));
    publish(&cargo, "cached", "1.0.0", "");

    let config: serde_json::Value = server.get("main/index/config.json").json().unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/main/crates/{{crate}}/{{crate}}-{{version}}.crate",
            server.url
        )
    );
    assert_eq!(config["api"], format!("{}/main", server.url));
    assert_eq!(config["auth-required"], false);

    let res = server.get("main/index/ca/ch/cached");
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/plain");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=60")
    );
    let etag = headers["etag"].to_str().unwrap().to_string();
    let last_modified = headers["last-modified"].to_str().unwrap().to_string();
    let line: serde_json::Value = serde_json::from_str(res.text().unwrap().trim()).unwrap();

    let url = format!("{}/main/index/ca/ch/cached", server.url);
    let revalidate = |name: &str, value: &str| {
        server
            .http()
            .get(&url)
            .header(name, value)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(revalidate("If-None-Match", &etag), 304);
    assert_eq!(revalidate("If-Modified-Since", &last_modified), 304);
    assert_eq!(revalidate("If-None-Match", "\"stale\""), 200);
    assert_eq!(
        revalidate("If-Modified-Since", "Thu, 01 Jan 1970 00:00:00 GMT"),
        200
    );

    // A change to the crate changes the ETag.
    publish(&cargo, "cached", "1.1.0", "");
    assert_eq!(revalidate("If-None-Match", &etag), 200);

    let res = server.get("main/crates/cached/cached-1.0.0.crate");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(res.headers().contains_key("etag") && res.headers().contains_key("last-modified"));
    let bytes = res.bytes().unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        line["cksum"].as_str().unwrap()
    );

    for missing in [
        "main/index/no/pe/nope",
        "main/index/3/n/nop",
        "main/crates/cached/cached-9.9.9.crate",
        "main/index/",
        "other/index/config.json",
        "main/index/ca/ch/.cached.tmp",
    ] {
        assert_eq!(server.get(missing).status(), 404, "{missing}");
    }
}

#[test]
fn versions_with_build_metadata_download_with_plus_or_percent_2b() {
    let server = Server::start();
    let cargo = Cargo::new(&server, Some(&server.token("alice")));
    publish(&cargo, "plus", "1.0.0+build.5", "");
    assert!(
        server
            .object("main/crates/plus/plus-1.0.0+build.5.crate")
            .exists()
    );
    assert_eq!(
        server
            .get("main/crates/plus/plus-1.0.0+build.5.crate")
            .status(),
        200
    );
    assert_eq!(
        server
            .get("main/crates/plus/plus-1.0.0%2Bbuild.5.crate")
            .status(),
        200
    );
}
