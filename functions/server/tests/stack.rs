//! `--stack NAME` against moto's CloudFormation: the admin commands find
//! the stack's bucket and table from its outputs, as after `sam deploy`.

use std::process::Command;

fn moto() -> String {
    std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)")
}

/// A stack with a bucket and a table as template.yaml's outputs name them.
async fn create_stack(name: &str) {
    let template = serde_json::json!({
        "Resources": {
            "RegistryBucket": { "Type": "AWS::S3::Bucket" },
            "RegistryTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [
                        { "AttributeName": "pk", "AttributeType": "S" },
                        { "AttributeName": "sk", "AttributeType": "S" }
                    ],
                    "KeySchema": [
                        { "AttributeName": "pk", "KeyType": "HASH" },
                        { "AttributeName": "sk", "KeyType": "RANGE" }
                    ]
                }
            }
        },
        "Outputs": {
            "BucketName": { "Value": { "Ref": "RegistryBucket" } },
            "TableName": { "Value": { "Ref": "RegistryTable" } }
        }
    });
    // moto routes by the credential scope and does not check signatures.
    let form = [
        ("Action", "CreateStack".to_string()),
        ("Version", "2010-05-15".into()),
        ("StackName", name.into()),
        ("TemplateBody", template.to_string()),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", percent_encode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let response = crateyard_http::https_client()
        .unwrap()
        .build()
        .unwrap()
        .post(format!("{}/", moto()))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/cloudformation/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn crateyard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crateyard"))
        .args(args)
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("CRATEYARD_BUCKET")
        .env_remove("CRATEYARD_TABLE")
        .env_remove("CRATEYARD_STACK")
        .output()
        .expect("the crateyard binary runs")
}

#[tokio::test]
async fn token_create_finds_the_stacks_bucket_and_table() {
    let stack = format!("crateyard-stack-{}", std::process::id());
    create_stack(&stack).await;
    let created = crateyard(&["token", "create", "--stack", &stack, "--user", "alice"]);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stderr}");
    let token = String::from_utf8(created.stdout).unwrap();
    assert!(token.trim().starts_with("cyd_"), "{token}");
    let listed = crateyard(&["token", "list", "--stack", &stack]);
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("alice"));

    let unknown = crateyard(&["token", "create", "--stack", "no-such-stack", "--user", "x"]);
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("cannot describe CloudFormation stack `no-such-stack`"),
        "{stderr}"
    );
}
