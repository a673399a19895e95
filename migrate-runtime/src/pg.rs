//! PostgreSQL's side of the engine, written once for both drivers: the
//! blocking `postgres::Client` (a [`Database`]) and, with the
//! `tokio-postgres` feature, `tokio_postgres::Client`. Each driver supplies
//! two calls ([`Sql`]); the lock, its holder, the user and the version
//! table's columns are built on them.

use std::future::Future;
use std::time::Duration;

use tokio_postgres::SimpleQueryMessage;

use crate::conn::{Rows, now};
use crate::db::cell;
use crate::{Database, DbError, Dialect};

/// Converts an error, turning PostgreSQL's 1-based character position
/// into a byte offset of `sql`.
pub(crate) fn error(e: &tokio_postgres::Error, sql: &str) -> DbError {
    match e.as_db_error() {
        Some(db) => {
            let offset = match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(position)) => {
                    sql.char_indices().nth((*position as usize).saturating_sub(1)).map(|(byte, _)| byte)
                }
                _ => None,
            };
            let mut message = db.message().to_owned();
            if let Some(detail) = db.detail() {
                message.push_str(&format!(" ({detail})"));
            }
            DbError { message, offset, code: Some(db.code().code().to_owned()) }
        }
        None => DbError::new(e.to_string()),
    }
}

/// The rows of a simple query's messages, as text.
fn rows(messages: Vec<SimpleQueryMessage>) -> Rows {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
            _ => None,
        })
        .collect()
}

/// The two calls a PostgreSQL driver supplies.
pub(crate) trait Sql {
    fn run_sql(&mut self, sql: &str) -> impl Future<Output = Result<(), DbError>>;
    fn rows_of(&mut self, sql: &str) -> impl Future<Output = Result<Rows, DbError>>;
}

impl Sql for postgres::Client {
    async fn run_sql(&mut self, sql: &str) -> Result<(), DbError> {
        self.batch_execute(sql).map_err(|e| error(&e, sql))
    }
    async fn rows_of(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.simple_query(sql).map(rows).map_err(|e| error(&e, sql))
    }
}

#[cfg(feature = "tokio-postgres")]
impl Sql for tokio_postgres::Client {
    async fn run_sql(&mut self, sql: &str) -> Result<(), DbError> {
        self.batch_execute(sql).await.map_err(|e| error(&e, sql))
    }
    async fn rows_of(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.simple_query(sql).await.map(rows).map_err(|e| error(&e, sql))
    }
}

async fn try_lock(db: &mut impl Sql, key: i64) -> Result<bool, DbError> {
    let rows = db.rows_of(&format!("SELECT pg_try_advisory_lock({key});\n{CHECK_CONNECTION}")).await?;
    Ok(rows.first().and_then(|r| r.first().cloned().flatten()).as_deref() == Some("t"))
}

async fn lock(db: &mut impl Sql, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
    // A session lock outlives the transaction; `SET LOCAL` does not.
    // The wait is ours to bound: a role's own `lock_timeout` or
    // `statement_timeout` must not cut it short.
    let ms = timeout.map_or(0, |t| t.as_millis().max(1));
    let sql = format!(
        "BEGIN; SET LOCAL lock_timeout = {ms}; SET LOCAL statement_timeout = 0; \
         SELECT pg_advisory_lock({key}); COMMIT;\n{CHECK_CONNECTION}"
    );
    match db.run_sql(&sql).await {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = db.run_sql("ROLLBACK").await;
            if e.code.as_deref() == Some("55P03") && timeout.is_some() { Ok(false) } else { Err(e) }
        }
    }
}

async fn unlock(db: &mut impl Sql, key: i64) -> Result<(), DbError> {
    db.run_sql(&format!("SELECT pg_advisory_unlock({key})")).await
}

async fn lock_holder(db: &mut impl Sql, key: i64) -> Option<String> {
    // A bigint advisory key is (classid, objid) = (high, low) 32 bits, objsubid 1.
    let (high, low) = ((key as u64) >> 32, (key as u64) & 0xffff_ffff);
    let sql = format!(
        "SELECT a.pid, coalesce(a.usename, '?'), coalesce(nullif(a.application_name, ''), '?'), \
         coalesce(host(a.client_addr), 'local'), coalesce(a.state, '?'), \
         coalesce(extract(epoch FROM now() - a.query_start)::bigint, 0), coalesce(left(a.query, 60), '') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {high} AND l.objid = {low} AND l.objsubid = 1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    let row = db.rows_of(&sql).await.ok()?.into_iter().next()?;
    let cell = |i: usize| cell(&row, i);
    let query = cell(6).split_whitespace().collect::<Vec<_>>().join(" ");
    Some(format!(
        "server process {} ({} as {} from {}), {} for {} s: {query}",
        cell(0),
        cell(2),
        cell(1),
        cell(3),
        cell(4),
        cell(5)
    ))
}

async fn user(db: &mut impl Sql) -> String {
    db.rows_of("SELECT current_user")
        .await
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_else(|| "unknown".into())
}

async fn table_columns(
    db: &mut impl Sql,
    schema: Option<&str>,
    table: &str,
) -> Result<Option<Vec<(String, String)>>, DbError> {
    let quote = |s: &str| s.replace('"', "\"\"");
    let name = match schema {
        Some(schema) => format!("\"{}\".\"{}\"", quote(schema), quote(table)),
        None => format!("\"{}\"", quote(table)),
    };
    let sql = format!(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = to_regclass('{}') AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        name.replace('\'', "''")
    );
    let columns: Vec<(String, String)> =
        db.rows_of(&sql).await?.iter().map(|row| (cell(row, 0), cell(row, 1))).collect();
    Ok(Some(columns).filter(|c| !c.is_empty()))
}

/// Run with the lock on servers that know it (14+): a holder killed in
/// the middle of a long statement is noticed within a second, so its lock
/// is released instead of blocking every waiter until the statement ends.
/// Best effort: a platform without support refuses a non-zero value.
const CHECK_CONNECTION: &str = "DO $cargo_migrate$ BEGIN \
     IF current_setting('server_version_num')::int >= 140000 \
     AND current_setting('client_connection_check_interval', true) = '0' THEN \
     PERFORM set_config('client_connection_check_interval', '1000', false); END IF; \
     EXCEPTION WHEN OTHERS THEN NULL; END $cargo_migrate$";

impl Database for postgres::Client {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        now(Sql::run_sql(self, sql))
    }
    fn query_text(&mut self, sql: &str) -> Result<Rows, DbError> {
        now(Sql::rows_of(self, sql))
    }
    fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        now(try_lock(self, key))
    }
    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        now(lock(self, key, timeout))
    }
    fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        now(unlock(self, key))
    }
    fn lock_holder(&mut self, key: i64) -> Option<String> {
        now(lock_holder(self, key))
    }
    fn user(&mut self) -> String {
        now(user(self))
    }
    fn table_columns(&mut self, schema: Option<&str>, table: &str) -> Result<Option<Vec<(String, String)>>, DbError> {
        now(table_columns(self, schema, table))
    }
}

#[cfg(feature = "tokio-postgres")]
impl crate::conn::Conn for tokio_postgres::Client {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    async fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        Sql::run_sql(self, sql).await
    }
    async fn query_text(&mut self, sql: &str) -> Result<Rows, DbError> {
        Sql::rows_of(self, sql).await
    }
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        try_lock(self, key).await
    }
    async fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        lock(self, key, timeout).await
    }
    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        unlock(self, key).await
    }
    async fn lock_holder(&mut self, key: i64) -> Option<String> {
        lock_holder(self, key).await
    }
    async fn user(&mut self) -> String {
        user(self).await
    }
    async fn table_columns(
        &mut self,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<Vec<(String, String)>>, DbError> {
        table_columns(self, schema, table).await
    }
}
