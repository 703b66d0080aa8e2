//! Clients from the environment, and the bucket and table as `template.yaml`
//! declares them, for emulators and first runs.

use crate::s3_blob::{ARCHIVE_TAG_VALUE, PRIVATE_TAG, STORAGE_TAG};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, PublicAccessBlockConfiguration, Tag, Transition,
    TransitionStorageClass,
};
use crateyard_core::{ARCHIVE_MIN_OBJECT_SIZE, KeyPrefix, StoreError};

/// SDK clients configured from the environment (credentials, region,
/// `AWS_ENDPOINT_URL` for LocalStack or moto).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        let config = crate::sdk_config_from_env().await;
        Self::from_config(&config, emulator_in_env())
    }

    /// Clients from a Lambda function's environment
    /// ([`crate::sdk_config_from_lambda_env`]: no profile files, SSO or
    /// instance metadata).
    pub fn from_lambda_env() -> Self {
        Self::from_config(&crate::sdk_config_from_lambda_env(), emulator_in_env())
    }

    /// Clients for an emulator at `endpoint` with dummy credentials.
    pub fn for_emulator(endpoint: &str) -> Self {
        let config = aws_config::SdkConfig::builder()
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("test", "test", None, None, "emulator"),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(crate::https_client())
            .build();
        Self::from_config(&config, true)
    }

    fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }
}

/// Emulators serve buckets by path, not by virtual host.
fn emulator_in_env() -> bool {
    std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
}

fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

/// The tag CloudFormation puts on every resource a stack creates.
pub const STACK_TAG: &str = "aws:cloudformation:stack-name";

/// Why `crateyard setup` did not prepare a bucket or table.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "{kind} `{name}` belongs to the CloudFormation stack `{stack}`, which owns its policy \
         and settings and initialises the registry on every deploy: `crateyard setup` only \
         prepares a bucket and table of your own (such as on an emulator). For the stack, \
         run the other commands with `--stack {stack}`"
    )]
    StackOwned {
        kind: &'static str,
        name: String,
        stack: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stack named by a resource's tags, if CloudFormation created it.
pub fn owning_stack<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    tags.into_iter()
        .find(|(key, _)| *key == STACK_TAG)
        .map(|(_, value)| value.to_string())
}

/// The stack that owns `bucket`, if any (`None` when it does not exist).
pub async fn bucket_stack(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<String>, StoreError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(tagging) => Ok(owning_stack(
            tagging.tag_set().iter().map(|t| (t.key(), t.value())),
        )),
        Err(e) => {
            let code = e
                .as_service_error()
                .and_then(|e| aws_sdk_s3::error::ProvideErrorMetadata::code(e).map(str::to_string));
            match code.as_deref() {
                Some("NoSuchTagSet" | "NoSuchBucket") => Ok(None),
                _ => Err(backend(e)),
            }
        }
    }
}

/// The stack that owns `table`, if any (`None` when it does not exist).
pub async fn table_stack(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<String>, StoreError> {
    let described = match dynamodb.describe_table().table_name(table).send().await {
        Ok(described) => described,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(backend(e)),
    };
    let Some(arn) = described.table().and_then(|t| t.table_arn()) else {
        return Ok(None);
    };
    let tags = dynamodb
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(backend)?;
    Ok(owning_stack(
        tags.tags().iter().map(|t| (t.key(), t.value())),
    ))
}

/// Creates the bucket unless it exists, with the lifecycle rule that removes
/// stale large uploads and a policy that lets anyone read `*/index/*`,
/// `*/crates/*`, `*/git/*` and the web UI (`ui/*`, `*/ui/*`) except objects tagged
/// private: the read path of public repositories without CloudFront (an
/// emulator, or a bucket of your own). Any public-read policy is "public" to
/// S3's Block Public Access (only conditions such as `aws:SourceArn` or
/// `aws:SourceVpce` make a `Principal: "*"` statement non-public, never an
/// object tag), so setup turns BlockPublicPolicy and RestrictPublicBuckets
/// off for this bucket (ACLs stay blocked). It refuses a bucket that a
/// CloudFormation stack owns: the stack's bucket stays private, read by
/// CloudFront only.
pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), SetupError> {
    if let Some(stack) = bucket_stack(s3, bucket).await? {
        return Err(SetupError::StackOwned {
            kind: "bucket",
            name: bucket.into(),
            stack,
        });
    }
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(backend(e).into()),
    }
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadOfIndexCratesAndPages",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": [
                format!("arn:aws:s3:::{bucket}/*/index/*"),
                format!("arn:aws:s3:::{bucket}/*/crates/*"),
                // The git index (git's dumb HTTP protocol reads files).
                format!("arn:aws:s3:::{bucket}/*/git/*"),
                // The web UI: its own files, and each repository's page data.
                format!("arn:aws:s3:::{bucket}/ui/*"),
                format!("arn:aws:s3:::{bucket}/*/ui/*"),
            ],
            // Private repositories' objects are read through the API only.
            // (Not a Deny for the tag: a `Principal: "*"` Deny would also
            // deny the registry's own role.)
            "Condition": {
                "StringNotEquals": { format!("s3:ExistingObjectTag/{PRIVATE_TAG}"): "true" }
            },
        }],
    });
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(false)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .map_err(backend)?;
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(backend)?;
    // Large uploads the indexer never got to (it deletes the rest).
    let stale_uploads = LifecycleRule::builder()
        .id("ExpireStaleUploads")
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .prefix(KeyPrefix::Uploads.to_string())
                .build(),
        )
        .expiration(LifecycleExpiration::builder().days(1).build())
        .build()
        .map_err(backend)?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(stale_uploads)
                .rules(archive_rule()?)
                .build()
                .map_err(backend)?,
        )
        .send()
        .await
        .map_err(backend)?;
    Ok(())
}

/// Archived `.crate` files (tagged by `S3BlobStore::set_storage`) of
/// [`ARCHIVE_MIN_OBJECT_SIZE`] and up move to Glacier Instant Retrieval:
/// template.yaml's `ArchiveTaggedCrates`, which says why.
fn archive_rule() -> Result<LifecycleRule, SetupError> {
    let tag = Tag::builder()
        .key(STORAGE_TAG)
        .value(ARCHIVE_TAG_VALUE)
        .build()
        .map_err(backend)?;
    Ok(LifecycleRule::builder()
        .id("ArchiveTaggedCrates")
        .status(ExpirationStatus::Enabled)
        .filter(
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .tags(tag)
                        .object_size_greater_than(ARCHIVE_MIN_OBJECT_SIZE as i64 - 1)
                        .build(),
                )
                .build(),
        )
        .transitions(
            Transition::builder()
                .days(0)
                .storage_class(TransitionStorageClass::GlacierIr)
                .build(),
        )
        .build()
        .map_err(backend)?)
}

/// The table's TTL attribute (epoch seconds): upload records, and any other
/// item that should disappear by itself, carry it.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// Creates the single table (`pk`/`sk` strings, on-demand, TTL on
/// [`TTL_ATTRIBUTE`]) unless it exists. Refuses a table that a
/// CloudFormation stack owns.
pub async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), SetupError> {
    if let Some(stack) = table_stack(dynamodb, table).await? {
        return Err(SetupError::StackOwned {
            kind: "table",
            name: table.into(),
            stack,
        });
    }
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("complete")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("complete")
    };
    let result = dynamodb
        .create_table()
        .table_name(table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(backend(e).into()),
    }
    // DynamoDB refuses to enable a TTL that is enabled already.
    let current = dynamodb
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(backend)?;
    let enabled = current.time_to_live_description().is_some_and(|d| {
        d.attribute_name() == Some(TTL_ATTRIBUTE)
            && matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            )
    });
    if enabled {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .expect("complete");
    dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(backend)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_rule_moves_tagged_crates_from_the_size_the_saving_counts() {
        let rule = archive_rule().unwrap();
        let and = rule.filter().and_then(|f| f.and()).unwrap();
        assert_eq!(
            and.object_size_greater_than(),
            Some(ARCHIVE_MIN_OBJECT_SIZE as i64 - 1)
        );
        assert_eq!(and.tags()[0].key(), STORAGE_TAG);
        assert_eq!(and.tags()[0].value(), ARCHIVE_TAG_VALUE);
        let transition = &rule.transitions()[0];
        assert_eq!(transition.days(), Some(0));
        assert_eq!(
            transition.storage_class(),
            Some(&TransitionStorageClass::GlacierIr)
        );
    }

    #[test]
    fn the_stack_comes_from_cloudformations_tag() {
        let tags = [
            ("team", "crates"),
            ("aws:cloudformation:logical-id", "RegistryBucket"),
            ("aws:cloudformation:stack-name", "crateyard"),
        ];
        assert_eq!(owning_stack(tags).as_deref(), Some("crateyard"));
        assert_eq!(owning_stack([("team", "crates")]), None);
    }
}
