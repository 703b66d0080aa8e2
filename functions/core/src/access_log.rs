//! Downloads in CloudFront's standard access logs (the legacy format,
//! delivered to S3 as gzip files): tab-separated, with `#Version` and
//! `#Fields` lines, the fields found by the names `#Fields` gives
//! (`date`, `cs-method`, `cs-uri-stem`, `sc-status`), as AWS documents
//! them ("Standard logging reference", CloudFront Developer Guide).

use crate::ObjectKey;
use crate::downloads::{DownloadCount, merge_counts};
use crate::registry::PRIVATE_READS;
use percent_encoding::percent_decode_str;

/// The downloads a log file records: `GET`s of a `.crate` answered `200`
/// at its public path, or `307` at a private repository's
/// (`/R/api/private/crates/…`: the API redirects to a presigned S3 URL,
/// which CloudFront never sees, as crates.io counts its redirects), summed
/// by version and day. Lines that are not such requests, or not in the
/// format, are skipped.
pub fn access_log_counts(log: &str) -> Vec<DownloadCount> {
    let mut fields: Option<Fields> = None;
    let mut counts = Vec::new();
    for line in log.lines() {
        if let Some(names) = line.strip_prefix("#Fields:") {
            fields = Fields::named(names);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some(fields) = &fields else { continue };
        let values: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| values.get(i).copied().unwrap_or_default();
        if get(fields.method) != "GET" {
            continue;
        }
        if let Some((key, private)) = crate_file(get(fields.stem))
            && get(fields.status) == if private { "307" } else { "200" }
            && let Some(count) = DownloadCount::of(&key, get(fields.date))
        {
            counts.push(count);
        }
    }
    merge_counts(counts)
}

/// Where the fields this reads sit in a line.
struct Fields {
    date: usize,
    method: usize,
    stem: usize,
    status: usize,
}

impl Fields {
    fn named(names: &str) -> Option<Self> {
        let names: Vec<&str> = names.split_whitespace().collect();
        let at = |name: &str| names.iter().position(|n| *n == name);
        Some(Self {
            date: at("date")?,
            method: at("cs-method")?,
            stem: at("cs-uri-stem")?,
            status: at("sc-status")?,
        })
    }
}

/// The `.crate` a request path names, and whether through a private
/// repository's path: `/R/crates/N/F`, or `/R/api/private/crates/N/F`. The
/// stem is URL-encoded in the log (a version's `+` as `%2B`).
fn crate_file(stem: &str) -> Option<(ObjectKey, bool)> {
    let path = percent_decode_str(stem.strip_prefix('/')?)
        .decode_utf8()
        .ok()?;
    let (path, private) = match path.split_once(&format!("/{PRIVATE_READS}/")) {
        Some((repo, rest)) => (format!("{repo}/{rest}"), true),
        None => (path.into_owned(), false),
    };
    let key = ObjectKey::parse(&path)?;
    matches!(key, ObjectKey::CrateFile { .. }).then_some((key, private))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as AWS's documentation shows them, with our paths.
    const LOG: &str = "#Version: 1.0\n\
#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n\
2026-12-01\t23:59:58\tSEA19-C1\t1045\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/main/crates/foo/foo-1.0.0.crate\t200\t-\tcargo/1.91.0\t-\t-\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\treg.example.com\thttps\t78\t0.001\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/1.1\t-\t-\t11040\t0.001\tHit\tapplication/x-tar\t1045\t-\t-\n\
2026-12-02\t00:00:01\tSEA19-C1\t1045\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/main/crates/foo/foo-1.0.0.crate\t200\t-\tcargo/1.91.0\t-\t-\tMiss\tk6WGMNkEzR5BEM_SaF47gjtX9zBDO2m349OY2an0QPEaUum1ZOLrow==\treg.example.com\thttps\t78\t0.1\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tMiss\tHTTP/1.1\t-\t-\t11040\t0.1\tMiss\tapplication/x-tar\t1045\t-\t-\n\
2026-12-02\t00:00:02\tSEA19-C1\t1045\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t/vault/api/private/crates/Foo_Bar/Foo_Bar-2.0.0%2Bbuild.crate\t307\t-\tcargo/1.91.0\t-\t-\tMiss\tx\treg.example.com\thttps\t78\t0.1\t-\tTLSv1.3\tx\tMiss\tHTTP/1.1\t-\t-\t1\t0.1\tMiss\tapplication/x-tar\t1045\t-\t-\n\
2026-12-02\t00:00:03\tSEA19-C1\t0\t192.0.2.100\tHEAD\td1.cloudfront.net\t/main/crates/foo/foo-1.0.0.crate\t200\t-\tcurl\t-\t-\tHit\tx\treg.example.com\thttps\t78\t0.1\t-\t-\t-\tHit\tHTTP/1.1\t-\t-\t1\t0.1\tHit\t-\t0\t-\t-\n\
2026-12-02\t00:00:04\tSEA19-C1\t0\t192.0.2.100\tGET\td1.cloudfront.net\t/main/crates/foo/foo-9.0.0.crate\t404\t-\tcargo\t-\t-\tError\tx\treg.example.com\thttps\t78\t0.1\t-\t-\t-\tError\tHTTP/1.1\t-\t-\t1\t0.1\tError\t-\t0\t-\t-\n\
2026-12-02\t00:00:05\tSEA19-C1\t0\t192.0.2.100\tGET\td1.cloudfront.net\t/main/index/3/f/foo\t200\t-\tcargo\t-\t-\tHit\tx\treg.example.com\thttps\t78\t0.1\t-\t-\t-\tHit\tHTTP/1.1\t-\t-\t1\t0.1\tHit\t-\t0\t-\t-\n\
2026-12-02\t00:00:06\tSEA19-C1\t0\t192.0.2.100\tGET\td1.cloudfront.net\t/main/crates/foo/../../etc/passwd\t200\n\
not a log line\n";

    #[test]
    fn counts_crate_downloads_by_version_and_day() {
        let counts = access_log_counts(LOG);
        let got: Vec<(&str, &str, &str, &str, u64)> = counts
            .iter()
            .map(|c| {
                (
                    &c.repo[..],
                    &c.canonical[..],
                    &c.version[..],
                    &c.day[..],
                    c.count,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("main", "foo", "1.0.0", "2026-12-01", 1),
                ("main", "foo", "1.0.0", "2026-12-02", 1),
                ("vault", "foo_bar", "2.0.0+build", "2026-12-02", 1),
            ]
        );
    }

    #[test]
    fn a_log_without_fields_counts_nothing() {
        assert!(access_log_counts("2026-12-02\tx\tGET\n").is_empty());
    }
}
