//! CloudFront's routing as `template.yaml` declares it, request by request
//! (`crateyard_e2e::edge::distribution`): the cache behaviour matched by
//! path pattern in order, the viewer-request function's own source run by
//! `node`, the managed and the template's own policies deciding which
//! headers and query strings reach which origin, origin custom headers,
//! Origin Access Control on the S3 origin; and deploy-time rules AWS
//! documents that neither moto nor the linters check.
//!
//! It follows AWS's documented rules, not AWS's implementation.

use crateyard_e2e::edge::distribution::{Distribution, OriginRequest, Outcome};
use crateyard_e2e::edge::stack::Stack;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

fn request(
    stack: &Stack,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &[(&str, &str)],
) -> Outcome {
    let stack = Arc::new(stack.clone());
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Distribution::new(stack).route(method, path, query, &headers)
}

const TOKEN: (&str, &str) = ("Authorization", "cyd_secret_token");

fn origin_of(outcome: &Outcome) -> (&str, &str, &BTreeMap<String, String>) {
    match outcome {
        Outcome::Origin(OriginRequest {
            origin,
            path,
            headers,
            ..
        }) => (origin, path, headers),
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
fn bodies_over_the_invoke_ceiling_are_answered_at_the_edge_in_cargos_shape() {
    let stack = Stack::new(&[]);
    for path in [
        "/main/api/v1/crates/new",
        "/main/crates/foo/foo-1.0.0.crate",
    ] {
        let at_limit = request(
            &stack,
            "PUT",
            path,
            None,
            &[TOKEN, ("Content-Length", "4500000")],
        );
        assert_eq!(origin_of(&at_limit).0, "api", "{path}");
        match request(
            &stack,
            "PUT",
            path,
            None,
            &[TOKEN, ("Content-Length", "4500001")],
        ) {
            Outcome::Response { status, body, .. } => {
                assert_eq!(status, 413, "{path}");
                let detail: Value = serde_json::from_str(&body).unwrap();
                let detail = detail["errors"][0]["detail"].as_str().unwrap();
                assert!(detail.contains("POST /main/api/v1/uploads"), "{detail}");
                assert!(detail.contains("4500001 bytes"), "{detail}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

#[test]
fn downloads_are_cached_anonymous_s3_reads_even_for_a_crate_named_api() {
    let stack = Stack::new(&[]);
    for path in [
        "/main/crates/api/api-1.0.0.crate",
        "/main/crates/v1/v1-1.0.0.crate",
        "/main/index/3/a/api",
        "/main/ui/readmes/api/1.0.0.html",
        "/main/ui/versions/api/1.0.0.json",
    ] {
        let got = request(&stack, "GET", path, None, &[]);
        let (origin, _, headers) = origin_of(&got);
        assert_eq!(origin, "bucket", "{path}");
        assert!(!headers.contains_key("x-crateyard-origin-secret"), "{path}");
        if let Outcome::Origin(got) = got {
            assert!(got.cache.max_ttl > 0, "{path} is cached");
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
        let Outcome::Origin(OriginRequest {
            origin,
            headers,
            query,
            cache,
            ..
        }) = got
        else {
            panic!("{method} {path}: {got:?}")
        };
        let cache_ttl = cache.max_ttl;
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
        Outcome::Response {
            status, headers, ..
        } => {
            assert_eq!((status, headers["location"].as_str()), (302, "/ui/"));
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
    // The shell names its assets with this build's version (`?v=`): the
    // object at the asset's key answers whatever the version, and each
    // version is its own cache entry, so a new shell never gets the last
    // deploy's cached script. Other query strings neither split the cache
    // nor reach S3.
    let asset = |query| match request(&stack, "GET", "/ui/assets/app.js", Some(query), &[]) {
        Outcome::Origin(asset) => asset,
        other => panic!("{other:?}"),
    };
    let (old, new) = (asset("v=0123456789ab"), asset("v=ba9876543210&utm=x"));
    for got in [&old, &new] {
        assert_eq!(
            (got.origin.as_str(), got.path.as_str()),
            ("bucket", "/ui/assets/app.js")
        );
    }
    assert_ne!(old.cache_key, new.cache_key);
    assert_eq!(new.query.as_deref(), Some("v=ba9876543210"));
    assert_eq!(
        asset("utm=x").cache_key,
        asset("utm=y").cache_key,
        "only the version is in the key"
    );
    assert!(old.cache.max_ttl >= 86_400, "assets are cached long");
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
    let Outcome::Origin(got) = got else { panic!() };
    assert_eq!(got.cache.max_ttl, 5);
    let uncached = Stack::new(&[("IndexMaxAgeSeconds", "0")]);
    assert!(!uncached.exists("IndexCachePolicy"));
    let got = request(&uncached, "GET", "/main/index/3/f/foo", None, &[]);
    let Outcome::Origin(got) = got else { panic!() };
    assert_eq!((got.origin.as_str(), got.cache.max_ttl), ("bucket", 0));
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

/// IAM's wildcard match of a resource pattern: `*` is any run of
/// characters, `?` any one.
fn iam_matches(pattern: &str, arn: &str) -> bool {
    match (pattern.chars().next(), arn.chars().next()) {
        (None, None) => true,
        (Some('*'), _) => {
            iam_matches(&pattern[1..], arn)
                || arn
                    .chars()
                    .next()
                    .is_some_and(|c| iam_matches(pattern, &arn[c.len_utf8()..]))
        }
        (Some(p), Some(a)) if p == '?' || p == a => {
            iam_matches(&pattern[p.len_utf8()..], &arn[a.len_utf8()..])
        }
        _ => false,
    }
}

/// Whether one of `function`'s statements allows `action` on `arn`.
fn allowed(stack: &Stack, function: &str, action: &str, arn: &str) -> bool {
    policy_statements(stack, function).iter().any(|statement| {
        if statement["Effect"] != "Allow" || !actions(statement).iter().any(|a| a == action) {
            return false;
        }
        let resources = match stack.eval(&statement["Resource"]) {
            Some(Value::Array(list)) => list,
            one => one.into_iter().collect(),
        };
        resources
            .iter()
            .any(|r| r.as_str().is_some_and(|r| iam_matches(r, arn)))
    })
}

#[test]
fn whoever_writes_derived_files_may_purge_and_retag_them() {
    // A writer that read a crate's versions before a deletion committed
    // purges the page it restored for a deleted version (pages.rs): every
    // stored copy, on the versioned bucket.
    let stack = Stack::new(&[]);
    let bucket = stack.eval_str(&json!({"Ref": "RegistryBucket"}));
    let page = format!("arn:aws:s3:::{bucket}/main/ui/versions/foo/1.0.0.json");
    let bucket = format!("arn:aws:s3:::{bucket}");
    assert!(iam_matches("a*c?e", "abbbcde") && !iam_matches("a*c", "abd"));
    for function in ["ApiFunction", "IndexerFunction", "ReindexFunction"] {
        assert!(
            allowed(&stack, function, "s3:PutObject", &page),
            "{function}"
        );
        for action in ["s3:DeleteObject", "s3:DeleteObjectVersion"] {
            assert!(
                allowed(&stack, function, action, &page),
                "{function}: {action}"
            );
        }
        assert!(
            allowed(&stack, function, "s3:ListBucketVersions", &bucket),
            "{function}"
        );
        // A writer that finds the repository changed visibility meanwhile
        // re-tags all of it (repositories.rs).
        for object in [
            "index/3/f/foo",
            "crates/foo/foo-1.0.0.crate",
            "search/00.json",
        ] {
            let object = page.replace("ui/versions/foo/1.0.0.json", object);
            for action in ["s3:GetObjectTagging", "s3:PutObjectTagging"] {
                assert!(
                    allowed(&stack, function, action, &object),
                    "{function}: {action}"
                );
            }
        }
        let index = page.replace("ui/versions/foo/1.0.0.json", "index/3/f/foo");
        assert!(
            !allowed(&stack, function, "s3:DeleteObjectVersion", &index),
            "{function}: only what a deletion removes"
        );
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
    for function in ["IndexerFunction", "ReindexFunction"] {
        let properties = &stack.resource(function)["Properties"];
        assert_eq!(
            properties["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Type"], "SQS",
            "{function}"
        );
    }
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
    for queue in [
        "IndexerFailuresQueue",
        "ReindexFailuresQueue",
        "IndexChangesDeadLetterQueue",
    ] {
        assert!(
            watched.iter().any(|w| w.contains(queue)),
            "no alarm on {queue}"
        );
    }
    // A reindex job's batches run at most ReindexConcurrency at once, or
    // unreserved with 0.
    let reserved = |stack: &Stack| {
        stack.eval(&stack.resource("ReindexFunction")["Properties"]["ReservedConcurrentExecutions"])
    };
    assert_eq!(reserved(&stack), Some(json!("10")));
    assert_eq!(reserved(&Stack::new(&[("ReindexConcurrency", "0")])), None);
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

/// The template's EventBridge rule, as EventBridge applies it: index files
/// and pages written, and `.crate` files and READMEs deleted (`crateyard
/// delete`), reach the invalidator; a `.crate` written does not (it never
/// changes in place).
#[test]
fn deleted_crate_files_reach_the_invalidator() {
    use crateyard_e2e::edge::s3_events::{
        ObjectCreated, eventbridge_event, pattern_matches, s3_routes,
    };
    let stack = Stack::new(&[]);
    let routes = s3_routes(&stack);
    let bucket =
        stack.eval_str(&stack.template["Resources"]["RegistryBucket"]["Properties"]["BucketName"]);
    let event = |key: &str, deleted: bool| {
        let mut event = eventbridge_event(&ObjectCreated {
            bucket: bucket.clone(),
            key: key.into(),
            size: 1,
        });
        if deleted {
            event["detail-type"] = json!("Object Deleted");
            event["detail"]["reason"] = json!("DeleteObject");
        }
        event
    };
    let invalidated = |event: &Value| {
        routes
            .rules
            .iter()
            .filter(|(pattern, ..)| pattern_matches(pattern, event))
            .map(|(_, function, _)| function.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        invalidated(&event("main/index/3/f/foo", false)),
        ["InvalidatorFunction"]
    );
    assert_eq!(
        invalidated(&event("main/crates/foo/foo-1.0.0.crate", true)),
        ["InvalidatorFunction"]
    );
    assert_eq!(
        invalidated(&event("main/ui/readmes/foo/1.0.0.html", true)),
        ["InvalidatorFunction"]
    );
    assert_eq!(
        invalidated(&event("main/ui/versions/foo/1.0.0.json", true)),
        ["InvalidatorFunction"]
    );
    assert!(invalidated(&event("main/ui/versions/foo/1.0.0.json", false)).is_empty());
    // Setup rewrites the UI's files on every deploy: the edge drops the old.
    for key in ["ui/assets/app.js", "ui/assets/app.css", "ui/index.html"] {
        assert_eq!(
            invalidated(&event(key, false)),
            ["InvalidatorFunction"],
            "{key}"
        );
    }
    assert!(invalidated(&event("main/crates/foo/foo-1.0.0.crate", false)).is_empty());
}
