//! The audit log in DynamoDB: one partition per day (`AUDIT#{YYYY-MM-DD}`,
//! sorted by the entry's time-ordered id), so a page is a few Queries
//! newest first, and no partition takes every write for long. Entries carry
//! `repo` and `crate` for the Queries' filters, and `expires_at` for the
//! table's TTL.

use crate::dynamo_store::{DynamoStore, Item, TTL_ATTRIBUTE, backend, item, parse};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use crateyard_core::{AuditEntry, AuditPage, AuditQuery, StoreError};

/// The prefix of the audit log's partitions.
const AUDIT_PREFIX: &str = "AUDIT#";

/// Day partitions a page reads at most before it returns what it found,
/// with a cursor at the day it stopped at: a query over a long, quiet
/// period costs bounded work per call.
const DAYS_PER_PAGE: usize = 31;

fn audit_item(entry: &AuditEntry) -> Item {
    let mut it = item(
        format!("{AUDIT_PREFIX}{}", AuditEntry::day_of(&entry.id)),
        &entry.id,
        entry,
    );
    if let Some(repo) = &entry.repo {
        it.insert("repo".into(), AttributeValue::S(repo.clone()));
    }
    if let Some(krate) = &entry.krate {
        it.insert("crate".into(), AttributeValue::S(krate.clone()));
    }
    it.insert(
        TTL_ATTRIBUTE.into(),
        AttributeValue::N(entry.expires_at.to_string()),
    );
    it
}

impl DynamoStore {
    /// The entry as one more item of a crate's commit transaction.
    pub(crate) fn audit_put(&self, entry: &AuditEntry) -> TransactWriteItem {
        self.put(audit_item(entry), "attribute_not_exists(pk)", None)
    }

    pub(crate) async fn put_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.put_new(audit_item(entry), &entry.id).await
    }

    pub(crate) async fn query_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let since = query.since_id();
        let mut day = match &query.before {
            Some(before) => day_start(AuditEntry::day_of(before)),
            None => day_start(&today()),
        };
        let mut entries = Vec::new();
        for _ in 0..DAYS_PER_PAGE {
            let Some(start) = day else { break };
            if since
                .as_deref()
                .is_some_and(|s| AuditEntry::day_of(s) > start.as_str())
            {
                return Ok(AuditPage {
                    entries,
                    next: None,
                });
            }
            let wanted = query.limit + 1 - entries.len();
            entries.extend(
                self.query_day(&start, query, since.as_deref(), wanted)
                    .await?,
            );
            if entries.len() > query.limit {
                entries.truncate(query.limit);
                let next = entries.last().map(|e| e.id.clone());
                return Ok(AuditPage { entries, next });
            }
            day = previous_day(&start);
        }
        // Stopped after DAYS_PER_PAGE days: go on from the day before.
        let next = day
            .filter(|d| {
                since
                    .as_deref()
                    .is_none_or(|s| AuditEntry::day_of(s) <= d.as_str())
            })
            .map(|d| format!("{d}T23:59:59.999Z~"));
        Ok(AuditPage { entries, next })
    }

    /// Up to `wanted` matching entries of one day, newest first.
    async fn query_day(
        &self,
        day: &str,
        query: &AuditQuery,
        since: Option<&str>,
        wanted: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", AttributeValue::S(format!("{AUDIT_PREFIX}{day}")))
            .scan_index_forward(false)
            .consistent_read(true);
        // A key condition names `sk` once, and a filter may not name it at
        // all: both bounds make one BETWEEN (inclusive; `before` itself is
        // dropped below).
        let condition = match (&query.before, since) {
            (Some(_), Some(_)) => "pk = :pk AND sk BETWEEN :since AND :before",
            (Some(_), None) => "pk = :pk AND sk < :before",
            (None, Some(_)) => "pk = :pk AND sk >= :since",
            (None, None) => "pk = :pk",
        };
        if let Some(before) = &query.before {
            request =
                request.expression_attribute_values(":before", AttributeValue::S(before.clone()));
        }
        if let Some(since) = since {
            request =
                request.expression_attribute_values(":since", AttributeValue::S(since.into()));
        }
        let mut filters = Vec::new();
        if let Some(repo) = &query.repo {
            filters.push("repo = :repo");
            request = request.expression_attribute_values(":repo", AttributeValue::S(repo.clone()));
        }
        if let Some(krate) = &query.krate {
            filters.push("#crate = :crate");
            request = request
                .expression_attribute_names("#crate", "crate")
                .expression_attribute_values(":crate", AttributeValue::S(krate.clone()));
        }
        for filter in filters {
            request = request.filter_expression_part(filter);
        }
        let mut out = Vec::new();
        let mut pages = request
            .key_condition_expression(condition)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(backend)?.items.unwrap_or_default() {
                let entry = parse::<AuditEntry>(&item)?;
                if query.before.as_ref() == Some(&entry.id) {
                    continue;
                }
                out.push(entry);
                if out.len() >= wanted {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

/// `ANDs` one more condition into a Query's filter expression.
trait FilterPart {
    fn filter_expression_part(self, part: &str) -> Self;
}

impl FilterPart for aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    fn filter_expression_part(self, part: &str) -> Self {
        let filter = match self.get_filter_expression() {
            Some(existing) => format!("{existing} AND {part}"),
            None => part.to_string(),
        };
        self.filter_expression(filter)
    }
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc().date();
    now.to_string()
}

/// `day` if it is a date (`YYYY-MM-DD`).
fn day_start(day: &str) -> Option<String> {
    parse_day(day).map(|d| d.to_string())
}

fn previous_day(day: &str) -> Option<String> {
    parse_day(day)?.previous_day().map(|d| d.to_string())
}

fn parse_day(day: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day, &format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_step_back_across_months_and_years() {
        assert_eq!(previous_day("2026-03-01").as_deref(), Some("2026-02-28"));
        assert_eq!(previous_day("2026-01-01").as_deref(), Some("2025-12-31"));
        assert_eq!(day_start("not a day"), None);
    }
}
