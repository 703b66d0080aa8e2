//! The S3 origin's authorisation: the template's bucket policy, evaluated
//! for CloudFront's service principal as IAM documents it (an explicit Deny
//! wins; otherwise an Allow whose action, resource and conditions all
//! match). moto_server stores bucket policies but does not enforce them.

use super::stack::Stack;
use super::wildcard;
use serde_json::Value;
use std::collections::BTreeMap;

/// The bucket policy's statements for the CloudFront service principal.
pub struct BucketPolicy {
    statements: Vec<Value>,
    bucket_arn: String,
}

impl BucketPolicy {
    pub fn from_stack(stack: &Stack) -> Self {
        let (_, policy) = stack.template["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, r)| r["Type"] == "AWS::S3::BucketPolicy")
            .expect("the template has a bucket policy");
        let document = stack
            .eval(&policy["Properties"]["PolicyDocument"])
            .expect("a policy document");
        let statements = document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Principal"]["Service"] == "cloudfront.amazonaws.com")
            .cloned()
            .collect();
        Self {
            statements,
            bucket_arn: stack
                .eval_str(&serde_json::json!({ "Fn::GetAtt": ["RegistryBucket", "Arn"] })),
        }
    }

    /// Whether CloudFront (as `source_arn`) may do `action` on `resource`
    /// (an object key, or `None` for the bucket), with the request's
    /// condition keys in `context` (such as `s3:ExistingObjectTag/NAME`).
    pub fn allows(
        &self,
        action: &str,
        key: Option<&str>,
        context: &BTreeMap<String, String>,
    ) -> bool {
        let resource = match key {
            Some(key) => format!("{}/{key}", self.bucket_arn),
            None => self.bucket_arn.clone(),
        };
        let applies = |statement: &Value| {
            list(&statement["Action"]).iter().any(|a| a == action)
                && list(&statement["Resource"])
                    .iter()
                    .any(|r| wildcard(r, &resource))
                && conditions_hold(&statement["Condition"], context)
        };
        let denied = self
            .statements
            .iter()
            .any(|s| s["Effect"] == "Deny" && applies(s));
        !denied
            && self
                .statements
                .iter()
                .any(|s| s["Effect"] == "Allow" && applies(s))
    }

    /// Whether any statement's conditions read the object's tags (then
    /// they must be fetched for the decision).
    pub fn reads_tags(&self) -> bool {
        self.statements
            .iter()
            .any(|s| s["Condition"].to_string().contains("s3:ExistingObjectTag/"))
    }
}

fn list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// IAM's string and ARN operators, for the ones the template uses: a
/// positive operator needs the key present and equal to one value; a
/// negated one holds when the key is absent or equals none.
fn conditions_hold(conditions: &Value, context: &BTreeMap<String, String>) -> bool {
    let Some(operators) = conditions.as_object() else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        keys.as_object().unwrap().iter().all(|(key, expected)| {
            // Condition keys are case-insensitive.
            let actual = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            let expected = list(expected);
            match operator.as_str() {
                "StringEquals" | "ArnEquals" => {
                    actual.is_some_and(|a| expected.iter().any(|e| e == a))
                }
                "StringNotEquals" | "ArnNotEquals" => {
                    actual.is_none_or(|a| expected.iter().all(|e| e != a))
                }
                "StringLike" | "ArnLike" => {
                    actual.is_some_and(|a| expected.iter().any(|e| wildcard(e, a)))
                }
                other => panic!("condition operator {other} is not modelled"),
            }
        })
    })
}
