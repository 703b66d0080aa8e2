//! `template.yaml` with its parameters applied: conditions, `!If`, `!Ref`
//! and, for a stack "deployed" here, the intrinsic functions CloudFormation
//! evaluates at deploy time (`!Sub`, `!Select`, `!Split`, `!GetAtt`, dynamic
//! references to Secrets Manager), against physical names this harness
//! chooses.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// template.yaml as JSON, short-form tags (`!Ref`, `!If`…) in their long
/// form, read by cfn-lint's own CloudFormation YAML loader (installed by
/// tests/run.sh): the template is parsed, never restated here.
pub fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import cfn_yaml\nprint(json.dumps(cfn_yaml.load(sys.argv[1])))",
            path,
        ])
        .output()
        .expect("python3 runs (cfn-lint is installed by tests/run.sh)");
    assert!(
        out.status.success(),
        "reading template.yaml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cfn-lint's loader prints JSON")
}

/// The stack id the harness deploys as, unless told otherwise.
const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/crateyard/5b5f6a70-cf2e-11f0-9a3e-0a1b2c3d4e5f";

/// The template with its parameters, and what its resources are called once
/// "deployed" (`Ref` and `GetAtt` values), where the harness has chosen them.
#[derive(Clone)]
pub struct Stack {
    pub template: Value,
    parameters: BTreeMap<String, String>,
    /// `Ref` of a resource or pseudo parameter, and `Resource.Attribute`.
    physical: BTreeMap<String, String>,
    /// Values of Secrets Manager secrets, by the secret's `Ref`.
    secrets: BTreeMap<String, String>,
}

impl Stack {
    pub fn new(overrides: &[(&str, &str)]) -> Self {
        let template = template();
        let mut parameters = BTreeMap::new();
        for (name, spec) in template["Parameters"].as_object().into_iter().flatten() {
            let default = match &spec["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            parameters.insert(name.clone(), default);
        }
        for (name, value) in overrides {
            assert!(parameters.contains_key(*name), "no parameter {name}");
            parameters.insert((*name).into(), (*value).into());
        }
        let mut stack = Self {
            template,
            parameters,
            physical: BTreeMap::new(),
            secrets: BTreeMap::new(),
        };
        stack.name_resources(STACK_ID);
        stack
    }

    /// Names what CloudFormation would name at deploy time, for a stack of
    /// id `stack_id` (an ARN; its last part is the unique id).
    pub fn name_resources(&mut self, stack_id: &str) {
        let name = stack_id.split('/').nth(1).expect("a stack ARN");
        for (reference, value) in [
            ("AWS::StackId", stack_id),
            ("AWS::StackName", name),
            ("AWS::Region", "us-east-1"),
            ("AWS::AccountId", "123456789012"),
            ("AWS::Partition", "aws"),
            ("RegistryTable", &format!("{name}-RegistryTable")),
            ("Distribution", "E2EDGE0STANDIN"),
            ("Distribution.DomainName", "d111111abcdef8.cloudfront.net"),
            ("OriginSecret", "origin-secret"),
            (
                "ApiFunctionUrl.FunctionUrl",
                "https://stand-in.lambda-url.us-east-1.on.aws/",
            ),
            ("SetupFunction.Version", "1"),
        ] {
            self.set_physical(reference, value);
        }
        self.set_secret("origin-secret", "stand-in-origin-secret");
        let bucket = self.eval_str(&self.resource("RegistryBucket")["Properties"]["BucketName"]);
        self.set_physical("RegistryBucket.Arn", &format!("arn:aws:s3:::{bucket}"));
        self.set_physical(
            "RegistryBucket.RegionalDomainName",
            &format!("{bucket}.s3.us-east-1.amazonaws.com"),
        );
        self.set_physical("RegistryBucket", &bucket);
    }

    /// Gives `Ref NAME` (or `NAME.Attribute` for `GetAtt`) a value.
    pub fn set_physical(&mut self, name: &str, value: &str) {
        self.physical.insert(name.into(), value.into());
    }

    /// Gives the secret `Ref`-ed as `secret_ref` a value, for
    /// `{{resolve:secretsmanager:…}}` dynamic references.
    pub fn set_secret(&mut self, secret_ref: &str, value: &str) {
        self.secrets.insert(secret_ref.into(), value.into());
    }

    pub fn parameter(&self, name: &str) -> &str {
        &self.parameters[name]
    }

    pub fn condition(&self, name: &str) -> bool {
        self.truth(&self.template["Conditions"][name])
    }

    fn truth(&self, expr: &Value) -> bool {
        if let Some(args) = expr.get("Fn::Not") {
            return !self.truth(&args[0]);
        }
        if let Some(args) = expr.get("Fn::Equals") {
            return self.resolve(&args[0]) == self.resolve(&args[1]);
        }
        if let Some(name) = expr.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("condition {expr} is not modelled")
    }

    /// Resolves `!If` and `!Ref` of a parameter; other references stay as
    /// they are (what the template says, before deployment).
    pub fn resolve(&self, value: &Value) -> Value {
        if let Some(args) = value.get("Fn::If") {
            let branch = if self.condition(args[0].as_str().unwrap()) {
                &args[1]
            } else {
                &args[2]
            };
            return self.resolve(branch);
        }
        if let Some(parameter) = value
            .get("Ref")
            .and_then(Value::as_str)
            .and_then(|name| self.parameters.get(name))
        {
            return Value::String(parameter.clone());
        }
        match value {
            Value::Number(n) => Value::String(n.to_string()),
            other => other.clone(),
        }
    }

    /// Evaluates a value as CloudFormation does at deploy time. `None` is
    /// `AWS::NoValue`. Panics on a reference the harness has not named.
    pub fn eval(&self, value: &Value) -> Option<Value> {
        let object = match value {
            Value::Object(object) if object.len() == 1 => object,
            Value::Object(object) => {
                let mut out = serde_json::Map::new();
                for (k, v) in object {
                    if let Some(v) = self.eval(v) {
                        out.insert(k.clone(), v);
                    }
                }
                return Some(Value::Object(out));
            }
            Value::Array(items) => {
                return Some(Value::Array(
                    items.iter().filter_map(|v| self.eval(v)).collect(),
                ));
            }
            Value::Number(n) => return Some(Value::String(n.to_string())),
            Value::String(s) => return Some(Value::String(self.dynamic_references(s))),
            other => return Some(other.clone()),
        };
        let (function, args) = object.iter().next().unwrap();
        let text = |v: &Value| -> String {
            match self.eval(v) {
                Some(Value::String(s)) => s,
                other => panic!("{v} is not a string: {other:?}"),
            }
        };
        Some(match function.as_str() {
            "Ref" => {
                let name = args.as_str().unwrap();
                if name == "AWS::NoValue" {
                    return None;
                }
                Value::String(self.reference(name))
            }
            "Fn::GetAtt" => {
                let name = match args {
                    Value::Array(parts) => format!(
                        "{}.{}",
                        parts[0].as_str().unwrap(),
                        parts[1].as_str().unwrap()
                    ),
                    other => other.as_str().unwrap().to_string(),
                };
                Value::String(self.reference(&name))
            }
            "Fn::If" => {
                let branch = if self.condition(args[0].as_str().unwrap()) {
                    &args[1]
                } else {
                    &args[2]
                };
                return self.eval(branch);
            }
            "Fn::Sub" => {
                let (template, variables) = match args {
                    Value::String(s) => (s.clone(), BTreeMap::new()),
                    Value::Array(parts) => {
                        let variables = parts[1]
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.clone(), text(v)))
                            .collect();
                        (parts[0].as_str().unwrap().to_string(), variables)
                    }
                    other => panic!("Fn::Sub {other}"),
                };
                Value::String(self.dynamic_references(&self.substitute(&template, &variables)))
            }
            "Fn::Select" => {
                let index: usize = text(&args[0]).parse().unwrap();
                match self.eval(&args[1]) {
                    Some(Value::Array(items)) => items[index].clone(),
                    other => panic!("Fn::Select from {other:?}"),
                }
            }
            "Fn::Split" => {
                let separator = args[0].as_str().unwrap();
                Value::Array(
                    text(&args[1])
                        .split(separator)
                        .map(|s| Value::String(s.into()))
                        .collect(),
                )
            }
            "Fn::Join" => {
                let separator = args[0].as_str().unwrap();
                let parts: Vec<String> = match self.eval(&args[1]) {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| i.as_str().unwrap().to_string())
                        .collect(),
                    other => panic!("Fn::Join of {other:?}"),
                };
                Value::String(parts.join(separator))
            }
            _ => {
                let mut out = serde_json::Map::new();
                out.insert(function.clone(), self.eval(args)?);
                Value::Object(out)
            }
        })
    }

    /// An evaluated string (panics if it is not one).
    pub fn eval_str(&self, value: &Value) -> String {
        match self.eval(value) {
            Some(Value::String(s)) => s,
            other => panic!("{value} evaluates to {other:?}, not a string"),
        }
    }

    fn reference(&self, name: &str) -> String {
        if let Some(value) = self.parameters.get(name) {
            return value.clone();
        }
        self.physical
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the harness has not named {name} (Stack::set_physical)"))
    }

    fn substitute(&self, template: &str, variables: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed ${…}") + start;
            let name = &rest[start + 2..end];
            match variables.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&self.reference(name)),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `{{resolve:secretsmanager:ID:SecretString}}`, as CloudFormation
    /// resolves it when it creates the resource.
    fn dynamic_references(&self, s: &str) -> String {
        let Some(inner) = s
            .strip_prefix("{{resolve:secretsmanager:")
            .and_then(|r| r.strip_suffix(":SecretString}}"))
        else {
            return s.to_string();
        };
        self.secrets
            .get(inner)
            .cloned()
            .unwrap_or_else(|| panic!("no value for secret {inner} (Stack::set_secret)"))
    }

    pub fn resource(&self, id: &str) -> &Value {
        &self.template["Resources"][id]
    }

    /// Whether the resource is created with these parameters.
    pub fn exists(&self, id: &str) -> bool {
        match self.resource(id)["Condition"].as_str() {
            Some(condition) => self.condition(condition),
            None => true,
        }
    }

    pub fn distribution(&self) -> &Value {
        &self.resource("Distribution")["Properties"]["DistributionConfig"]
    }

    /// A SAM function's environment: the template's `Globals` and its own
    /// variables, evaluated (variables that are `AWS::NoValue` are absent).
    pub fn function_environment(&self, function: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let globals = &self.template["Globals"]["Function"]["Environment"]["Variables"];
        let own = &self.resource(function)["Properties"]["Environment"]["Variables"];
        for variables in [globals, own] {
            for (name, value) in variables.as_object().into_iter().flatten() {
                match self.eval(value) {
                    Some(Value::String(v)) => {
                        env.insert(name.clone(), v);
                    }
                    None => {
                        env.remove(name);
                    }
                    Some(other) => panic!("{function} {name}: {other}"),
                }
            }
        }
        env
    }

    /// The binary a SAM function runs (`Metadata.BuildProperties.Binary`).
    pub fn function_binary(&self, function: &str) -> String {
        self.resource(function)["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{function} names no binary"))
            .to_string()
    }
}
