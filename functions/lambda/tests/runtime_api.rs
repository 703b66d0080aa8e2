//! The Lambda binaries tested as Lambdas: each real executable runs against
//! a small Lambda Runtime API emulator on 127.0.0.1 and receives real event
//! payloads (API Gateway HTTP API 2.0 for `api`, a JSON request for
//! `reindex`); S3 and DynamoDB are moto_server's.

use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use crateyard_aws::{AwsClients, aws_registry, create_bucket, create_table};
use crateyard_core::{DerivedFiles, JobState, RegistryConfig, Upload, version_key};
use crateyard_e2e::edge::lambda::Function;
use crateyard_e2e::edge::s3_events::{ObjectCreated, s3_notification};
use crateyard_tarball::TarballBuilder;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

fn http_event(
    id: &str,
    method: &str,
    path: &str,
    query: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Value {
    let mut headers = json!({ "host": "api.example.com", "user-agent": "cargo/1.95.0" });
    if let Some(token) = token {
        headers["authorization"] = token.into();
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "cargo/1.95.0" },
            "requestId": id, "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:20:00:00 +0000", "timeEpoch": 1_795_000_000_000u64
        },
        "body": body.map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        "isBase64Encoded": body.is_some(),
    })
}

fn publish_frame(name: &str, version: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\ndescription = \"from a lambda\"\n"
    );
    let tarball = TarballBuilder::new(&format!("{name}-{version}"))
        .file("Cargo.toml", manifest.as_bytes())
        .build();
    let json =
        serde_json::to_vec(&json!({ "name": name, "vers": version, "deps": [], "features": {} }))
            .unwrap();
    let mut body = (json.len() as u32).to_le_bytes().to_vec();
    body.extend(&json);
    body.extend((tarball.len() as u32).to_le_bytes());
    body.extend(&tarball);
    body
}

/// A function binary: this build's, or the one in `$CRATEYARD_LAMBDA_BIN_DIR`
/// (such as `target/lambda`, to time the deployable build's start).
fn binary(name: &str, built: &str) -> String {
    match std::env::var("CRATEYARD_LAMBDA_BIN_DIR") {
        Ok(dir) => format!("{dir}/{name}"),
        Err(_) => built.to_string(),
    }
}

/// A function under the Runtime API emulator the test edge uses
/// (`crateyard_e2e::edge::lambda`), with Lambda's variables for a test.
struct Lambda(Function);

impl Lambda {
    async fn start(binary: &str, env: &[(&str, &str)]) -> Self {
        let mut all: BTreeMap<String, String> = [("RUST_LOG", "warn")]
            .into_iter()
            .chain(env.iter().copied())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.entry("AWS_REGION".into())
            .or_insert_with(|| "us-east-1".into());
        Self(Function::new("crateyard", binary.into(), all))
    }

    /// The function's result, or `{"runtime_error": …}` with what it
    /// reported to the Runtime API.
    async fn invoke(&mut self, event: Value) -> Value {
        self.0
            .invoke(event)
            .await
            .unwrap_or_else(|e| json!({ "runtime_error": e }))
    }

    /// The process's peak resident memory so far (VmHWM), in KiB.
    async fn peak_memory_kib(&self) -> u64 {
        self.0.peak_memory_kib().await.expect("Linux reports VmHWM")
    }

    /// From exec to the first `next` call on the Runtime API.
    async fn init_time(&self) -> Duration {
        self.0.init_time().await.expect("the function polled")
    }
}

/// A fresh bucket and table on moto with repository `main`, and the
/// environment a function needs to use them.
struct Fixture {
    moto: String,
    name: String,
    public_url: String,
    registry: crateyard_core::Registry,
}

impl Fixture {
    async fn new(label: &str) -> Self {
        let moto = std::env::var("CRATEYARD_TEST_MOTO").expect(
            "CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)",
        );
        let name = format!("cy-{label}-{}", std::process::id());
        let clients = AwsClients::for_emulator(&moto);
        create_bucket(&clients.s3, &name).await.unwrap();
        create_table(&clients.dynamodb, &name).await.unwrap();
        let public_url = format!("{moto}/{name}");
        let registry = aws_registry(
            clients,
            &name,
            &name,
            RegistryConfig::new(&public_url, Some("https://api.example.com")),
        );
        registry.ensure_repository("main").await.unwrap();
        Self {
            moto,
            name,
            public_url,
            registry,
        }
    }

    /// A new token of `user` (created with the user).
    async fn token(&self, user: &str) -> String {
        let request = crateyard_core::TokenRequest {
            user: user.into(),
            name: "runtime-api-test".into(),
            ..Default::default()
        };
        self.registry.create_token(request).await.unwrap().token
    }

    async fn start(&self, binary: &str) -> Lambda {
        self.start_with(binary, &[]).await
    }

    async fn start_with(&self, binary: &str, extra: &[(&str, &str)]) -> Lambda {
        let mut env = vec![
            ("AWS_ENDPOINT_URL", self.moto.as_str()),
            ("CRATEYARD_BUCKET", &self.name),
            ("CRATEYARD_TABLE", &self.name),
            ("CRATEYARD_PUBLIC_URL", &self.public_url),
            ("CRATEYARD_API_URL", "https://api.example.com"),
        ];
        env.extend_from_slice(extra);
        Lambda::start(binary, &env).await
    }

    /// Whether an object exists, through the S3 API.
    async fn exists(&self, key: &str) -> bool {
        AwsClients::for_emulator(&self.moto)
            .s3
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// An object's content, through the S3 API (`None` when missing).
    async fn object(&self, key: &str) -> Option<String> {
        let clients = AwsClients::for_emulator(&self.moto);
        let object = clients
            .s3
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(String::from_utf8(object.body.collect().await.unwrap().into_bytes().to_vec()).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_binary_serves_api_gateway_events() {
    let fixture = Fixture::new("api").await;
    let token = fixture.token("alice").await;
    let mut lambda = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;

    let published = lambda
        .invoke(http_event(
            "1",
            "PUT",
            "/main/api/v1/crates/new",
            "",
            Some(&token),
            Some(&publish_frame("lambdacrate", "1.0.0")),
        ))
        .await;
    assert_eq!(published["statusCode"], 200, "{published}");
    println!(
        "api binary: exec to first Runtime API poll {:.1} ms",
        lambda.init_time().await.as_secs_f64() * 1000.0
    );

    let found = lambda
        .invoke(http_event(
            "2",
            "GET",
            "/main/api/v1/crates",
            "q=lambda",
            None,
            None,
        ))
        .await;
    assert_eq!(found["statusCode"], 200, "{found}");
    let body: Value = serde_json::from_str(found["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["crates"][0]["name"], "lambdacrate", "{body}");
    assert_eq!(body["crates"][0]["description"], "from a lambda");

    let refused = lambda
        .invoke(http_event(
            "3",
            "PUT",
            "/main/api/v1/crates/new",
            "",
            None,
            Some(&publish_frame("lambdacrate", "1.0.1")),
        ))
        .await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    let body: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("needs a token"),
        "{body}"
    );

    // The index file the function wrote is a plain S3 object.
    let index = fixture
        .object("main/index/la/mb/lambdacrate")
        .await
        .expect("index file");
    assert!(index.contains("\"vers\":\"1.0.0\""), "{index}");
    // Printed, not asserted: a figure for the README (this is a debug build).
    println!(
        "api binary: peak resident memory after 3 invocations {:.1} MiB",
        lambda.peak_memory_kib().await as f64 / 1024.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_binary_rebuilds_lost_index_files() {
    let fixture = Fixture::new("reindex").await;
    fixture
        .registry
        .put_user(
            "alice",
            crateyard_core::UserChange::default(),
            &crateyard_core::Actor::operator(),
        )
        .await
        .unwrap();
    let alice = fixture.registry.acting_as("alice").await.unwrap();
    for version in ["1.0.0", "1.1.0"] {
        let tarball = TarballBuilder::new(&format!("lost-{version}"))
            .file(
                "Cargo.toml",
                format!("[package]\nname = \"lost\"\nversion = \"{version}\"\n").as_bytes(),
            )
            .build();
        let upload = Upload::Direct {
            name: "lost".into(),
            file_name: format!("lost-{version}.crate"),
            tarball: tarball.into(),
        };
        fixture
            .registry
            .publish("main", &alice, upload)
            .await
            .unwrap();
    }
    let key = crateyard_core::ObjectKey::index_file("main", "lost")
        .unwrap()
        .to_string();
    let original = fixture.object(&key).await.expect("published");
    AwsClients::for_emulator(&fixture.moto)
        .s3
        .delete_object()
        .bucket(&fixture.name)
        .key(&key)
        .send()
        .await
        .unwrap();

    let mut lambda = fixture
        .start(&binary("reindex", env!("CARGO_BIN_EXE_reindex")))
        .await;
    // An operator's invocation starts a job; its plan is a task object.
    let answer = lambda.invoke(json!({ "repo": "main" })).await;
    let job = answer["jobs"]["main"]
        .as_str()
        .expect("a job id")
        .to_string();
    let plan = format!(".tasks/{job}-plan.json");
    let batch = format!(".tasks/{job}-b000001.json");
    assert!(fixture.exists(&plan).await, "{answer}");

    // S3's notification of the plan: it sends one batch and is removed.
    let planned = lambda.invoke(s3_event(&fixture.name, &plan, 10)).await;
    assert_eq!(planned, json!({ "tasks": [plan] }));
    assert!(!fixture.exists(&plan).await);
    assert!(fixture.exists(&batch).await);
    let status = fixture
        .registry
        .reindex_status(None, "main", Some(&job))
        .await
        .unwrap();
    assert_eq!(
        (status.state, status.job.crates),
        (JobState::Running, Some(1))
    );

    // The batch's: the lost file is back, the job done.
    let rebuilt = lambda.invoke(s3_event(&fixture.name, &batch, 10)).await;
    assert_eq!(rebuilt, json!({ "tasks": [batch] }));
    assert_eq!(
        fixture.object(&key).await.as_deref(),
        Some(original.as_str())
    );
    let status = fixture
        .registry
        .reindex_status(None, "main", None)
        .await
        .unwrap();
    assert_eq!(status.job.id, job);
    assert_eq!(
        (status.state, status.crates_done, status.failed),
        (JobState::Done, 1, 0)
    );
    // S3 delivers at least once: a task already done is done.
    let again = lambda.invoke(s3_event(&fixture.name, &batch, 10)).await;
    assert_eq!(again, json!({ "tasks": [batch] }));

    let unknown = lambda.invoke(json!({ "repo": "nope" })).await;
    assert!(
        unknown["runtime_error"]
            .as_str()
            .unwrap()
            .contains("repository `nope` does not exist"),
        "{unknown}"
    );
    let malformed = lambda.invoke(json!({ "repository": "main" })).await;
    assert!(
        malformed["runtime_error"]
            .as_str()
            .unwrap()
            .contains("or {}: unknown field `repository`, expected `repo`"),
        "{malformed}"
    );
}

/// The notification S3 sends when an object is created.
/// The notification S3 sends for a created object (the test edge's).
fn s3_event(bucket: &str, key: &str, size: usize) -> Value {
    s3_notification(&ObjectCreated {
        bucket: bucket.into(),
        key: key.into(),
        size: size as u64,
    })
}

fn tarball(prefix: &str, name: &str, version: &str) -> Vec<u8> {
    TarballBuilder::new(prefix)
        .file(
            "Cargo.toml",
            format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\n").as_bytes(),
        )
        .build()
}

/// The status code and JSON body of an API function answer.
fn answer(response: &Value) -> (u64, Value) {
    let body = serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap();
    (response["statusCode"].as_u64().unwrap(), body)
}

/// Asks the API function for an upload URL, and PUTs `tarball` to it as a
/// client would, straight to S3 (moto).
async fn upload_through_s3(
    api: &mut Lambda,
    token: &str,
    announce: Option<Value>,
    tarball: &[u8],
) -> String {
    let body = announce.map(|a| a.to_string().into_bytes());
    let slot = api
        .invoke(http_event(
            "slot",
            "POST",
            "/main/api/v1/uploads",
            "",
            Some(token),
            body.as_deref(),
        ))
        .await;
    let (status, slot) = answer(&slot);
    assert_eq!(status, 201, "{slot}");
    assert!(slot["expires_at"].as_u64().unwrap() > 0, "{slot}");
    let put = reqwest::Client::new()
        .put(slot["url"].as_str().unwrap())
        .body(tarball.to_vec())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    slot["id"].as_str().unwrap().to_string()
}

async fn upload_status(api: &mut Lambda, token: &str, id: &str) -> (u64, Value) {
    let path = format!("/main/api/v1/uploads/{id}");
    answer(
        &api.invoke(http_event("status", "GET", &path, "", Some(token), None))
            .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_uploads_go_through_presigned_urls_and_the_indexer() {
    let fixture = Fixture::new("uploads").await;
    let token = fixture.token("alice").await;
    let mut api = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;
    let mut indexer = fixture
        .start(&binary("indexer", env!("CARGO_BIN_EXE_indexer")))
        .await;

    // Announced name and version, then one found from the tarball alone.
    let cases = [
        (Some(json!({ "name": "big", "version": "1.0.0" })), "1.0.0"),
        (None, "1.1.0"),
    ];
    for (announce, version) in cases {
        let crate_bytes = tarball(&format!("big-{version}"), "big", version);
        let id = upload_through_s3(&mut api, &token, announce, &crate_bytes).await;
        let key = upload_key(&id);
        assert!(fixture.exists(&key).await, "the PUT stored it");
        let (status, pending) = upload_status(&mut api, &token, &id).await;
        assert_eq!((status, &pending["status"]), (200, &json!("pending")));

        let done = indexer
            .invoke(s3_event(&fixture.name, &key, crate_bytes.len()))
            .await;
        assert_eq!(done["uploads"][0]["status"], "published", "{done}");
        println!(
            "indexer binary: exec to first Runtime API poll {:.1} ms",
            indexer.init_time().await.as_secs_f64() * 1000.0
        );
        let index = fixture
            .object("main/index/3/b/big")
            .await
            .expect("index file");
        let line: Value = serde_json::from_str(index.lines().last().unwrap()).unwrap();
        assert_eq!(line["vers"], version);
        assert_eq!(
            line["cksum"],
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&crate_bytes))
        );
        assert!(
            fixture
                .exists(&format!("main/crates/big/big-{version}.crate"))
                .await
        );
        assert!(!fixture.exists(&key).await, "the upload object is gone");
        let (status, published) = upload_status(&mut api, &token, &id).await;
        assert_eq!(status, 200);
        assert_eq!(
            (
                &published["status"],
                &published["name"],
                &published["version"]
            ),
            (&json!("published"), &json!("big"), &json!(version)),
            "{published}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_large_uploads_are_rejected_with_the_reason() {
    let fixture = Fixture::new("badupl").await;
    let token = fixture.token("alice").await;
    let mut api = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;
    let mut indexer = fixture
        .start(&binary("indexer", env!("CARGO_BIN_EXE_indexer")))
        .await;

    let outside = TarballBuilder::new("evil-1.0.0")
        .file(
            "Cargo.toml",
            b"[package]\nname = \"evil\"\nversion = \"1.0.0\"\n",
        )
        .raw_file("elsewhere/x.rs", b"")
        .build();
    let cases = [
        (
            None,
            outside,
            "evil",
            "`elsewhere/x.rs` is outside the `evil-1.0.0/` directory",
        ),
        (
            Some(json!({ "name": "announced", "version": "1.0.0" })),
            tarball("announced-1.0.0", "other", "1.0.0"),
            "announced",
            "Cargo.toml says name `other` but the upload is for `announced`",
        ),
    ];
    let mut finished = Vec::new();
    for (announce, crate_bytes, name, reason) in cases {
        let id = upload_through_s3(&mut api, &token, announce, &crate_bytes).await;
        let key = upload_key(&id);
        finished.push(key.clone());
        let done = indexer
            .invoke(s3_event(&fixture.name, &key, crate_bytes.len()))
            .await;
        assert_eq!(done["uploads"][0]["status"], "rejected", "{done}");
        let (status, rejected) = upload_status(&mut api, &token, &id).await;
        assert_eq!((status, &rejected["status"]), (200, &json!("rejected")));
        let detail = rejected["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{detail}");
        assert!(!fixture.exists(&key).await, "the upload object is gone");
        let left = AwsClients::for_emulator(&fixture.moto)
            .s3
            .list_objects_v2()
            .bucket(&fixture.name)
            .prefix(format!("main/crates/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(left.key_count(), Some(0), "no .crate left behind");
        let index = crateyard_core::ObjectKey::index_file("main", name)
            .unwrap()
            .to_string();
        assert_eq!(fixture.object(&index).await, None, "no index file");
        let store = crateyard_aws::DynamoStore::new(
            AwsClients::for_emulator(&fixture.moto).dynamodb,
            &fixture.name,
        );
        let recorded = crateyard_core::MetadataStore::get_crate(&store, "main", name)
            .await
            .unwrap();
        assert_eq!(recorded, None, "no crate recorded");
    }

    // A second delivery of an event, or an object no upload URL was made
    // for, changes nothing.
    for key in [finished[0].as_str(), ".uploads/0123abcd.crate"] {
        let again = indexer.invoke(s3_event(&fixture.name, key, 10)).await;
        assert_eq!(again, json!({ "uploads": [] }));
    }

    let (status, unknown) = upload_status(&mut api, &token, "0123abcd").await;
    assert_eq!(status, 404, "{unknown}");
    let detail = unknown["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("does not exist or has expired"), "{detail}");

    // Another user cannot see (or guess at) alice's uploads.
    let id = upload_through_s3(&mut api, &token, None, &tarball("x-1.0.0", "x", "1.0.0")).await;
    let bob = fixture.token("bob").await;
    assert_eq!(upload_status(&mut api, &bob, &id).await.0, 404);
    assert_eq!(upload_status(&mut api, &token, &id).await.0, 200);

    let anonymous = answer(
        &api.invoke(http_event(
            "anon",
            "POST",
            "/main/api/v1/uploads",
            "",
            None,
            None,
        ))
        .await,
    );
    assert_eq!(anonymous.0, 401, "{}", anonymous.1);
}

/// An SQS batch as Lambda's event source mapping delivers it.
fn sqs_event(bodies: &[Value]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": format!("m{i}"), "receiptHandle": format!("h{i}"),
                "body": body.to_string(),
                "attributes": {
                    "ApproximateReceiveCount": "1", "SentTimestamp": "1795000000000",
                    "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795000000001"
                },
                "messageAttributes": {}, "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:index-changes",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// What S3 sends EventBridge when an object is written.
fn eventbridge_object_created(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2026-11-26T20:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {
            "version": "0", "bucket": { "name": bucket },
            "object": { "key": key, "size": 120, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189" },
            "request-id": "N4N7GDK58NMKJ12R", "requester": "123456789012",
            "source-ip-address": "127.0.0.1", "reason": "PutObject"
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalidator_binary_invalidates_each_changed_index_file_once_per_batch() {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig,
        ViewerProtocolPolicy,
    };
    let fixture = Fixture::new("inval").await;
    let cloudfront = aws_sdk_cloudfront::Client::from_conf(
        aws_sdk_cloudfront::Config::builder()
            .endpoint_url(&fixture.moto)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_cloudfront::config::Credentials::new(
                "test", "test", None, None, "emulator",
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(crateyard_aws::https_client())
            .build(),
    );
    let origin = Origin::builder()
        .id("bucket")
        .domain_name(format!("{}.s3.us-east-1.amazonaws.com", fixture.name))
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference(&fixture.name)
        .comment("crateyard test")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(origin)
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("bucket")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let created = cloudfront
        .create_distribution()
        .distribution_config(config)
        .send()
        .await
        .unwrap();
    let distribution = created.distribution().unwrap().id().to_string();
    let mut lambda = fixture
        .start_with(
            &binary("invalidator", env!("CARGO_BIN_EXE_invalidator")),
            &[("CRATEYARD_DISTRIBUTION_ID", &distribution)],
        )
        .await;

    // A batch that changed no index file invalidates nothing.
    let quiet = lambda
        .invoke(sqs_event(&[
            eventbridge_object_created(&fixture.name, "main/crates/foo/foo-1.0.0.crate"),
            json!({ "Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": fixture.name }),
        ]))
        .await;
    assert_eq!(quiet["invalidated"], json!([]), "{quiet}");

    let bucket = fixture.name.as_str();
    let batch = sqs_event(&[
        eventbridge_object_created(bucket, "main/index/3/f/foo"),
        eventbridge_object_created(bucket, "main/index/3/b/bar"),
        eventbridge_object_created(bucket, "main/index/3/f/foo"),
        eventbridge_object_created(bucket, "other/index/config.json"),
        eventbridge_object_created(bucket, "main/ui/readmes/foo/1.0.0.html"),
        eventbridge_object_created(bucket, "main/ui/crates/foo.json"),
        // The same change as a plain S3 notification, beside a .crate.
        json!({ "Records": [
            s3_event(bucket, "main/crates/foo/foo-1.0.1.crate", 10)["Records"][0].clone(),
            s3_event(bucket, "main/index/ba/zz/bazz", 10)["Records"][0].clone(),
        ]}),
    ]);
    let answer = lambda.invoke(batch).await;
    println!(
        "invalidator binary: exec to first Runtime API poll {:.1} ms",
        lambda.init_time().await.as_secs_f64() * 1000.0
    );
    let expected = [
        "/main/index/3/b/bar",
        "/main/index/3/f/foo",
        "/main/index/ba/zz/bazz",
        "/main/ui/crates/foo.json",
        // A changed config.json (visibility, URLs) drops the whole repository.
        "/other/*",
    ];
    assert_eq!(answer["invalidated"], json!(expected), "{answer}");

    let listed = cloudfront
        .list_invalidations()
        .distribution_id(&distribution)
        .send()
        .await
        .unwrap();
    let list = listed.invalidation_list().unwrap();
    assert_eq!(list.quantity(), 1, "one invalidation for the whole batch");
    let id = list.items()[0].id();
    let invalidation = cloudfront
        .get_invalidation()
        .distribution_id(&distribution)
        .id(id)
        .send()
        .await
        .unwrap();
    let mut paths: Vec<String> = invalidation
        .invalidation()
        .unwrap()
        .invalidation_batch()
        .unwrap()
        .paths()
        .unwrap()
        .items()
        .to_vec();
    paths.sort();
    assert_eq!(paths, expected);
}

/// A stand-in for CloudFormation's presigned `ResponseURL`: records each
/// PUT's body (and its Content-Type, which must be absent or empty).
async fn response_url() -> (String, mpsc::Receiver<(Option<String>, Value)>) {
    let (tx, rx) = mpsc::channel(8);
    let app = axum::Router::new().route(
        "/cloudformation/response",
        axum::routing::put(
            |State(tx): State<mpsc::Sender<(Option<String>, Value)>>,
             headers: HeaderMap,
             body: String| async move {
                let content_type = headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string());
                tx.send((content_type, serde_json::from_str(&body).unwrap()))
                    .await
                    .unwrap();
                ""
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/cloudformation/response?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app.with_state(tx)).await.unwrap() });
    (url, rx)
}

/// A custom resource request as CloudFormation documents it.
fn cloudformation_event(
    request_type: &str,
    response_url: &str,
    properties: Value,
    old_properties: Option<Value>,
) -> Value {
    let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/crateyard/5b5f6a70-cf2e-11f0-9a3e-0a1b2c3d4e5f";
    let mut event = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:crateyard-SetupFunction-abc:live",
        "ResponseURL": response_url,
        "StackId": stack,
        "RequestId": format!("{request_type}-request"),
        "LogicalResourceId": "Setup",
        "ResourceType": "Custom::CrateyardSetup",
        "ResourceProperties": properties,
    });
    if request_type != "Create" {
        event["PhysicalResourceId"] = "crateyard-setup".into();
    }
    if let Some(old) = old_properties {
        event["OldResourceProperties"] = old;
    }
    event
}

fn setup_properties(public_url: &str, bucket: &str, table: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:crateyard-SetupFunction-abc:live",
        "ServiceTimeout": "330",
        "PublicUrl": public_url,
        "Bucket": bucket,
        "Table": table,
        "Version": "arn:aws:lambda:us-east-1:123456789012:function:crateyard-SetupFunction-abc:3",
    })
}

/// What CloudFormation receives for one event.
async fn cloudformation_answer(
    setup: &mut Lambda,
    answers: &mut mpsc::Receiver<(Option<String>, Value)>,
    event: Value,
) -> Value {
    let request_id = event["RequestId"].clone();
    let returned = setup.invoke(event).await;
    let (content_type, answer) = tokio::time::timeout(Duration::from_secs(30), answers.recv())
        .await
        .expect("the function answers CloudFormation")
        .unwrap();
    assert!(
        content_type.as_deref().unwrap_or("").is_empty(),
        "{content_type:?}"
    );
    assert_eq!(answer, returned, "the function returns what it sent");
    assert_eq!(answer["RequestId"], request_id, "{answer}");
    assert_eq!(answer["LogicalResourceId"], "Setup", "{answer}");
    assert!(
        answer["StackId"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:"),
        "{answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_binary_initialises_the_stack_as_a_custom_resource() {
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)");
    // A bucket and table as the stack creates them: empty.
    let name = format!("cy-setup-{}", std::process::id());
    let clients = AwsClients::for_emulator(&moto);
    create_bucket(&clients.s3, &name).await.unwrap();
    create_table(&clients.dynamodb, &name).await.unwrap();
    let object = |key: &'static str| {
        let s3 = clients.s3.clone();
        let bucket = name.clone();
        async move {
            let object = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
            let bytes = object.body.collect().await.unwrap().into_bytes();
            Some(String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let (url, mut answers) = response_url().await;
    let mut setup = Lambda::start(
        &binary("setup", env!("CARGO_BIN_EXE_setup")),
        &[("AWS_ENDPOINT_URL", moto.as_str())],
    )
    .await;

    // Create, with the distribution's own name.
    let cloudfront = "https://d111111abcdef8.cloudfront.net";
    let created = cloudformation_answer(
        &mut setup,
        &mut answers,
        cloudformation_event(
            "Create",
            &url,
            setup_properties(cloudfront, &name, &name),
            None,
        ),
    )
    .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["PhysicalResourceId"], "crateyard-setup");
    assert_eq!(created["Data"]["PublicUrl"], cloudfront);
    let config: Value =
        serde_json::from_str(&object("main/index/config.json").await.unwrap()).unwrap();
    assert_eq!(
        config,
        json!({
            "dl": format!("{cloudfront}/main/crates/{{crate}}/{{crate}}-{{version}}.crate"),
            "api": format!("{cloudfront}/main"),
            "auth-required": false,
        })
    );
    let shell = object("ui/index.html").await.expect("the web UI's shell");
    assert!(
        shell.contains(&format!("{cloudfront}/ui/assets/app.js")),
        "{shell}"
    );
    assert!(object("ui/assets/app.js").await.is_some());
    assert!(
        object("ui/repositories.json")
            .await
            .unwrap()
            .contains("main")
    );

    // Update: a custom domain.
    let domain = "https://crates.example.com";
    let updated = cloudformation_answer(
        &mut setup,
        &mut answers,
        cloudformation_event(
            "Update",
            &url,
            setup_properties(domain, &name, &name),
            Some(setup_properties(cloudfront, &name, &name)),
        ),
    )
    .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["PhysicalResourceId"], "crateyard-setup");
    let config: Value =
        serde_json::from_str(&object("main/index/config.json").await.unwrap()).unwrap();
    assert_eq!(config["api"], format!("{domain}/main"), "{config}");
    assert!(object("ui/index.html").await.unwrap().contains(domain));

    // The API function, given no public URL, reads the one setup stored:
    // its 401 tells cargo where to log in, at the domain. And it answers
    // only requests carrying the origin secret.
    let mut api = Lambda::start(
        &binary("api", env!("CARGO_BIN_EXE_api")),
        &[
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("CRATEYARD_BUCKET", &name),
            ("CRATEYARD_TABLE", &name),
            ("CRATEYARD_ORIGIN_SECRET", "origin-secret-for-tests"),
        ],
    )
    .await;
    let publish = || {
        http_event(
            "p",
            "PUT",
            "/main/api/v1/crates/new",
            "",
            None,
            Some(&publish_frame("setupcrate", "1.0.0")),
        )
    };
    let direct = api.invoke(publish()).await;
    let (status, body) = answer(&direct);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("public URL"),
        "{body}"
    );
    let mut wrong = publish();
    wrong["headers"]["x-crateyard-origin-secret"] = "origin-secret-for-test".into();
    assert_eq!(answer(&api.invoke(wrong).await).0, 403);
    let mut through_cloudfront = publish();
    through_cloudfront["headers"]["x-crateyard-origin-secret"] = "origin-secret-for-tests".into();
    let refused = api.invoke(through_cloudfront).await;
    assert_eq!(answer(&refused).0, 401, "{refused}");
    assert_eq!(
        refused["headers"]["www-authenticate"],
        format!("Cargo login_url=\"{domain}/ui/tokens\""),
        "{refused}"
    );

    // Delete: SUCCESS, and the registry's data stays.
    let deleted = cloudformation_answer(
        &mut setup,
        &mut answers,
        cloudformation_event("Delete", &url, setup_properties(domain, &name, &name), None),
    )
    .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(deleted["PhysicalResourceId"], "crateyard-setup");
    assert!(object("main/index/config.json").await.is_some());
    assert!(object("ui/index.html").await.is_some());

    // A failure still answers, with the reason.
    let missing = format!("{name}-missing");
    let failed = cloudformation_answer(
        &mut setup,
        &mut answers,
        cloudformation_event(
            "Create",
            &url,
            setup_properties(cloudfront, &missing, &missing),
            None,
        ),
    )
    .await;
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    assert!(!failed["Reason"].as_str().unwrap().is_empty(), "{failed}");
    let bad = cloudformation_answer(
        &mut setup,
        &mut answers,
        cloudformation_event("Create", &url, json!({ "PublicUrl": cloudfront }), None),
    )
    .await;
    assert_eq!(bad["Status"], "FAILED", "{bad}");
    assert!(
        bad["Reason"]
            .as_str()
            .unwrap()
            .contains("ResourceProperties"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_binary_refuses_bodies_over_the_invoke_ceiling_with_the_large_upload_path() {
    let fixture = Fixture::new("ceiling").await;
    let mut lambda = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;
    // 4.6 MB of .crate: 6.13 MB once base64-encoded in the event (AWS would
    // refuse that event itself; this is the band just under it).
    let body = vec![0u8; 4_600_000];
    let refused = lambda
        .invoke(http_event(
            "big",
            "PUT",
            "/main/crates/big/big-1.0.0.crate",
            "",
            Some("cyd_whatever"),
            Some(&body),
        ))
        .await;
    let (status, body) = answer(&refused);
    assert_eq!(status, 413, "{body}");
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("POST /main/api/v1/uploads"), "{detail}");
    assert!(detail.contains("4.5 MB"), "{detail}");
}

/// Where an upload's object is staged.
fn upload_key(id: &str) -> String {
    let id = crateyard_core::UploadId::new(id).expect("the registry's upload id");
    crateyard_core::ObjectKey::Upload { id }.to_string()
}

/// A DynamoDB stream event as Lambda delivers one from a `KEYS_ONLY`
/// stream (AWS's documented shape), one record per `(event, pk, sk)`.
fn stream_event(records: &[(&str, String, String)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, (event, pk, sk))| {
            json!({
                "eventID": format!("e{i}"), "eventName": event, "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_764_633_600,
                    "Keys": { "pk": { "S": pk }, "sk": { "S": sk } },
                    "SequenceNumber": format!("{}", 100 + i), "SizeBytes": 40,
                    "StreamViewType": "KEYS_ONLY"
                },
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-12-02T00:00:00.000"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexer_binary_writes_derived_files_from_the_change_stream_whatever_the_order() {
    let fixture = Fixture::new("stream").await;
    // Commits as the API makes them on AWS: no derived file written.
    let mut config = RegistryConfig::new(&fixture.public_url, Some("https://api.example.com"));
    config.derived_files = DerivedFiles::ChangeStream;
    let committing = aws_registry(
        AwsClients::for_emulator(&fixture.moto),
        &fixture.name,
        &fixture.name,
        config,
    );
    let token = fixture.token("alice").await;
    let who = committing
        .authenticate(Some(&token))
        .await
        .unwrap()
        .expect("alice");
    for version in ["1.0.0", "1.1.0"] {
        let tarball = TarballBuilder::new(&format!("streamed-{version}"))
            .file(
                "Cargo.toml",
                format!("[package]\nname = \"streamed\"\nversion = \"{version}\"\nreadme = \"README.md\"\n")
                    .as_bytes(),
            )
            .file("README.md", format!("# streamed {version}").as_bytes())
            .build();
        let upload = Upload::Direct {
            name: "streamed".into(),
            file_name: format!("streamed-{version}.crate"),
            tarball: tarball.into(),
        };
        committing.publish("main", &who, upload).await.unwrap();
    }
    let index_key = "main/index/st/re/streamed";
    assert_eq!(fixture.object(index_key).await, None, "nothing derived yet");

    let key = |v: &str| version_key(&v.parse().unwrap());
    let crate_record = ("MODIFY", "CRATES#main".to_string(), "streamed".to_string());
    let inserted = |v: &str| ("INSERT", "VERSIONS#main#streamed".to_string(), key(v));
    let mut indexer = fixture
        .start(&binary("indexer", env!("CARGO_BIN_EXE_indexer")))
        .await;
    // The second publish's records first, then the first's, then the
    // second's again: late and repeated, as a stream may deliver them.
    let batches = [
        stream_event(&[crate_record.clone(), inserted("1.1.0")]),
        stream_event(&[crate_record.clone(), inserted("1.0.0")]),
    ];
    let answer = indexer.invoke(batches[0].clone()).await;
    assert_eq!(answer["crates_changed"], 2, "{answer}");
    let index = fixture.object(index_key).await.expect("the index file");
    assert_eq!(index.lines().count(), 2, "both committed versions: {index}");
    indexer.invoke(batches[1].clone()).await;
    let recent = || async {
        let recent = fixture.object("main/ui/recent.json").await;
        serde_json::from_str::<Value>(&recent.expect("recent.json")).unwrap()
    };
    let listed = recent().await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(
        listed[0]["version"], "1.1.0",
        "the latest, though told last: {listed}"
    );
    indexer.invoke(batches[0].clone()).await;
    assert_eq!(
        fixture.object(index_key).await.as_deref(),
        Some(index.as_str())
    );
    assert_eq!(recent().await, listed);

    for version in ["1.0.0", "1.1.0"] {
        let readme = fixture
            .object(&format!("main/ui/readmes/streamed/{version}.html"))
            .await
            .unwrap_or_else(|| panic!("README of {version}"));
        assert!(readme.contains(&format!("streamed {version}")), "{readme}");
        let details = fixture
            .object(&format!("main/ui/versions/streamed/{version}.json"))
            .await
            .unwrap_or_else(|| panic!("version page of {version}"));
        let details: Value = serde_json::from_str(&details).unwrap();
        assert_eq!(details["line"]["vers"], version, "{details}");
    }
}

/// CloudFront's standard access log (legacy format, gzip), as AWS
/// documents it: `#Version`, `#Fields`, then tab-separated lines.
fn access_log(day: &str, requests: &[(&str, &str, u16)]) -> Vec<u8> {
    use std::io::Write;
    let mut log = String::from(
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) \
         cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) \
         x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken \
         x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type \
         cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte \
         x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n",
    );
    for (method, path, status) in requests {
        log.push_str(&format!(
            "{day}\t12:00:00\tSEA19-C1\t1045\t192.0.2.100\t{method}\td111111abcdef8.cloudfront.net\t\
             {path}\t{status}\t-\tcargo/1.91.0\t-\t-\tMiss\tabc==\treg.example.com\thttps\t78\t0.1\t-\t\
             TLSv1.3\tTLS_AES_128_GCM_SHA256\tMiss\tHTTP/1.1\t-\t-\t11040\t0.1\tMiss\t\
             application/x-tar\t1045\t-\t-\n"
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(log.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_binary_counts_each_access_log_once_and_the_api_shows_the_counts() {
    let fixture = Fixture::new("downloads").await;
    let token = fixture.token("alice").await;
    let mut api = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;
    for version in ["1.0.0", "1.1.0"] {
        let published = api
            .invoke(http_event(
                version,
                "PUT",
                "/main/api/v1/crates/new",
                "",
                Some(&token),
                Some(&publish_frame("counted", version)),
            ))
            .await;
        assert_eq!(published["statusCode"], 200, "{published}");
    }

    // CloudFront writes a log file to the access-logs bucket.
    let clients = AwsClients::for_emulator(&fixture.moto);
    let logs = format!("{}-logs", fixture.name);
    create_bucket(&clients.s3, &logs).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let log = access_log(
        &today,
        &[
            ("GET", "/main/crates/counted/counted-1.0.0.crate", 200),
            ("GET", "/main/crates/counted/counted-1.0.0.crate", 200),
            ("GET", "/main/crates/counted/counted-1.0.0.crate", 200),
            ("GET", "/main/crates/counted/counted-1.1.0.crate", 200),
            // Not downloads: a HEAD, a 404, an index file.
            ("HEAD", "/main/crates/counted/counted-1.1.0.crate", 200),
            ("GET", "/main/crates/counted/counted-9.0.0.crate", 404),
            ("GET", "/main/index/co/un/counted", 200),
        ],
    );
    let key = "cloudfront/E2EXAMPLE.2026-12-02-12.a1b2c3d4.gz";
    clients
        .s3
        .put_object()
        .bucket(&logs)
        .key(key)
        .body(log.clone().into())
        .send()
        .await
        .unwrap();
    let mut counter = fixture
        .start(&binary("downloads", env!("CARGO_BIN_EXE_downloads")))
        .await;
    let event = s3_event(&logs, key, log.len());
    let first = counter.invoke(event.clone()).await;
    assert_eq!(first["files"][0]["downloads"], 4, "{first}");
    assert_eq!(first["files"][0]["added"], true, "{first}");
    // S3 delivers an event at least once: the same file again adds nothing.
    let again = counter.invoke(event).await;
    assert_eq!(again["files"][0]["added"], false, "{again}");

    let info = api
        .invoke(http_event(
            "info",
            "GET",
            "/main/api/v1/crates/counted",
            "",
            None,
            None,
        ))
        .await;
    assert_eq!(info["statusCode"], 200, "{info}");
    let body: Value = serde_json::from_str(info["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["crate"]["downloads"], 4, "{body}");
    assert_eq!(body["crate"]["recent_downloads"], 4, "{body}");
    let by_version: Vec<(&str, u64)> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["num"].as_str().unwrap(), v["downloads"].as_u64().unwrap()))
        .collect();
    assert_eq!(by_version, [("1.1.0", 1), ("1.0.0", 3)]);
}

/// The schedule's event (`{}`, template.yaml's `RetentionFunction`) runs
/// every repository's policy through the real binary; an operator's dry
/// run lists without moving; a malformed event says what is expected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_binary_archives_what_the_policy_picks_on_schedule() {
    let fixture = Fixture::new("retention").await;
    let token = fixture.token("alice").await;
    let mut api = fixture
        .start(&binary("api", env!("CARGO_BIN_EXE_api")))
        .await;
    for version in ["1.0.0", "1.1.0"] {
        let published = api
            .invoke(http_event(
                version,
                "PUT",
                "/main/api/v1/crates/new",
                "",
                Some(&token),
                Some(&publish_frame("aging", version)),
            ))
            .await;
        assert_eq!(published["statusCode"], 200, "{published}");
    }
    let policy = crateyard_core::RetentionPolicy::new(1, None).unwrap();
    fixture
        .registry
        .update_retention("main", &crateyard_core::Actor::operator(), |current| {
            *current = Some(policy.clone());
            Ok(())
        })
        .await
        .unwrap();
    let mut retention = fixture
        .start_with(
            &binary("retention", env!("CARGO_BIN_EXE_retention")),
            &[("CRATEYARD_DERIVED_FILES", "change-stream")],
        )
        .await;
    let key = "main/crates/aging/aging-1.0.0.crate";
    let tags = || async {
        AwsClients::for_emulator(&fixture.moto)
            .s3
            .get_object_tagging()
            .bucket(&fixture.name)
            .key(key)
            .send()
            .await
            .unwrap()
            .tag_set()
            .len()
    };

    let bad = retention.invoke(json!({ "repos": ["main"] })).await;
    assert!(bad.to_string().contains("expected {}"), "{bad}");
    let dry = retention
        .invoke(json!({ "repo": "main", "dry_run": true }))
        .await;
    assert_eq!(
        dry["reports"][0]["versions"][0]["version"], "1.0.0",
        "{dry}"
    );
    assert_eq!(tags().await, 0);

    let scheduled = retention.invoke(json!({})).await;
    let report = &scheduled["reports"][0];
    assert_eq!(report["dry_run"], false, "{scheduled}");
    assert_eq!(report["complete"], true, "{scheduled}");
    let archived: Vec<&str> = report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(archived, ["1.0.0"], "{scheduled}");
    assert_eq!(tags().await, 1);
    assert!(fixture.exists(key).await);
    let again = retention.invoke(json!({})).await;
    assert_eq!(again["reports"][0]["versions"], json!([]), "{again}");
}
