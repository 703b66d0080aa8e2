//! Snapshots of everything a server stores, to prove that a request changed
//! nothing (or only what it should): every object (key, bytes, stored
//! attributes and tags) and every metadata row or item, read from the
//! stores themselves, not through the registry.

use crate::Server;
use crate::edge::xml_elements;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Everything the registry stores, by a name saying what it is:
/// `object/KEY` (its bytes), `object-attrs/KEY`, `row/TABLE/…`, `item/PK/SK`.
pub type Snapshot = BTreeMap<String, Vec<u8>>;

/// Everything `server` stores now, on its backend.
pub fn snapshot(server: &Server) -> Snapshot {
    if server.is_aws() {
        aws_snapshot(server)
    } else {
        local_snapshot(server)
    }
}

/// A local object's user metadata: the extended attribute the file store
/// keeps it in.
pub fn object_metadata(path: &std::path::Path) -> Option<Vec<u8>> {
    xattr::get(path, crateyard_local::METADATA_XATTR).unwrap()
}

/// A token's `last_used_at` is bookkeeping: a refused request that
/// authenticates a token records its use when the last record is a minute
/// old, as any request does (the catalogue takes longer than a minute). It
/// is the one field of the stores left out; every other byte counts.
fn without_bookkeeping(record: &str) -> String {
    match serde_json::from_str::<Value>(record) {
        Ok(Value::Object(mut fields)) if fields.contains_key("hash") => {
            fields.remove("last_used_at");
            Value::Object(fields).to_string()
        }
        _ => record.to_string(),
    }
}

/// Local mode: the data directory's objects and their metadata (an
/// extended attribute of each file), and every row of every SQLite table.
fn local_snapshot(server: &Server) -> Snapshot {
    let mut snapshot = Snapshot::new();
    let mut pending = vec![server.data().join("objects")];
    while let Some(dir) = pending.pop() {
        let relative = dir
            .strip_prefix(server.data())
            .unwrap()
            .display()
            .to_string();
        snapshot.insert(format!("dir/{relative}"), Vec::new());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let key = path
                .strip_prefix(server.data())
                .unwrap()
                .display()
                .to_string();
            snapshot.insert(format!("object/{key}"), std::fs::read(&path).unwrap());
            if let Some(metadata) = object_metadata(&path) {
                snapshot.insert(format!("object-attrs/{key}"), metadata);
            }
        }
    }
    let db = rusqlite::Connection::open(server.data().join("crateyard.sqlite3")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in tables {
        let mut statement = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = statement.column_names().map(|c| c.to_string()).collect();
        let rows = statement
            .query_map([], |row| {
                let mut fields = serde_json::Map::new();
                for (i, column) in columns.iter().enumerate() {
                    use rusqlite::types::ValueRef;
                    let value = match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => json!(n),
                        ValueRef::Real(x) => json!(x),
                        ValueRef::Text(t) => {
                            json!(without_bookkeeping(&String::from_utf8_lossy(t)))
                        }
                        ValueRef::Blob(b) => json!(hex::encode(b)),
                    };
                    fields.insert(column.clone(), value);
                }
                Ok(Value::Object(fields).to_string())
            })
            .unwrap();
        for row in rows {
            snapshot.insert(format!("row/{table}/{}", row.unwrap()), Vec::new());
        }
    }
    snapshot
}

/// The AWS backend: every object of the bucket (bytes, the headers S3
/// stores with it, its tags, its last modification) and every item of the
/// table, read from moto directly.
fn aws_snapshot(server: &Server) -> Snapshot {
    let (endpoint, bucket) = server
        .public_url
        .rsplit_once('/')
        .expect("the AWS backend's public URL is ENDPOINT/BUCKET");
    let table = bucket; // `Server::start_aws` names both alike.
    let http = reqwest::blocking::Client::new();
    let mut snapshot = Snapshot::new();

    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{endpoint}/{bucket}?list-type=2");
        if let Some(token) = &token {
            url.push_str(&format!("&continuation-token={}", encode(token)));
        }
        let listing = http.get(&url).send().unwrap();
        assert_eq!(listing.status(), 200, "ListObjectsV2 on {url}");
        let listing = listing.text().unwrap();
        for contents in xml_elements(&listing, "Contents") {
            let key = xml_text(contents, "Key").expect("a listed object has a key");
            let url = format!("{endpoint}/{bucket}/{}", encode_key(&key));
            let mut object = http.get(&url).send().unwrap();
            if object.status() == 403 {
                // No public policy names it (the git index writer's tree
                // copies): read it as the registry does, signed (moto
                // checks that a request is signed, not its signature).
                object = http
                    .get(&url)
                    .header(
                        "authorization",
                        "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/s3/aws4_request, \
                         SignedHeaders=host, Signature=0",
                    )
                    .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
                    .header("x-amz-date", "20261201T000000Z")
                    .send()
                    .unwrap();
            }
            assert_eq!(object.status(), 200, "GET {url}");
            let mut attrs: Vec<String> = object
                .headers()
                .iter()
                .filter(|(name, _)| {
                    let name = name.as_str();
                    name.starts_with("x-amz-meta-")
                        || ["content-type", "cache-control", "x-amz-tagging-count"].contains(&name)
                })
                .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
                .collect();
            attrs.sort();
            let tags = http.get(format!("{url}?tagging")).send().unwrap();
            attrs.push(format!(
                "tags: {}",
                xml_elements(&tags.text().unwrap(), "TagSet").concat()
            ));
            snapshot.insert(format!("object/{key}"), object.bytes().unwrap().to_vec());
            snapshot.insert(format!("object-attrs/{key}"), attrs.join("\n").into_bytes());
        }
        token = xml_text(&listing, "NextContinuationToken");
        if token.is_none() {
            break;
        }
    }

    let mut start: Option<Value> = None;
    loop {
        let mut request = json!({ "TableName": table });
        if let Some(start) = start.take() {
            request["ExclusiveStartKey"] = start;
        }
        // moto checks that a request is signed, not its signature.
        let scan = http
            .post(format!("{endpoint}/"))
            .header("x-amz-target", "DynamoDB_20120810.Scan")
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .body(request.to_string())
            .send()
            .unwrap();
        assert_eq!(scan.status(), 200, "Scan of {table}");
        let scan: Value = scan.json().unwrap();
        for item in scan["Items"].as_array().expect("Items") {
            let mut item = item.clone();
            if let Some(body) = item["body"]["S"].as_str() {
                item["body"]["S"] = json!(without_bookkeeping(body));
            }
            let pk = item["pk"]["S"].as_str().unwrap_or("?").to_string();
            let sk = item["sk"]["S"].as_str().unwrap_or("?").to_string();
            snapshot.insert(format!("item/{pk}/{sk}"), item.to_string().into_bytes());
        }
        match scan.get("LastEvaluatedKey") {
            Some(key) if !key.is_null() => start = Some(key.clone()),
            _ => break,
        }
    }
    snapshot
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// An object key in a URL path: every byte but letters, digits, `/`, `-`,
/// `_`, `.` and `~` escaped (a `+` would be read as a space).
fn encode_key(key: &str) -> String {
    const KEY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(key, KEY).to_string()
}

/// The unescaped text of the first `<tag>` element, if any.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_elements(xml, tag).first().map(|text| {
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    })
}

/// Whether a record is the audit log's entry of a refused request: the
/// one thing a refusal adds (README, "Audit log"), and no change of state.
fn is_refusal_record(name: &str, record: &[u8]) -> bool {
    let audit = name.starts_with("row/audit/") || name.starts_with("item/AUDIT#");
    let text = String::from_utf8_lossy(record);
    audit
        && (name.contains(r#"\"action\":\"denied\""#) || text.contains(r#"\"action\":\"denied\""#))
}

/// Whether a record is a download count: the server writes those every
/// few seconds for downloads it served earlier, so one may land while any
/// later request is being checked (`tests/tests/download_counts.rs`
/// checks the counting).
fn is_download_count(name: &str) -> bool {
    name.starts_with("row/downloads/") || name.starts_with("item/DOWNLOADS#")
}

/// What changed between two snapshots, one line each. An audit entry of a
/// refused request is left out (`tests/tests/audit_log.rs` checks those),
/// and so are download counts (see [`is_download_count`]).
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let show = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let mut short: String = text.chars().take(300).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        format!("{short:?} ({} bytes)", bytes.len())
    };
    let mut lines = Vec::new();
    for (name, was) in before.iter().filter(|(name, _)| !is_download_count(name)) {
        match after.get(name) {
            None => lines.push(format!("removed {name}: was {}", show(was))),
            Some(now) if now != was => {
                lines.push(format!("changed {name}: {} -> {}", show(was), show(now)))
            }
            Some(_) => {}
        }
    }
    for (name, now) in after {
        if !before.contains_key(name) && !is_refusal_record(name, now) && !is_download_count(name) {
            lines.push(format!("added {name}: {}", show(now)));
        }
    }
    lines
}
