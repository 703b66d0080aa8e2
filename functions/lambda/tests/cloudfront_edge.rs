//! CloudFront's routing as `template.yaml` declares it, run offline: the
//! distribution's cache behaviours are read from the template (parsed by
//! cfn-lint's CloudFormation YAML loader, never restated here), matched by
//! path pattern in order as CloudFront documents; the viewer-request
//! function's own source runs under `node` with a stand-in for the
//! `cloudfront` module; the managed policies, by their IDs, and the
//! template's own policies decide which headers and query strings reach
//! which origin; origin custom headers are added; OAC replaces
//! `Authorization` on the S3 origin.
//!
//! It follows AWS's documented rules, not AWS's implementation: it proves
//! the template routes what it should where it should under those rules.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::Command;

/// template.yaml as JSON, short-form tags (`!Ref`, `!If`…) in their long form.
fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
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
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What the managed policies the template names by ID do (AWS's
/// documentation of each managed policy).
fn managed_cache_policy(id: &str) -> Option<CachePolicy> {
    match id {
        // Managed-CachingOptimized
        "658327ea-f89d-4fab-a63d-7e88639e58f6" => Some(CachePolicy {
            headers: vec![],
            query_strings: false,
            max_ttl: 31_536_000,
        }),
        // Managed-CachingDisabled
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" => Some(CachePolicy {
            headers: vec![],
            query_strings: false,
            max_ttl: 0,
        }),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum OriginRequestPolicy {
    /// Managed-AllViewerExceptHostHeader: every viewer header but Host,
    /// every cookie and query string.
    AllViewerExceptHostHeader,
}

fn managed_origin_request_policy(id: &str) -> OriginRequestPolicy {
    match id {
        "b689b0a8-53d0-40ab-baf2-68738e2966ac" => OriginRequestPolicy::AllViewerExceptHostHeader,
        other => panic!("origin request policy {other} is not modelled"),
    }
}

#[derive(Debug, Clone)]
struct CachePolicy {
    /// Headers in the cache key, which CloudFront therefore forwards.
    headers: Vec<String>,
    query_strings: bool,
    max_ttl: u64,
}

/// The template with its parameters applied: conditions and `!If`, `!Ref`
/// of parameters resolved; resources by logical id.
struct Stack {
    template: Value,
    parameters: BTreeMap<String, String>,
}

impl Stack {
    fn new(overrides: &[(&str, &str)]) -> Self {
        let template = template();
        let mut parameters = BTreeMap::new();
        for (name, spec) in template["Parameters"].as_object().unwrap() {
            let default = match &spec["Default"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            parameters.insert(name.clone(), default);
        }
        for (name, value) in overrides {
            parameters.insert((*name).into(), (*value).into());
        }
        Self {
            template,
            parameters,
        }
    }

    fn condition(&self, name: &str) -> bool {
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

    /// Resolves `!If` and `!Ref` of a parameter; other references stay as they are.
    fn resolve(&self, value: &Value) -> Value {
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
            Value::String(s) => Value::String(s.clone()),
            Value::Number(n) => Value::String(n.to_string()),
            other => other.clone(),
        }
    }

    fn resource(&self, id: &str) -> &Value {
        &self.template["Resources"][id]
    }

    fn exists(&self, id: &str) -> bool {
        match self.resource(id)["Condition"].as_str() {
            Some(condition) => self.condition(condition),
            None => true,
        }
    }

    fn distribution(&self) -> &Value {
        &self.resource("Distribution")["Properties"]["DistributionConfig"]
    }

    /// The cache policy an ID names: managed, or one of the template's.
    fn cache_policy(&self, id: &Value) -> CachePolicy {
        let id = self.resolve(id);
        if let Some(s) = id.as_str() {
            return managed_cache_policy(s).unwrap_or_else(|| panic!("unknown policy {s}"));
        }
        let logical = id["Ref"].as_str().expect("a Ref to a cache policy");
        assert!(
            self.exists(logical),
            "{logical} is not created with these parameters"
        );
        let config = &self.resource(logical)["Properties"]["CachePolicyConfig"];
        let key = &config["ParametersInCacheKeyAndForwardedToOrigin"];
        let headers = match key["HeadersConfig"]["HeaderBehavior"].as_str() {
            Some("whitelist") => key["HeadersConfig"]["Headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap().to_ascii_lowercase())
                .collect(),
            _ => vec![],
        };
        let ttl = |name: &str| -> u64 {
            self.resolve(&config[name])
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        // CloudFront refuses a policy whose TTLs are all 0 with compression
        // or cache key settings.
        let all_zero = ttl("MinTTL") == 0 && ttl("DefaultTTL") == 0 && ttl("MaxTTL") == 0;
        assert!(
            !(all_zero && (key["EnableAcceptEncodingGzip"] == true || !headers.is_empty())),
            "{logical}: all TTLs 0 with cache key settings"
        );
        CachePolicy {
            headers,
            query_strings: key["QueryStringsConfig"]["QueryStringBehavior"] != "none",
            max_ttl: ttl("MaxTTL"),
        }
    }
}

/// CloudFront's path patterns: `*` any run of characters (`/` too), `?` one;
/// a pattern behaves the same with or without its leading `/`. Whether a
/// leading `*` may stand for an empty first segment is not documented, so
/// here it may not (`*/api/v1/*` does not match `/api/v1/me`): the
/// template must not depend on it.
fn matches(pattern: &str, path: &str) -> bool {
    let pattern = if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("/{pattern}")
    };
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// What an origin receives, or what the viewer gets without one.
#[derive(Debug)]
enum Outcome {
    Origin {
        origin: String,
        path: String,
        query: Option<String>,
        headers: BTreeMap<String, String>,
        cache_ttl: u64,
    },
    Response {
        status: u64,
        location: Option<String>,
    },
    MethodNotAllowed,
}

/// Runs the viewer-request function's source from the template under node.
fn viewer_function(stack: &Stack, method: &str, uri: &str) -> Value {
    let code = stack.resource("ViewerRequestFunction")["Properties"]["FunctionCode"]
        .as_str()
        .unwrap();
    let import = "import cf from 'cloudfront';";
    assert!(
        code.contains(import),
        "the function imports the cloudfront module"
    );
    let stand_in = "const cf = { selectRequestOriginById(id) { globalThis.__origin = id; } };";
    let script = format!(
        "{}\nconst result = handler({});\nconsole.log(JSON.stringify({{ result, origin: globalThis.__origin ?? null }}));\n",
        code.replace(import, stand_in),
        json!({ "version": "1.0", "request": { "method": method, "uri": uri, "headers": {}, "querystring": {}, "cookies": {} } })
    );
    let out = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn request(
    stack: &Stack,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> Outcome {
    let distribution = stack.distribution();
    let behaviours = distribution["CacheBehaviors"].as_array().unwrap();
    // The behaviour is chosen by path before any function runs.
    let behaviour = behaviours
        .iter()
        .find(|b| matches(b["PathPattern"].as_str().unwrap(), path))
        .unwrap_or(&distribution["DefaultCacheBehavior"]);
    let allowed = behaviour["AllowedMethods"].as_array().unwrap();
    if !allowed.iter().any(|m| m == method) {
        return Outcome::MethodNotAllowed;
    }
    let mut origin = behaviour["TargetOriginId"].as_str().unwrap().to_string();
    let mut path = path.to_string();
    let function = behaviour["FunctionAssociations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|f| f["EventType"] == "viewer-request");
    if function {
        let ran = viewer_function(stack, method, &path);
        let result = &ran["result"];
        if let Some(status) = result.get("statusCode") {
            return Outcome::Response {
                status: status.as_u64().unwrap(),
                location: result["headers"]["location"]["value"]
                    .as_str()
                    .map(str::to_string),
            };
        }
        path = result["uri"].as_str().unwrap().to_string();
        if let Some(selected) = ran["origin"].as_str() {
            origin = selected.to_string();
        }
    } else if path == "/" {
        // Without a function, `/` is the default root object.
        let root = distribution["DefaultRootObject"].as_str();
        path = format!("/{}", root.expect("a default root object: never a listing"));
    }
    // The behaviour's policies decide what is forwarded, whatever the origin.
    let cache = stack.cache_policy(&behaviour["CachePolicyId"]);
    let request_policy = behaviour
        .get("OriginRequestPolicyId")
        .map(|id| managed_origin_request_policy(id.as_str().unwrap()));
    let mut forwarded = BTreeMap::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let passes = cache.headers.contains(&name)
            || (request_policy == Some(OriginRequestPolicy::AllViewerExceptHostHeader)
                && name != "host");
        if passes {
            forwarded.insert(name, value.to_string());
        }
    }
    let query = query
        .filter(|_| cache.query_strings || request_policy.is_some())
        .map(str::to_string);
    let spec = distribution["Origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Id"] == origin.as_str())
        .expect("the origin exists");
    for header in spec["OriginCustomHeaders"].as_array().into_iter().flatten() {
        let value = match &header["HeaderValue"] {
            Value::String(s) => s.clone(),
            // A dynamic reference resolved at deploy time: a stand-in value.
            other => format!("resolved:{other}"),
        };
        forwarded.insert(
            header["HeaderName"].as_str().unwrap().to_ascii_lowercase(),
            value,
        );
    }
    if spec.get("OriginAccessControlId").is_some() {
        // OAC signs "always": the viewer's Authorization is replaced.
        let oac =
            stack.resource("BucketOriginAccessControl")["Properties"]["OriginAccessControlConfig"]
                ["SigningBehavior"]
                .as_str()
                .unwrap();
        assert_eq!(oac, "always");
        forwarded.insert("authorization".into(), "AWS4-HMAC-SHA256 (OAC)".into());
    }
    Outcome::Origin {
        origin,
        path,
        query,
        headers: forwarded,
        cache_ttl: cache.max_ttl,
    }
}

const TOKEN: (&str, &str) = ("Authorization", "cyd_secret_token");

fn origin_of(outcome: &Outcome) -> (&str, &str, &BTreeMap<String, String>) {
    match outcome {
        Outcome::Origin {
            origin,
            path,
            headers,
            ..
        } => (origin, path, headers),
        other => panic!("no origin request: {other:?}"),
    }
}

#[test]
fn direct_uploads_reach_the_api_with_their_token_and_the_origin_secret() {
    let stack = Stack::new(&[]);
    let put = request(
        &stack,
        "PUT",
        "/main/crates/foo/foo-1.0.0.crate",
        None,
        &[TOKEN],
    );
    let (origin, path, headers) = origin_of(&put);
    assert_eq!((origin, path), ("api", "/main/crates/foo/foo-1.0.0.crate"));
    assert_eq!(headers["authorization"], "cyd_secret_token");
    assert!(
        headers.contains_key("x-crateyard-origin-secret"),
        "{headers:?}"
    );
    // `+` in a version travels as %2B.
    let plus = request(
        &stack,
        "PUT",
        "/main/crates/foo/foo-1.0.0+b.crate",
        None,
        &[TOKEN],
    );
    assert_eq!(origin_of(&plus).1, "/main/crates/foo/foo-1.0.0%2Bb.crate");
}

#[test]
fn downloads_are_cached_anonymous_s3_reads_even_for_a_crate_named_api() {
    let stack = Stack::new(&[]);
    for path in [
        "/main/crates/api/api-1.0.0.crate",
        "/main/crates/v1/v1-1.0.0.crate",
        "/main/index/3/a/api",
        "/main/ui/readmes/api/1.0.0.html",
    ] {
        let got = request(&stack, "GET", path, None, &[]);
        let (origin, _, headers) = origin_of(&got);
        assert_eq!(origin, "bucket", "{path}");
        assert!(!headers.contains_key("x-crateyard-origin-secret"), "{path}");
        if let Outcome::Origin { cache_ttl, .. } = got {
            assert!(cache_ttl > 0, "{path} is cached");
        }
    }
    // A viewer's token never reaches S3: OAC's signature replaces it.
    let got = request(
        &stack,
        "GET",
        "/main/crates/foo/foo-1.0.0.crate",
        None,
        &[TOKEN],
    );
    assert_ne!(origin_of(&got).2["authorization"], "cyd_secret_token");
}

#[test]
fn the_api_gets_every_api_path_with_token_query_and_secret() {
    let stack = Stack::new(&[]);
    for (method, path) in [
        ("PUT", "/main/api/v1/crates/new"),
        ("GET", "/main/api/v1/crates"),
        ("DELETE", "/main/api/v1/crates/foo/1.0.0/yank"),
        ("POST", "/main/api/v1/uploads"),
        ("GET", "/api/v1/me"),
        ("POST", "/api/v1/tokens"),
        ("GET", "/vault/api/private/index/3/f/foo"),
        ("GET", "/vault/api/private/crates/foo/foo-1.0.0.crate"),
    ] {
        let got = request(
            &stack,
            method,
            path,
            Some("q=foo"),
            &[TOKEN, ("Host", "crates.example.com")],
        );
        let Outcome::Origin {
            origin,
            headers,
            query,
            cache_ttl,
            ..
        } = got
        else {
            panic!("{method} {path}: {got:?}")
        };
        assert_eq!(origin, "api", "{method} {path}");
        assert_eq!(headers["authorization"], "cyd_secret_token", "{path}");
        assert!(headers.contains_key("x-crateyard-origin-secret"), "{path}");
        // The function URL needs its own Host.
        assert!(!headers.contains_key("host"), "{path}");
        assert_eq!(query.as_deref(), Some("q=foo"), "{path}");
        assert_eq!(cache_ttl, 0, "{path} is never cached");
    }
}

#[test]
fn the_root_is_the_web_ui_never_a_listing() {
    let stack = Stack::new(&[]);
    match request(&stack, "GET", "/", None, &[]) {
        Outcome::Response { status, location } => {
            assert_eq!((status, location.as_deref()), (302, Some("/ui/")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        stack.distribution()["DefaultRootObject"],
        "ui/index.html",
        "the backstop if the function did not run"
    );
    let page = request(&stack, "GET", "/ui/main/api/latest", None, &[]);
    assert_eq!(origin_of(&page).0, "bucket");
    assert_eq!(origin_of(&page).1, "/ui/index.html");
    // Nothing is written to the bucket through the default behaviour.
    assert!(matches!(
        request(&stack, "PUT", "/ui/index.html", None, &[TOKEN]),
        Outcome::MethodNotAllowed
    ));
}

#[test]
fn index_files_without_caching_use_a_policy_cloudfront_accepts() {
    let cached = Stack::new(&[]);
    let got = request(&cached, "GET", "/main/index/3/f/foo", None, &[]);
    let Outcome::Origin { cache_ttl, .. } = got else {
        panic!()
    };
    assert_eq!(cache_ttl, 5);
    let uncached = Stack::new(&[("IndexMaxAgeSeconds", "0")]);
    assert!(!uncached.exists("IndexCachePolicy"));
    let got = request(&uncached, "GET", "/main/index/3/f/foo", None, &[]);
    let Outcome::Origin {
        cache_ttl, origin, ..
    } = got
    else {
        panic!()
    };
    assert_eq!((origin.as_str(), cache_ttl), ("bucket", 0));
}

#[test]
fn a_custom_domain_gets_its_alias_and_certificate_only_when_given() {
    let none = Stack::new(&[]);
    let config = none.distribution();
    assert_eq!(
        none.resolve(&config["Aliases"]),
        json!({ "Ref": "AWS::NoValue" })
    );
    let domain = Stack::new(&[
        ("DomainName", "crates.example.com"),
        (
            "CertificateArn",
            "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        ),
    ]);
    let config = domain.distribution();
    assert_eq!(
        domain.resolve(&config["Aliases"])[0],
        json!({ "Ref": "DomainName" })
    );
    let certificate = domain.resolve(&config["ViewerCertificate"]);
    assert_eq!(certificate["SslSupportMethod"], "sni-only");
    assert_eq!(certificate["MinimumProtocolVersion"], "TLSv1.2_2021");
    assert_eq!(
        domain.resolve(&certificate["AcmCertificateArn"]),
        "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    );
}

// Deploy-time rules AWS documents and neither moto nor the linters check.

/// Every statement of every function's inline policies.
fn policy_statements(stack: &Stack, function: &str) -> Vec<Value> {
    stack.resource(function)["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
        _ => vec![],
    }
}

#[test]
fn transactions_are_authorised_per_item() {
    let stack = Stack::new(&[]);
    for function in ["ApiFunction", "IndexerFunction", "SetupFunction"] {
        let granted: Vec<String> = policy_statements(&stack, function)
            .iter()
            .flat_map(actions)
            .collect();
        // Not an IAM action: a policy naming it grants nothing.
        assert!(
            !granted.iter().any(|a| a == "dynamodb:TransactWriteItems"),
            "{function}"
        );
        for needed in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ] {
            assert!(granted.iter().any(|a| a == needed), "{function}: {needed}");
        }
    }
}

#[test]
fn names_stay_within_64_characters_whatever_the_stack_name() {
    let stack = Stack::new(&[]);
    let stack_id_part = "5b5f6a70-cf2e-11f0-9a3e-0a1b2c3d4e5f";
    let long_stack_name = "s".repeat(128);
    for (id, resource) in stack.template["Resources"].as_object().unwrap() {
        let properties = &resource["Properties"];
        let names = [
            &properties["Name"],
            &properties["CachePolicyConfig"]["Name"],
            &properties["OriginAccessControlConfig"]["Name"],
        ];
        for name in names {
            let Some(sub) = name.get("Fn::Sub") else {
                continue;
            };
            let text = match sub {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts[0].as_str().unwrap().to_string(),
                _ => unreachable!(),
            };
            let expanded = text
                .replace("${AWS::StackName}", &long_stack_name)
                .replace("${Id}", stack_id_part);
            assert!(
                expanded.len() <= 64,
                "{id}: {expanded} ({})",
                expanded.len()
            );
        }
    }
}

#[test]
fn failures_land_in_queues_and_alarms_notify_when_asked() {
    let stack = Stack::new(&[]);
    let indexer = &stack.resource("IndexerFunction")["Properties"];
    assert_eq!(
        indexer["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Type"],
        "SQS"
    );
    let queue = &stack.resource("IndexChangesQueue")["Properties"];
    assert!(
        queue["RedrivePolicy"]["deadLetterTargetArn"].is_object(),
        "{queue}"
    );
    let alarms: Vec<(&String, &Value)> = stack.template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    let watched: Vec<String> = alarms
        .iter()
        .map(|(_, a)| a["Properties"]["Dimensions"][0]["Value"].to_string())
        .collect();
    for queue in ["IndexerFailuresQueue", "IndexChangesDeadLetterQueue"] {
        assert!(
            watched.iter().any(|w| w.contains(queue)),
            "no alarm on {queue}"
        );
    }
    let without_email = Stack::new(&[]);
    let with_email = Stack::new(&[("AlarmEmail", "ops@example.com")]);
    assert!(!without_email.exists("AlarmTopic"));
    assert!(with_email.exists("AlarmTopic"));
    for (id, alarm) in alarms {
        let actions = &alarm["Properties"]["AlarmActions"];
        assert_eq!(
            with_email.resolve(actions),
            json!([{ "Ref": "AlarmTopic" }]),
            "{id}"
        );
        assert_eq!(
            without_email.resolve(actions),
            json!({ "Ref": "AWS::NoValue" }),
            "{id}"
        );
    }
}
