//! `create_bucket` and `create_table` (what `crateyard setup` runs) on moto:
//! the policy they put, and their refusal to touch what a stack owns.

use crateyard_aws::{AwsClients, SetupError, create_bucket, create_table};
use serde_json::Value;

fn clients() -> AwsClients {
    let moto = std::env::var("CRATEYARD_TEST_MOTO")
        .expect("CRATEYARD_TEST_MOTO must name a running moto_server (tests/run.sh starts one)");
    AwsClients::for_emulator(&moto)
}

#[tokio::test]
async fn a_bucket_of_your_own_allows_its_public_read_policy() {
    let clients = clients();
    let bucket = format!("cy-policy-{}", std::process::id());
    create_bucket(&clients.s3, &bucket).await.unwrap();
    // A public-read policy is public whatever its conditions: the bucket's
    // own Block Public Access must let it be (S3 refuses it otherwise).
    let block = clients
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(block.block_public_policy(), Some(false));
    assert_eq!(block.restrict_public_buckets(), Some(false));
    assert_eq!(block.block_public_acls(), Some(true));
    let policy = clients
        .s3
        .get_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(
        statement["Condition"]["StringNotEquals"]["s3:ExistingObjectTag/crateyard-private"],
        "true"
    );
    // Setup again is harmless.
    create_bucket(&clients.s3, &bucket).await.unwrap();
}

#[tokio::test]
async fn a_table_a_stack_owns_is_refused_with_a_sentence() {
    let clients = clients();
    let table = format!("cy-owned-{}", std::process::id());
    create_table(&clients.dynamodb, &table).await.unwrap();
    let arn = clients
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();
    // What CloudFormation puts on every table it creates (AWS refuses
    // `aws:` tags from users; moto lets DynamoDB's through).
    clients
        .dynamodb
        .tag_resource()
        .resource_arn(arn)
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("crateyard-prod")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let refused = create_table(&clients.dynamodb, &table).await.unwrap_err();
    assert!(
        matches!(&refused, SetupError::StackOwned { stack, .. } if stack == "crateyard-prod"),
        "{refused:?}"
    );
    let message = refused.to_string();
    assert!(
        message.contains("belongs to the CloudFormation stack `crateyard-prod`"),
        "{message}"
    );
}
