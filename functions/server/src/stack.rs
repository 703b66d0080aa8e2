//! `--stack NAME`: the bucket and table of a deployed stack, from its
//! `BucketName` and `TableName` outputs (CloudFormation `DescribeStacks`).
//!
//! One signed call to CloudFormation's query API, with the SDK's own SigV4
//! signer and credentials chain: `aws-sdk-cloudformation` would add a crate
//! as large as the S3 SDK to every build for this one call.

use crate::error::UserError;
use anyhow::{Context, bail};
use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// The query API's version, as AWS documents it.
const API_VERSION: &str = "2010-05-15";

/// What `--stack` resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackStorage {
    pub bucket: String,
    pub table: String,
}

/// Looks the stack up (honouring `AWS_ENDPOINT_URL_CLOUDFORMATION` and
/// `AWS_ENDPOINT_URL`, as the SDKs do).
pub async fn storage(stack: &str) -> anyhow::Result<StackStorage> {
    let body = call(&[("Action", "DescribeStacks"), ("StackName", stack)])
        .await
        .with_context(|| format!("cannot describe CloudFormation stack `{stack}`"))?;
    let output = |key: &str| {
        output_value(&body, key).with_context(|| {
            format!("stack `{stack}` has no {key} output: is it a Crateyard stack (template.yaml)?")
        })
    };
    Ok(StackStorage {
        bucket: output("BucketName")?,
        table: output("TableName")?,
    })
}

const CREDENTIALS_HINT: &str = "sign in as for the AWS CLI (`aws configure`, `aws sso login`, or \
     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)";

/// One signed POST to CloudFormation's query API; the XML answer.
pub async fn call(params: &[(&str, &str)]) -> anyhow::Result<String> {
    let config = crateyard_aws::sdk_config_from_env().await;
    let region = config
        .region()
        .ok_or_else(|| {
            UserError::new(
                "no AWS region",
                "set AWS_REGION, or a region in the AWS CLI's profile",
            )
        })?
        .to_string();
    let url = std::env::var("AWS_ENDPOINT_URL_CLOUDFORMATION")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| {
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://cloudformation.{region}.{suffix}")
        });
    let url = format!("{}/", url.trim_end_matches('/'));
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| UserError::new("no AWS credentials provider", CREDENTIALS_HINT))?
        .provide_credentials()
        .await
        .map_err(|e| UserError::new(format!("no AWS credentials: {e}"), CREDENTIALS_HINT))?;
    let mut form = vec![("Version", API_VERSION)];
    form.extend_from_slice(params);
    let body = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let identity = credentials.into();
    let signing = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("cloudformation")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        [("content-type", content_type)].into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )?;
    let (instructions, _signature) = sign(signable, &signing)?.into_parts();
    let mut request = crateyard_http::https_client()?
        .build()?
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in instructions.headers() {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        let message = element(&text, "Message").unwrap_or(text.clone());
        bail!("CloudFormation answered {status}: {message}");
    }
    Ok(text)
}

/// Percent-encodes a form value as SigV4 and the query API expect.
fn encode(value: &str) -> String {
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

/// The text of the first `<name>…</name>` in `xml`, unescaped.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// `OutputValue` of the output whose `OutputKey` is `key`.
fn output_value(xml: &str, key: &str) -> Option<String> {
    let outputs = element(xml, "Outputs")?;
    outputs
        .split("<member>")
        .skip(1)
        .find(|member| element(member, "OutputKey").as_deref() == Some(key))
        .and_then(|member| element(member, "OutputValue"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_from_describe_stacks() {
        let xml = r#"<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStacksResult><Stacks><member>
    <StackName>crateyard</StackName>
    <Outputs>
      <member><OutputKey>CargoConfig</OutputKey><OutputValue>[registries.main]
index = &quot;sparse+https://d1.cloudfront.net/main/index/&quot;</OutputValue></member>
      <member><Description>b</Description><OutputKey>BucketName</OutputKey><OutputValue>crateyard-5b5f6a70</OutputValue></member>
      <member><OutputKey>TableName</OutputKey><OutputValue>crateyard-RegistryTable-1X2Y</OutputValue></member>
    </Outputs>
  </member></Stacks></DescribeStacksResult>
</DescribeStacksResponse>"#;
        assert_eq!(
            output_value(xml, "BucketName").as_deref(),
            Some("crateyard-5b5f6a70")
        );
        assert_eq!(
            output_value(xml, "TableName").as_deref(),
            Some("crateyard-RegistryTable-1X2Y")
        );
        assert!(
            output_value(xml, "CargoConfig")
                .unwrap()
                .contains("\"sparse+")
        );
        assert_eq!(output_value(xml, "Missing"), None);
        assert_eq!(encode("a b/c+d"), "a%20b%2Fc%2Bd");
    }
}
