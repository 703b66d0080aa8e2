//! The audit log in SQLite: one row per entry, keyed by its time-ordered
//! id, with the columns a query filters on. Expired rows are removed as new
//! ones are written (DynamoDB's TTL does that on AWS).

use crate::sqlite_store::{db, from_json, to_json};
use crateyard_core::{AuditEntry, AuditPage, AuditQuery, StoreError};
use rusqlite::{Connection, params};

pub(crate) const AUDIT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY, repo TEXT, krate TEXT, expires_at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_expiry ON audit (expires_at);
";

pub(crate) fn append(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit (id, repo, krate, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            entry.id,
            entry.repo,
            entry.krate,
            entry.expires_at,
            to_json(entry)
        ],
    )
    .map_err(db)?;
    conn.execute("DELETE FROM audit WHERE expires_at < unixepoch()", [])
        .map_err(db)?;
    Ok(())
}

pub(crate) fn list(conn: &Connection, query: &AuditQuery) -> Result<AuditPage, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT body FROM audit WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR id >= ?2) \
             AND (?3 IS NULL OR repo = ?3) AND (?4 IS NULL OR krate = ?4) \
             ORDER BY id DESC LIMIT ?5",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                query.before,
                query.since_id(),
                query.repo,
                query.krate,
                // One more than asked: whether there is a next page.
                query.limit as i64 + 1
            ],
            |r| r.get::<_, String>(0),
        )
        .map_err(db)?;
    let mut entries = rows
        .map(|row| from_json::<AuditEntry>(row.map_err(db)?))
        .collect::<Result<Vec<_>, _>>()?;
    let next = match entries.len() > query.limit {
        true => {
            entries.truncate(query.limit);
            entries.last().map(|e| e.id.clone())
        }
        false => None,
    };
    Ok(AuditPage { entries, next })
}
