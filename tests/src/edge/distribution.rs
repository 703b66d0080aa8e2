//! The distribution's request routing as CloudFront documents it, driven by
//! the template: the cache behaviour chosen by path pattern in order; its
//! allowed methods; the viewer-request function (its own source, run by
//! `node`); the cache policy and origin request policy deciding which
//! headers and query strings reach the origin and how long an answer is
//! cached; origin custom headers; Origin Access Control on the S3 origin.

use super::stack::Stack;
use super::wildcard;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A cache policy's effect: what is in the cache key (and so forwarded) and
/// the TTL bounds.
#[derive(Debug, Clone)]
pub struct CachePolicy {
    /// Headers in the cache key, lowercase; CloudFront forwards them.
    pub headers: Vec<String>,
    pub query_strings: QueryStrings,
    pub min_ttl: u64,
    pub default_ttl: u64,
    pub max_ttl: u64,
}

/// Which query strings a cache policy keys on (and so forwards).
#[derive(Debug, Clone, PartialEq)]
pub enum QueryStrings {
    None,
    All,
    /// `whitelist`: only these names.
    Only(Vec<String>),
}

impl QueryStrings {
    /// The part of `query` in the cache key and forwarded, in its order.
    fn keyed(&self, query: Option<&str>) -> Option<String> {
        let query = query?;
        match self {
            Self::None => None,
            Self::All => Some(query.to_string()),
            Self::Only(names) => Some(
                query
                    .split('&')
                    .filter(|p| names.iter().any(|n| p.split('=').next() == Some(n)))
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
        }
    }
}

/// What the managed cache policies the template names by ID do (AWS's
/// documentation of each managed policy).
fn managed_cache_policy(id: &str) -> Option<CachePolicy> {
    let policy = |min_ttl, default_ttl, max_ttl| CachePolicy {
        headers: vec![],
        query_strings: QueryStrings::None,
        min_ttl,
        default_ttl,
        max_ttl,
    };
    match id {
        // Managed-CachingOptimized
        "658327ea-f89d-4fab-a63d-7e88639e58f6" => Some(policy(1, 86_400, 31_536_000)),
        // Managed-CachingDisabled
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" => Some(policy(0, 0, 0)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OriginRequestPolicy {
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

impl Stack {
    /// The cache policy an ID names: managed, or one of the template's.
    pub fn cache_policy(&self, id: &Value) -> CachePolicy {
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
            query_strings: match key["QueryStringsConfig"]["QueryStringBehavior"].as_str() {
                Some("none") => QueryStrings::None,
                Some("all") => QueryStrings::All,
                Some("whitelist") => QueryStrings::Only(
                    key["QueryStringsConfig"]["QueryStrings"]
                        .as_array()
                        .expect("a whitelist names its query strings")
                        .iter()
                        .map(|q| q.as_str().unwrap().to_string())
                        .collect(),
                ),
                other => panic!("{logical}: query string behaviour {other:?} is not modelled"),
            },
            min_ttl: ttl("MinTTL"),
            default_ttl: ttl("DefaultTTL"),
            max_ttl: ttl("MaxTTL"),
        }
    }
}

/// CloudFront's path patterns: `*` any run of characters (`/` too), `?` one;
/// a pattern behaves the same with or without its leading `/`. Whether a
/// leading `*` may stand for an empty first segment is not documented, so
/// here it may not (`*/api/v1/*` does not match `/api/v1/me`): the
/// template must not depend on it.
pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern.starts_with('/') {
        wildcard(pattern, path)
    } else {
        wildcard(&format!("/{pattern}"), path)
    }
}

/// The viewer-request function's source from the template, running in one
/// `node` process (a stand-in for the `cloudfront` module's
/// `selectRequestOriginById`), one event per line.
pub struct ViewerFunction {
    process: Mutex<(Child, ChildStdin, BufReader<ChildStdout>)>,
}

impl ViewerFunction {
    pub fn start(stack: &Stack) -> Self {
        let code = stack.resource("ViewerRequestFunction")["Properties"]["FunctionCode"]
            .as_str()
            .expect("the viewer function's code is inline");
        let import = "import cf from 'cloudfront';";
        assert!(
            code.contains(import),
            "the function imports the cloudfront module"
        );
        let stand_in = "const cf = { selectRequestOriginById(id) { globalThis.__origin = id; } };";
        let script = format!(
            "{}\nimport readline from 'node:readline';\n\
             for await (const line of readline.createInterface({{ input: process.stdin }})) {{\n\
               globalThis.__origin = null;\n\
               const result = handler(JSON.parse(line));\n\
               console.log(JSON.stringify({{ result, origin: globalThis.__origin }}));\n\
             }}\n",
            code.replace(import, stand_in)
        );
        let mut child = Command::new("node")
            .args(["--input-type=module", "-e", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node runs (tests/run.sh installs it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            process: Mutex::new((child, stdin, stdout)),
        }
    }

    /// The function's answer to one viewer request: `{result, origin}`.
    /// Headers are given as CloudFront gives them: lowercase, without the
    /// ones it never exposes to functions.
    pub fn run(
        &self,
        method: &str,
        uri: &str,
        querystring: &BTreeMap<String, String>,
        headers: &[(String, String)],
    ) -> Value {
        let querystring: serde_json::Map<String, Value> = querystring
            .iter()
            .map(|(k, v)| (k.clone(), json!({ "value": v })))
            .collect();
        const NOT_EXPOSED: [&str; 4] = ["connection", "expect", "keep-alive", "upgrade"];
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .filter(|(k, _)| !NOT_EXPOSED.contains(&k.as_str()))
            .map(|(k, v)| (k, json!({ "value": v })))
            .collect();
        let event = json!({
            "version": "1.0",
            "context": { "eventType": "viewer-request" },
            "viewer": { "ip": "127.0.0.1" },
            "request": { "method": method, "uri": uri, "headers": headers, "querystring": querystring, "cookies": {} },
        });
        let mut process = self.process.lock().unwrap();
        let (_, stdin, stdout) = &mut *process;
        writeln!(stdin, "{event}").expect("node reads the event");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("node answers");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the viewer function failed ({e}): {line:?}"))
    }
}

impl Drop for ViewerFunction {
    fn drop(&mut self) {
        if let Ok(mut process) = self.process.lock() {
            let _ = process.0.kill();
            let _ = process.0.wait();
        }
    }
}

/// What CloudFront does with a viewer request.
#[derive(Debug)]
pub enum Outcome {
    /// A request to an origin, and how its answer may be cached.
    Origin(OriginRequest),
    /// The viewer function answered itself.
    Response {
        status: u16,
        headers: BTreeMap<String, String>,
        body: String,
    },
    /// The behaviour does not allow the method (CloudFront answers 403).
    MethodNotAllowed,
}

#[derive(Debug, Clone)]
pub struct OriginRequest {
    /// The origin's `Id` in the template.
    pub origin: String,
    /// The URI after the viewer function.
    pub path: String,
    pub query: Option<String>,
    /// What reaches the origin: forwarded viewer headers (lowercase) and
    /// the origin's custom headers.
    pub headers: BTreeMap<String, String>,
    pub cache: CachePolicy,
    /// Whether the behaviour caches this method's answers.
    pub cached_method: bool,
    /// The cache key: path, and the query and headers the policy keys on.
    pub cache_key: String,
    /// Whether OAC signs the request (the S3 origin).
    pub signed_by_oac: bool,
}

/// The routing of one viewer request, as `template.yaml` declares it.
pub struct Distribution {
    stack: Arc<Stack>,
    function: ViewerFunction,
}

impl Distribution {
    pub fn new(stack: Arc<Stack>) -> Self {
        let function = ViewerFunction::start(&stack);
        Self { stack, function }
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The distribution's ARN, which S3 sees as `AWS:SourceArn`.
    pub fn source_arn(&self) -> String {
        self.stack.eval_str(&json!({
            "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
        }))
    }

    pub fn route(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &[(String, String)],
    ) -> Outcome {
        let stack = &self.stack;
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
        let cached_method = behaviour["CachedMethods"]
            .as_array()
            .map(|m| m.iter().any(|m| m == method))
            // CloudFront's default: GET and HEAD.
            .unwrap_or(method == "GET" || method == "HEAD");
        let mut origin = behaviour["TargetOriginId"].as_str().unwrap().to_string();
        let mut path = path.to_string();
        let function = behaviour["FunctionAssociations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["EventType"] == "viewer-request");
        if function {
            let querystring = query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let ran = self.function.run(method, &path, &querystring, headers);
            let result = &ran["result"];
            if let Some(status) = result.get("statusCode") {
                let headers = result["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v["value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                let body = &result["body"];
                let body = body["data"].as_str().or(body.as_str()).unwrap_or_default();
                return Outcome::Response {
                    status: status.as_u64().unwrap() as u16,
                    headers,
                    body: body.to_string(),
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
        let mut key = path.clone();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let keyed = cache.headers.contains(&name);
            if keyed {
                key.push_str(&format!("\n{name}: {value}"));
            }
            let passes = keyed
                || (request_policy == Some(OriginRequestPolicy::AllViewerExceptHostHeader)
                    && name != "host");
            if passes {
                forwarded.insert(name, value.clone());
            }
        }
        let keyed_query = cache.query_strings.keyed(query);
        if let Some(keyed) = &keyed_query {
            key.push_str(&format!("?{keyed}"));
        }
        // The origin request policy forwards every query string; without
        // one, only those in the cache key reach the origin.
        let query = match request_policy {
            Some(_) => query.map(str::to_string),
            None => keyed_query,
        };
        let spec = distribution["Origins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["Id"] == origin.as_str())
            .expect("the origin exists");
        for header in spec["OriginCustomHeaders"].as_array().into_iter().flatten() {
            // Resolved as CloudFormation resolves it at deploy time.
            let value = stack.eval_str(&header["HeaderValue"]);
            forwarded.insert(
                header["HeaderName"].as_str().unwrap().to_ascii_lowercase(),
                value,
            );
        }
        let signed_by_oac = spec.get("OriginAccessControlId").is_some();
        if signed_by_oac {
            // OAC signs "always": the viewer's Authorization is replaced.
            let oac = stack.resource("BucketOriginAccessControl")["Properties"]
                ["OriginAccessControlConfig"]["SigningBehavior"]
                .as_str()
                .unwrap();
            assert_eq!(oac, "always");
            forwarded.insert("authorization".into(), "AWS4-HMAC-SHA256 (OAC)".into());
        }
        Outcome::Origin(OriginRequest {
            origin,
            path,
            query,
            headers: forwarded,
            cache,
            cached_method,
            cache_key: key,
            signed_by_oac,
        })
    }
}
