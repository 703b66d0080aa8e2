//! The AWS backend end to end, on moto_server: cargo publishes through the
//! API server, and a consumer builds reading index and crates straight from
//! the S3 endpoint, so no code of ours runs on the read path.

use crateyard_e2e::{Cargo, Project, REGISTRY, Server, index_lines, publish};

#[test]
fn aws_publish_through_the_api_and_build_from_s3() {
    let mut server = Server::start_aws();
    assert_ne!(server.public_url, server.url);
    let token = server.token("alice");
    let cargo = Cargo::new(&server, Some(&token));

    let config: serde_json::Value = server.get("main/index/config.json").json().unwrap();
    assert_eq!(
        config["dl"],
        format!(
            "{}/main/crates/{{crate}}/{{crate}}-{{version}}.crate",
            server.public_url
        )
    );
    assert_eq!(config["api"], format!("{}/main", server.url));

    publish(&cargo, "cloudy", "1.0.0", "[features]\nextra = []\n");
    publish(&cargo, "cloudy", "1.1.0", "[features]\nextra = []\n");
    let lines = index_lines(&server, "cl/ou/cloudy");
    assert_eq!(
        lines
            .iter()
            .map(|l| l["vers"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["1.0.0", "1.1.0"]
    );

    // Stop the API server: reads must not need it.
    server.stop();

    let app = Project::new(
        "app",
        "0.1.0",
        &format!("[dependencies]\ncloudy = {{ version = \"1\", registry = \"{REGISTRY}\" }}\n"),
    );
    app.write(
        "src/lib.rs",
        "pub fn f() -> &'static str { cloudy::cloudy() }\n",
    );
    let out = cargo.ok(app.path(), &["build"]);
    assert!(out.contains("Compiling cloudy v1.1.0"), "{out}");
}
