//! The invalidator function: S3 `ObjectCreated` notifications arrive through
//! an SQS queue in batches (up to 1 000 messages, gathered for up to 2 s);
//! each batch becomes one CloudFront invalidation of the distinct index files
//! and crate pages it changed, so cargo and the web UI see a new version
//! before their TTL runs out.

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use crateyard_core::{GitFile, KeyPrefix, ObjectKey};
use crateyard_lambda::{init_logging, s3_event_key};
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

/// CloudFront allows 3 000 paths in progress per distribution; a batch
/// changing more than that invalidates its repositories' whole index instead.
const MAX_PATHS: usize = 3_000;

/// What CloudFront wants percent-encoded in an invalidation path: all but
/// unreserved characters and `/` (so a `+` travels as `%2B`).
const PATH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The object keys a queued message names. The template routes S3's
/// EventBridge events ("Object Created", key in `detail.object.key`);
/// plain S3 notifications (`Records[].s3.object.key`, URL-encoded) work too.
/// Anything else (such as the `s3:TestEvent` S3 sends when a notification is
/// configured) names none: retrying it would not help.
fn keys_in_message(body: &str) -> Vec<String> {
    let Ok(message) = serde_json::from_str::<Value>(body) else {
        return Vec::new();
    };
    if let Some(key) = message
        .pointer("/detail/object/key")
        .and_then(Value::as_str)
    {
        // Index keys hold only `[a-z0-9_./-]`: decoding cannot change them.
        return vec![s3_event_key(key)];
    }
    message
        .get("Records")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.pointer("/s3/object/key").and_then(Value::as_str))
        .map(s3_event_key)
        .collect()
}

/// Whether a message reports objects deleted (`crateyard delete`) rather
/// than written: EventBridge's "Object Deleted", S3's `ObjectRemoved:*`.
fn reports_deletion(body: &str) -> bool {
    let Ok(message) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    message.get("detail-type").and_then(Value::as_str) == Some("Object Deleted")
        || message
            .pointer("/Records/0/eventName")
            .and_then(Value::as_str)
            .is_some_and(|name| name.starts_with("ObjectRemoved"))
}

/// A CloudFront path for one key.
fn cdn_path(key: &ObjectKey) -> String {
    format!("/{}", utf8_percent_encode(&key.to_string(), PATH_ENCODE))
}

/// A CloudFront path for every key under a prefix.
fn cdn_paths_under(prefix: KeyPrefix) -> String {
    format!(
        "/{}*",
        utf8_percent_encode(&prefix.to_string(), PATH_ENCODE)
    )
}

/// The distinct index files and crate pages (as CloudFront paths) changed by the batch.
fn changed_paths(event: &SqsEvent) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    // Objects deleted: few (a deletion is rare), each named, whatever the batch.
    let mut removed = BTreeSet::new();
    // Per repository: whether its `config.json` changed.
    let mut repositories = BTreeMap::new();
    for message in &event.records {
        let body = message.body.as_deref().unwrap_or_default();
        let keys = keys_in_message(body);
        if keys.is_empty() {
            tracing::warn!(message_id = ?message.message_id, "names no S3 object; skipped");
        }
        let deleted = reports_deletion(body);
        for key in keys.iter().filter_map(|key| ObjectKey::parse(key)) {
            match &key {
                // A deleted `.crate` or README must leave the edge now.
                _ if deleted => {
                    removed.insert(cdn_path(&key));
                    continue;
                }
                // `config.json` changes when a repository's visibility or URLs
                // do: every copy of its files at the edge may be wrong now (a
                // repository turned private must not be served from the cache).
                ObjectKey::IndexConfig { repo } => {
                    paths.insert(cdn_paths_under(KeyPrefix::Repository(repo.clone())));
                    repositories.insert(repo.clone(), true);
                    continue;
                }
                // What changes in place; `.crate` files, version pages and
                // READMEs never do.
                ObjectKey::IndexFile { .. }
                | ObjectKey::Git {
                    file: GitFile::InfoRefs,
                    ..
                }
                | ObjectKey::CratePage { .. }
                | ObjectKey::RecentPublishes { .. }
                | ObjectKey::Repositories
                // The web UI's shell and assets, which setup writes on
                // every deploy: a new script must meet the data it reads.
                | ObjectKey::Ui(_) => {
                    paths.insert(cdn_path(&key));
                }
                _ => continue,
            }
            if let Some(repo) = key.repository() {
                repositories.entry(repo.clone()).or_insert(false);
            }
        }
    }
    if paths.len() > MAX_PATHS {
        let repositories = repositories
            .into_iter()
            .flat_map(|(repo, config)| match config {
                true => vec![cdn_paths_under(KeyPrefix::Repository(repo))],
                false => vec![
                    cdn_paths_under(KeyPrefix::Index(repo.clone())),
                    cdn_path(&ObjectKey::Git {
                        repo: repo.clone(),
                        file: GitFile::InfoRefs,
                    }),
                    cdn_paths_under(KeyPrefix::Ui(repo)),
                ],
            });
        let registry = [ObjectKey::Repositories]
            .into_iter()
            .map(|key| cdn_path(&key))
            .filter(|path| paths.contains(path));
        return repositories.chain(registry).chain(removed).collect();
    }
    paths.extend(removed);
    paths
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let distribution = std::env::var("CRATEYARD_DISTRIBUTION_ID")
        .map_err(|_| "the CRATEYARD_DISTRIBUTION_ID environment variable must be set")?;
    let config = crateyard_aws::sdk_config_from_lambda_env();
    let cloudfront = &aws_sdk_cloudfront::Client::new(&config);
    let distribution = distribution.as_str();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let paths = changed_paths(&event.payload);
        if paths.is_empty() {
            return Ok::<Value, lambda_http::Error>(json!({ "invalidated": [] }));
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(i32::try_from(paths.len())?)
                    .set_items(Some(paths.iter().cloned().collect()))
                    .build()?,
            )
            .caller_reference(format!("crateyard-{}-{nanos}", event.context.request_id))
            .build()?;
        // A failure fails the whole batch: SQS redelivers it, and
        // invalidating a path twice is harmless.
        let created = cloudfront
            .create_invalidation()
            .distribution_id(distribution)
            .invalidation_batch(batch)
            .send()
            .await?;
        let id = created.invalidation().map(|i| i.id().to_string());
        tracing::info!(paths = paths.len(), id, "invalidated");
        Ok(json!({ "invalidated": paths, "id": id }))
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsMessage;

    #[test]
    fn keys_come_from_eventbridge_events_and_s3_notifications() {
        let eventbridge =
            r#"{"detail-type":"Object Created","detail":{"object":{"key":"main/index/3/f/foo"}}}"#;
        assert_eq!(keys_in_message(eventbridge), ["main/index/3/f/foo"]);
        let notification =
            r#"{"Records":[{"s3":{"object":{"key":"a/b%2Bc"}}},{"s3":{"object":{"key":"d"}}}]}"#;
        assert_eq!(keys_in_message(notification), ["a/b+c", "d"]);
        assert!(keys_in_message(r#"{"Event":"s3:TestEvent"}"#).is_empty());
        assert!(keys_in_message("not json").is_empty());
    }

    /// The queue message EventBridge's rule sends for an object created.
    fn message(key: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.body = Some(format!(
            r#"{{"detail-type":"Object Created","detail":{{"object":{{"key":"{key}"}}}}}}"#
        ));
        message
    }

    #[test]
    fn a_changed_config_json_invalidates_the_whole_repository() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("vault/index/config.json"),
            message("vault/index/3/f/foo"),
            message("main/index/3/b/bar"),
        ];
        let paths: Vec<String> = changed_paths(&event).into_iter().collect();
        assert_eq!(
            paths,
            ["/main/index/3/b/bar", "/vault/*", "/vault/index/3/f/foo"]
        );
    }

    #[test]
    fn a_git_commit_invalidates_info_refs_only() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("main/git/info/refs"),
            message("main/git/objects/e6/9de29bb2d1d6434b8b29ae775ad8c2e48c5391"),
            message("main/git/HEAD"),
        ];
        let paths: Vec<String> = changed_paths(&event).into_iter().collect();
        assert_eq!(paths, ["/main/git/info/refs"]);
    }

    #[test]
    fn the_web_uis_files_are_invalidated_when_setup_writes_them() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("ui/assets/app.js"),
            message("ui/assets/app.css"),
            message("ui/index.html"),
        ];
        let paths: Vec<String> = changed_paths(&event).into_iter().collect();
        assert_eq!(
            paths,
            ["/ui/assets/app.css", "/ui/assets/app.js", "/ui/index.html"]
        );
    }

    #[test]
    fn a_large_batch_invalidates_whole_repositories() {
        let mut event = SqsEvent::default();
        event.records = (0..MAX_PATHS)
            .map(|n| message(&format!("main/index/cr/at/crate{n}")))
            .chain([
                message("vault/index/config.json"),
                message("ui/repositories.json"),
                message("main/crates/foo/foo-1.0.0.crate"),
                message("main/index/../../etc/passwd"),
            ])
            .collect();
        let paths: Vec<String> = changed_paths(&event).into_iter().collect();
        assert_eq!(
            paths,
            [
                "/main/git/info/refs",
                "/main/index/*",
                "/main/ui/*",
                "/ui/repositories.json",
                "/vault/*"
            ]
        );
    }

    #[test]
    fn deleted_crate_files_and_readmes_are_invalidated() {
        let deleted = |key: &str| {
            let mut message = SqsMessage::default();
            message.body = Some(format!(
                r#"{{"detail-type":"Object Deleted","detail":{{"object":{{"key":"{key}"}}}}}}"#
            ));
            message
        };
        let mut event = SqsEvent::default();
        event.records = vec![
            deleted("main/crates/foo/foo-1.0.0.crate"),
            deleted("main/ui/readmes/foo/1.0.0.html"),
            deleted("main/ui/versions/foo/1.0.0.json"),
            // Written, not deleted: `.crate` files and version pages never
            // change in place.
            message("main/crates/foo/foo-1.1.0.crate"),
            message("main/ui/versions/foo/1.1.0.json"),
        ];
        let paths: Vec<String> = changed_paths(&event).into_iter().collect();
        assert_eq!(
            paths,
            [
                "/main/crates/foo/foo-1.0.0.crate",
                "/main/ui/readmes/foo/1.0.0.html",
                "/main/ui/versions/foo/1.0.0.json"
            ]
        );
    }

    #[test]
    fn paths_keep_slashes_and_encode_plus() {
        let key = "main/index/3/f/foo+x";
        assert_eq!(
            format!("/{}", utf8_percent_encode(key, PATH_ENCODE)),
            "/main/index/3/f/foo%2Bx"
        );
    }
}
