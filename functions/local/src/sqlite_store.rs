use crate::{sqlite_audit, sqlite_downloads};
use async_trait::async_trait;
use crateyard_core::{
    AuditEntry, AuditPage, AuditQuery, CrateRecord, CrateVersions, CrateWrite, DownloadCount,
    MetadataStore, ReindexBatch, ReindexJob, Repository, StoreError, TokenRecord, User,
    VersionRecord, VersionWrite,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Each record is one row holding its JSON, keyed as the DynamoDB adapter
/// keys its items, so both stores keep the same shape of truth.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS repositories (name TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS crates (
    repo TEXT NOT NULL, canonical TEXT NOT NULL, revision INTEGER NOT NULL,
    description TEXT, body TEXT NOT NULL, PRIMARY KEY (repo, canonical));
CREATE TABLE IF NOT EXISTS versions (
    repo TEXT NOT NULL, canonical TEXT NOT NULL, version_key TEXT NOT NULL, seq INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (repo, canonical, version_key));
CREATE TABLE IF NOT EXISTS users (login TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, user TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reindex_jobs (
    repo TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (repo, id));
CREATE TABLE IF NOT EXISTS reindex_batches (
    repo TEXT NOT NULL, id TEXT NOT NULL, number INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (repo, id, number));
";

/// Search's index: each crate's canonical name, and its description and
/// keywords, in an FTS5 table with the trigram tokenizer, so that a
/// substring search (what `search` promises) reads the matching rows instead
/// of every crate. Its rows are numbered by `crate_search_ids`' INTEGER
/// PRIMARY KEY, not by `crates`' implicit rowid, which SQLite documents that
/// VACUUM may renumber.
/// Triggers keep both beside `crates` in every writer's transaction;
/// created, and filled from `crates`, once per database. `TEXT(row)`
/// stands for [`SEARCHED_TEXT`] of that row.
const SEARCH_SCHEMA: &str = "
DROP TRIGGER IF EXISTS crate_search_insert;
DROP TRIGGER IF EXISTS crate_search_update;
DROP TRIGGER IF EXISTS crate_search_delete;
DROP TABLE IF EXISTS crate_search;
CREATE TABLE crate_search_ids (
    id INTEGER PRIMARY KEY, repo TEXT NOT NULL, canonical TEXT NOT NULL, UNIQUE (repo, canonical));
CREATE VIRTUAL TABLE crate_search USING fts5(name, text, tokenize = 'trigram');
CREATE TRIGGER crate_search_insert AFTER INSERT ON crates BEGIN
    INSERT INTO crate_search_ids (repo, canonical) VALUES (new.repo, new.canonical);
    INSERT INTO crate_search (rowid, name, text) VALUES (
        (SELECT id FROM crate_search_ids WHERE repo = new.repo AND canonical = new.canonical),
        new.canonical, TEXT(new));
END;
CREATE TRIGGER crate_search_update AFTER UPDATE ON crates BEGIN
    UPDATE crate_search SET name = new.canonical, text = TEXT(new) WHERE rowid =
        (SELECT id FROM crate_search_ids WHERE repo = new.repo AND canonical = new.canonical);
END;
CREATE TRIGGER crate_search_delete AFTER DELETE ON crates BEGIN
    DELETE FROM crate_search WHERE rowid =
        (SELECT id FROM crate_search_ids WHERE repo = old.repo AND canonical = old.canonical);
    DELETE FROM crate_search_ids WHERE repo = old.repo AND canonical = old.canonical;
END;
INSERT INTO crate_search_ids (repo, canonical) SELECT repo, canonical FROM crates;
INSERT INTO crate_search (rowid, name, text) SELECT crate_search_ids.id, crates.canonical, TEXT(crates)
    FROM crates JOIN crate_search_ids USING (repo, canonical);
";

/// What a search matches besides the name: the description and the
/// keywords, as words (not their JSON).
const SEARCHED_TEXT: &str = "coalesce(ROW.description, '') || ' ' || \
    coalesce((SELECT group_concat(value, ' ') FROM json_each(ROW.body, '$.keywords')), '')";

fn searched_text(row: &str) -> String {
    SEARCHED_TEXT.replace("ROW", row)
}

/// The trigram index answers substrings of at least this many characters.
const TRIGRAM: usize = 3;
/// A search's rows: ?1 the repository, ?2 an FTS5 query on the index…
const SEARCH_INDEXED: &str = "FROM crate_search \
    JOIN crate_search_ids ON crate_search_ids.id = crate_search.rowid \
    JOIN crates USING (repo, canonical) WHERE crates.repo = ?1 AND crate_search MATCH ?2";
/// …or, for a query too short for it, ?2 a part of the canonical name and ?3
/// of the (lowercased) searched text, by scanning.
fn search_scanned() -> String {
    format!(
        "FROM crates WHERE crates.repo = ?1 AND (instr(canonical, ?2) > 0 OR instr(lower({}), ?3) > 0)",
        searched_text("crates")
    )
}

/// Metadata in one SQLite file (WAL mode). Conditional commits run in
/// `BEGIN IMMEDIATE` transactions, atomic across processes.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.execute_batch(sqlite_audit::AUDIT_SCHEMA).map_err(db)?;
        conn.execute_batch(sqlite_downloads::DOWNLOADS_SCHEMA)
            .map_err(db)?;
        create_search_index(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

/// [`SEARCH_SCHEMA`], unless the database has it: in one immediate
/// transaction, so two processes opening a database at once create and
/// fill it once.
fn create_search_index(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let exists: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'crate_search_ids'",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if !exists {
        let schema = SEARCH_SCHEMA
            .replace("TEXT(new)", &searched_text("new"))
            .replace("TEXT(crates)", &searched_text("crates"));
        tx.execute_batch(&schema).map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// `text` as one FTS5 phrase (a substring, for the trigram tokenizer).
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

pub(crate) fn from_json<T: DeserializeOwned>(json: String) -> Result<T, StoreError> {
    serde_json::from_str(&json).map_err(|e| StoreError::Backend(format!("corrupt record: {e}")))
}

fn query_one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Option<T>, StoreError> {
    let json: Option<String> = conn
        .query_row(sql, args, |r| r.get(0))
        .optional()
        .map_err(db)?;
    json.map(from_json).transpose()
}

fn query_all<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map(args, |r| r.get::<_, String>(0))
        .map_err(db)?;
    rows.map(|row| from_json(row.map_err(db)?)).collect()
}

/// Runs an UPDATE or DELETE that must touch exactly one row.
fn change_one(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    what: &str,
) -> Result<(), StoreError> {
    match conn.execute(sql, args).map_err(db)? {
        0 => Err(StoreError::NotFound(what.into())),
        _ => Ok(()),
    }
}

/// Inserts a row unless its primary key is taken.
fn insert_new(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    what: &str,
) -> Result<(), StoreError> {
    match conn.execute(sql, args) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            Err(StoreError::AlreadyExists(what.into()))
        }
        Err(e) => Err(db(e)),
    }
}

fn commit(conn: &mut Connection, repo: &str, write: &CrateWrite) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let krate = &write.krate;
    let current: Option<i64> = tx
        .query_row(
            "SELECT revision FROM crates WHERE repo = ?1 AND canonical = ?2",
            params![repo, krate.canonical],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if current.map(|r| r as u64) != write.expected_revision {
        return Err(StoreError::Conflict(krate.canonical.clone()));
    }
    if let Some(expected) = write.repository_revision {
        // Records written before revisions existed have none: 0.
        let revision: Option<i64> = tx
            .query_row(
                "SELECT COALESCE(json_extract(body, '$.revision'), 0) FROM repositories WHERE name = ?1",
                params![repo],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        if revision.map(|r| r as u64) != Some(expected) {
            return Err(StoreError::Conflict(format!("repository `{repo}`")));
        }
    }
    match &write.version {
        Some(VersionWrite::Insert(v)) => insert_new(
            &tx,
            "INSERT INTO versions (repo, canonical, version_key, seq, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                repo,
                krate.canonical,
                v.version_key,
                v.seq as i64,
                to_json(v)
            ],
            &format!("{} {}", krate.name, v.line.vers),
        )?,
        Some(VersionWrite::Replace(v)) => {
            let changed = tx
                .execute(
                    "UPDATE versions SET body = ?4 WHERE repo = ?1 AND canonical = ?2 AND version_key = ?3",
                    params![repo, krate.canonical, v.version_key, to_json(v)],
                )
                .map_err(db)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "{} {}",
                    krate.name, v.line.vers
                )));
            }
        }
        Some(VersionWrite::Delete(v)) => change_one(
            &tx,
            "DELETE FROM versions WHERE repo = ?1 AND canonical = ?2 AND version_key = ?3",
            params![repo, krate.canonical, v.version_key],
            &format!("{} {}", krate.name, v.line.vers),
        )?,
        None => {}
    }
    tx.execute(
        "INSERT INTO crates (repo, canonical, revision, description, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (repo, canonical) DO UPDATE SET revision = ?3, description = ?4, body = ?5",
        params![repo, krate.canonical, krate.revision as i64, krate.description, to_json(krate)],
    )
    .map_err(db)?;
    if let Some(entry) = &write.audit {
        sqlite_audit::append(&tx, entry)?;
    }
    tx.commit().map_err(db)
}

/// Every crate of `repo` with its versions, from one read transaction (one
/// snapshot), in two queries.
fn crates_with_versions(
    conn: &mut Connection,
    repo: &str,
) -> Result<Vec<CrateVersions>, StoreError> {
    let tx = conn.transaction().map_err(db)?;
    let crates: Vec<CrateRecord> = query_all(
        &tx,
        "SELECT body FROM crates WHERE repo = ?1 ORDER BY canonical",
        [repo],
    )?;
    let mut out: Vec<CrateVersions> = crates
        .into_iter()
        .map(|krate| CrateVersions {
            krate,
            versions: Vec::new(),
        })
        .collect();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT canonical, body FROM versions WHERE repo = ?1 ORDER BY canonical, seq",
            )
            .map_err(db)?;
        let mut rows = stmt.query([repo]).map_err(db)?;
        // Both queries are ordered by canonical name: merge them.
        let mut at = 0;
        while let Some(row) = rows.next().map_err(db)? {
            let canonical = row
                .get_ref(0)
                .map_err(db)?
                .as_str()
                .map_err(|e| db(e.into()))?;
            while at < out.len() && out[at].krate.canonical.as_str() < canonical {
                at += 1;
            }
            if at < out.len() && out[at].krate.canonical == canonical {
                let body: String = row.get(1).map_err(db)?;
                out[at].versions.push(from_json(body)?);
            }
        }
    }
    tx.commit().map_err(db)?;
    Ok(out)
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn create_repository(&self, repo: &Repository) -> Result<(), StoreError> {
        let repo = repo.clone();
        self.run(move |c| {
            insert_new(
                c,
                "INSERT INTO repositories (name, body) VALUES (?1, ?2)",
                params![repo.name, to_json(&repo)],
                &repo.name,
            )
        })
        .await
    }

    async fn get_repository(&self, name: &str) -> Result<Option<Repository>, StoreError> {
        let name = name.to_string();
        self.run(move |c| query_one(c, "SELECT body FROM repositories WHERE name = ?1", [name]))
            .await
    }

    async fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        self.run(|c| query_all(c, "SELECT body FROM repositories ORDER BY name", []))
            .await
    }

    async fn get_crate(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Option<CrateRecord>, StoreError> {
        let (repo, canonical) = (repo.to_string(), canonical.to_string());
        self.run(move |c| {
            query_one(
                c,
                "SELECT body FROM crates WHERE repo = ?1 AND canonical = ?2",
                [repo, canonical],
            )
        })
        .await
    }

    async fn list_crates(&self, repo: &str) -> Result<Vec<CrateRecord>, StoreError> {
        let repo = repo.to_string();
        self.run(move |c| {
            query_all(
                c,
                "SELECT body FROM crates WHERE repo = ?1 ORDER BY canonical",
                [repo],
            )
        })
        .await
    }

    async fn list_versions(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let (repo, canonical) = (repo.to_string(), canonical.to_string());
        self.run(move |c| {
            query_all(
                c,
                "SELECT body FROM versions WHERE repo = ?1 AND canonical = ?2 ORDER BY seq",
                [repo, canonical],
            )
        })
        .await
    }

    async fn list_crates_with_versions(
        &self,
        repo: &str,
    ) -> Result<Vec<CrateVersions>, StoreError> {
        let repo = repo.to_string();
        self.run(move |c| crates_with_versions(c, &repo)).await
    }

    async fn commit(&self, repo: &str, write: CrateWrite) -> Result<(), StoreError> {
        let repo = repo.to_string();
        self.run(move |c| commit(c, &repo, &write)).await
    }

    /// An FTS5 table with the trigram tokenizer, kept by triggers.
    fn indexes_text(&self) -> bool {
        true
    }

    async fn search(
        &self,
        repo: &str,
        query: &str,
        limit: usize,
    ) -> Result<(Vec<CrateRecord>, u64), StoreError> {
        let (repo, name_part, text_part) = (
            repo.to_string(),
            crateyard_core::canonical_name(query),
            query.to_lowercase(),
        );
        self.run(move |c| {
            // Both parts have as many characters as the query: either both
            // can use the index, or (short queries) neither can.
            // FTS5 reads its query up to a NUL: such a query scans.
            let indexed = text_part.chars().count() >= TRIGRAM && !text_part.contains('\0');
            let (filter, needles) = if indexed {
                let query = format!(
                    "name : {} OR text : {}",
                    fts_phrase(&name_part),
                    fts_phrase(&text_part)
                );
                (SEARCH_INDEXED.to_string(), vec![query])
            } else {
                (search_scanned(), vec![name_part, text_part])
            };
            let mut args: Vec<&dyn rusqlite::ToSql> = vec![&repo];
            args.extend(needles.iter().map(|n| n as &dyn rusqlite::ToSql));
            let total: i64 = c
                .query_row(&format!("SELECT count(*) {filter}"), args.as_slice(), |r| {
                    r.get(0)
                })
                .map_err(db)?;
            let hits = query_all(
                c,
                &format!("SELECT crates.body {filter} ORDER BY crates.canonical LIMIT {limit}"),
                args.as_slice(),
            )?;
            Ok((hits, total as u64))
        })
        .await
    }

    async fn update_repository(&self, repo: &Repository) -> Result<(), StoreError> {
        let repo = repo.clone();
        let expected = repo.revision.saturating_sub(1) as i64;
        self.run(move |c| {
            // Records written before revisions existed have none: 0.
            let changed = c
                .execute(
                    "UPDATE repositories SET body = ?2 WHERE name = ?1 \
                     AND COALESCE(json_extract(body, '$.revision'), 0) = ?3",
                    params![repo.name, to_json(&repo), expected],
                )
                .map_err(db)?;
            if changed > 0 {
                return Ok(());
            }
            let exists: Option<Repository> = query_one(
                c,
                "SELECT body FROM repositories WHERE name = ?1",
                [&repo.name],
            )?;
            Err(match exists {
                Some(_) => StoreError::Conflict(format!("repository `{}`", repo.name)),
                None => StoreError::NotFound(repo.name.clone()),
            })
        })
        .await
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let user = user.clone();
        self.run(move |c| {
            insert_new(
                c,
                "INSERT INTO users (login, body) VALUES (?1, ?2)",
                params![user.login, to_json(&user)],
                &user.login,
            )
        })
        .await
    }

    async fn get_user(&self, login: &str) -> Result<Option<User>, StoreError> {
        let login = login.to_string();
        self.run(move |c| query_one(c, "SELECT body FROM users WHERE login = ?1", [login]))
            .await
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let user = user.clone();
        self.run(move |c| {
            change_one(
                c,
                "UPDATE users SET body = ?2 WHERE login = ?1",
                params![user.login, to_json(&user)],
                &user.login,
            )
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.run(|c| query_all(c, "SELECT body FROM users ORDER BY login", []))
            .await
    }

    async fn create_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(move |c| {
            insert_new(
                c,
                "INSERT INTO tokens (hash, user, body) VALUES (?1, ?2, ?3)",
                params![token.hash, token.user, to_json(&token)],
                "token",
            )
        })
        .await
    }

    async fn get_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let hash = hash.to_string();
        self.run(move |c| query_one(c, "SELECT body FROM tokens WHERE hash = ?1", [hash]))
            .await
    }

    async fn update_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(move |c| {
            change_one(
                c,
                "UPDATE tokens SET body = ?2 WHERE hash = ?1",
                params![token.hash, to_json(&token)],
                "token",
            )
        })
        .await
    }

    async fn delete_token(&self, hash: &str) -> Result<(), StoreError> {
        let hash = hash.to_string();
        self.run(move |c| change_one(c, "DELETE FROM tokens WHERE hash = ?1", [hash], "token"))
            .await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.run(|c| query_all(c, "SELECT body FROM tokens ORDER BY hash", []))
            .await
    }

    async fn put_reindex_job(&self, job: &ReindexJob) -> Result<(), StoreError> {
        let job = job.clone();
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO reindex_jobs (repo, id, body) VALUES (?1, ?2, ?3)",
                params![job.repo, job.id, to_json(&job)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn put_reindex_batch(
        &self,
        repo: &str,
        job: &str,
        batch: &ReindexBatch,
    ) -> Result<(), StoreError> {
        let (repo, job, batch) = (repo.to_string(), job.to_string(), batch.clone());
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO reindex_batches (repo, id, number, body) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![repo, job, batch.number, to_json(&batch)],
            )
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn get_reindex_job(
        &self,
        repo: &str,
        id: &str,
    ) -> Result<Option<(ReindexJob, Vec<ReindexBatch>)>, StoreError> {
        let (repo, id) = (repo.to_string(), id.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(db)?;
            let job = query_one(
                &tx,
                "SELECT body FROM reindex_jobs WHERE repo = ?1 AND id = ?2",
                params![repo, id],
            )?;
            let Some(job) = job else { return Ok(None) };
            let batches = query_all(
                &tx,
                "SELECT body FROM reindex_batches WHERE repo = ?1 AND id = ?2 ORDER BY number",
                params![repo, id],
            )?;
            Ok(Some((job, batches)))
        })
        .await
    }

    async fn latest_reindex_job(&self, repo: &str) -> Result<Option<String>, StoreError> {
        let repo = repo.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT id FROM reindex_jobs WHERE repo = ?1 ORDER BY id DESC LIMIT 1",
                [repo],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.run(move |c| sqlite_audit::append(c, &entry)).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let query = query.clone();
        self.run(move |c| sqlite_audit::list(c, &query)).await
    }

    async fn add_downloads(
        &self,
        batch: Option<&str>,
        counts: &[DownloadCount],
    ) -> Result<bool, StoreError> {
        let (batch, counts) = (batch.map(String::from), counts.to_vec());
        self.run(move |c| sqlite_downloads::add(c, batch.as_deref(), &counts))
            .await
    }

    async fn downloads(
        &self,
        repo: &str,
        canonical: &str,
    ) -> Result<Vec<DownloadCount>, StoreError> {
        let (repo, canonical) = (repo.to_string(), canonical.to_string());
        self.run(move |c| sqlite_downloads::of_crate(c, &repo, &canonical))
            .await
    }
}
