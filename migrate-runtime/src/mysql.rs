//! MariaDB and MySQL (feature `mysql`): `mysql::Conn`, the blocking driver,
//! is a [`Database`]. The driver's items are re-exported here
//! (`migrate_runtime::mysql::Conn`), so an application uses the version the
//! engine was built with.
//!
//! `execute_batch` hands its text to the server as it is, on the text
//! protocol with multi-statements on (the driver's default), and reads every
//! result so a failure in a later statement is reported: the engine already
//! splits a revision with the splitter's MySQL rules (`DELIMITER` included,
//! which is the mysql client's, not the server's) and runs one statement at
//! a time, so splitting again here would only break a procedure or trigger
//! body holding `;`, which the server's own parser reads whole.
//!
//! The migration lock is a named lock (`GET_LOCK`), held by the session
//! until `RELEASE_LOCK` or until the session ends (a killed migrator loses
//! it at once). Its name is derived from the key and the session's database,
//! since named locks are server-wide, and kept in a session variable, so the
//! lock taken is the lock released even when a revision changes the
//! database with `USE`.

use std::time::Duration;

use ::mysql::prelude::Queryable;
pub use ::mysql::*;

use crate::conn::Rows;
use crate::db::cell;
use crate::{Database, DbError, Dialect};

/// Converts an error: the server's message with its SQLSTATE.
pub(crate) fn error(e: ::mysql::Error) -> DbError {
    match e {
        ::mysql::Error::MySqlError(e) => DbError { message: e.message, offset: None, code: Some(e.state) },
        other => DbError::new(other.to_string()),
    }
}

/// A value of the text protocol as text.
fn text(value: &::mysql::Value) -> Option<String> {
    use ::mysql::Value;
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(x) => Some(x.to_string()),
        Value::Double(x) => Some(x.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

/// The session variable that holds the name of the lock for `key`.
fn lock_variable(key: i64) -> String {
    format!("@cargo_migrate_lock_{:016x}", key as u64)
}

/// Sets the lock's session variable: `cargo_migrate:` and 40 hex digits of
/// the database and key (a name is at most 64 characters).
fn name_lock(key: i64) -> String {
    format!(
        "SET {} = CONCAT('cargo_migrate:', LEFT(SHA2(CONCAT(COALESCE(DATABASE(), ''), '/', '{key}'), 256), 40))",
        lock_variable(key)
    )
}

/// `GET_LOCK`'s answer: 1 taken, 0 timed out, NULL an error.
fn taken(rows: &Rows) -> Result<bool, DbError> {
    match rows.last().and_then(|row| row.first().cloned().flatten()).as_deref() {
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        _ => Err(DbError::new(
            "GET_LOCK returned NULL: the server could not take the migration lock (out of memory, or the session was killed)",
        )),
    }
}

impl Database for ::mysql::Conn {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        if sql.trim().is_empty() {
            return Ok(());
        }
        let mut result = self.query_iter(sql).map_err(error)?;
        while let Some(set) = result.iter() {
            for row in set {
                row.map_err(error)?;
            }
        }
        Ok(())
    }

    fn query_text(&mut self, sql: &str) -> Result<Rows, DbError> {
        let mut result = self.query_iter(sql).map_err(error)?;
        let mut rows = Vec::new();
        while let Some(set) = result.iter() {
            for row in set {
                let row = row.map_err(error)?;
                rows.push((0..row.len()).map(|i| row.as_ref(i).and_then(text)).collect());
            }
        }
        Ok(rows)
    }

    fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let rows = self.query_text(&format!("{};\nSELECT GET_LOCK({}, 0)", name_lock(key), lock_variable(key)))?;
        taken(&rows)
    }

    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        // A negative timeout is no infinite wait on MariaDB (it returns NULL):
        // without a bound, wait an hour at a time.
        let seconds = timeout.map_or(3600.0, |t| t.as_secs_f64().max(0.001));
        let sql = format!("{};\nSELECT GET_LOCK({}, {seconds:.3})", name_lock(key), lock_variable(key));
        loop {
            if taken(&self.query_text(&sql)?)? {
                return Ok(true);
            }
            if timeout.is_some() {
                return Ok(false);
            }
        }
    }

    fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.execute_batch(&format!("DO RELEASE_LOCK({})", lock_variable(key)))
    }

    fn lock_holder(&mut self, key: i64) -> Option<String> {
        self.execute_batch(&name_lock(key)).ok()?;
        let variable = lock_variable(key);
        // The process list shows other users' sessions with the PROCESS privilege only.
        let sql = format!(
            "SELECT IS_USED_LOCK({variable}), p.USER, p.HOST, p.COMMAND, p.TIME, p.STATE, LEFT(p.INFO, 60) \
             FROM (SELECT 1) AS one LEFT JOIN information_schema.PROCESSLIST AS p ON p.ID = IS_USED_LOCK({variable})"
        );
        let row = self.query_text(&sql).ok()?.into_iter().next()?;
        let cell = |i: usize| cell(&row, i);
        let id = row.first().cloned().flatten()?;
        if row.get(1).cloned().flatten().is_none() {
            return Some(format!("server connection {id}"));
        }
        let query = cell(6).split_whitespace().collect::<Vec<_>>().join(" ");
        let state = if cell(5).is_empty() { cell(3) } else { format!("{}, {}", cell(3), cell(5)) };
        Some(format!("server connection {id} ({} from {}), {state} for {} s: {query}", cell(1), cell(2), cell(4)))
    }

    fn user(&mut self) -> String {
        self.query_text("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten())
            .unwrap_or_else(|| "unknown".into())
    }

    fn table_columns(&mut self, schema: Option<&str>, table: &str) -> Result<Option<Vec<(String, String)>>, DbError> {
        let columns: Vec<(String, String)> = self
            .exec(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            .map_err(error)?;
        Ok(Some(columns).filter(|c| !c.is_empty()))
    }
}
