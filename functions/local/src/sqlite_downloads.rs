//! Download counts in SQLite: one row per version and day, added to by
//! upsert; a batch's id is recorded in the same transaction, so a batch
//! delivered twice counts once.

use crate::sqlite_store::db;
use crateyard_core::{DownloadCount, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};

pub(crate) const DOWNLOADS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS downloads (
    repo TEXT NOT NULL, canonical TEXT NOT NULL, version TEXT NOT NULL, day TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (repo, canonical, version, day));
CREATE TABLE IF NOT EXISTS download_batches (id TEXT PRIMARY KEY);
";

pub(crate) fn add(
    conn: &mut Connection,
    batch: Option<&str>,
    counts: &[DownloadCount],
) -> Result<bool, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    if let Some(batch) = batch {
        let new = tx
            .execute(
                "INSERT OR IGNORE INTO download_batches (id) VALUES (?1)",
                [batch],
            )
            .map_err(db)?;
        if new == 0 {
            return Ok(false);
        }
    }
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO downloads (repo, canonical, version, day, n) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (repo, canonical, version, day) DO UPDATE SET n = n + excluded.n",
            )
            .map_err(db)?;
        for c in counts {
            upsert
                .execute(params![
                    c.repo,
                    c.canonical,
                    c.version,
                    c.day,
                    c.count as i64
                ])
                .map_err(db)?;
        }
    }
    tx.commit().map_err(db)?;
    Ok(true)
}

pub(crate) fn of_crate(
    conn: &Connection,
    repo: &str,
    canonical: &str,
) -> Result<Vec<DownloadCount>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT version, day, n FROM downloads WHERE repo = ?1 AND canonical = ?2")
        .map_err(db)?;
    let rows = stmt
        .query_map(params![repo, canonical], |r| {
            Ok(DownloadCount {
                repo: repo.into(),
                canonical: canonical.into(),
                version: r.get(0)?,
                day: r.get(1)?,
                count: r.get::<_, i64>(2)? as u64,
            })
        })
        .map_err(db)?;
    rows.map(|r| r.map_err(db)).collect()
}
