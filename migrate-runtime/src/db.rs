//! The little a migration engine needs from a database, implemented for
//! `rusqlite::Connection` and `postgres::Client`, so an application hands
//! over the connection it already has.

use sea_query::{PostgresQueryBuilder, QueryStatementWriter, SchemaStatementBuilder, SqliteQueryBuilder};

/// The SQL dialect of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The product name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }

    /// Starts a transaction. On SQLite it takes the write lock at once
    /// (`IMMEDIATE`), so two migrators serialise instead of failing later.
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    pub(crate) fn build_schema(self, statement: &impl SchemaStatementBuilder) -> String {
        match self {
            Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
            Dialect::Postgres => statement.to_string(PostgresQueryBuilder),
        }
    }

    pub(crate) fn build_query(self, statement: &impl QueryStatementWriter) -> String {
        match self {
            Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
            Dialect::Postgres => statement.to_string(PostgresQueryBuilder),
        }
    }
}

/// Column `i` of a row from [`Database::query_text`], empty when NULL or missing.
pub(crate) fn cell(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// An error reported by the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    pub message: String,
    /// Byte offset into the executed SQL, when the database points at one.
    pub offset: Option<usize>,
    /// SQLSTATE on PostgreSQL.
    pub code: Option<String>,
}

impl DbError {
    pub fn new(message: impl Into<String>) -> DbError {
        DbError { message: message.into(), offset: None, code: None }
    }
}

/// What the engine needs from a connection.
pub trait Database {
    fn dialect(&self) -> Dialect;
    /// Runs one or more statements.
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Runs a query and returns its rows as text.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError>;
    /// Holds a lock for the whole run so that concurrent migrators serialise
    /// (a session advisory lock on PostgreSQL; SQLite relies on
    /// `BEGIN IMMEDIATE` per revision and a busy timeout instead).
    fn lock(&mut self, key: i64) -> Result<(), DbError>;
    fn unlock(&mut self, key: i64) -> Result<(), DbError>;
    /// The database user, for the version table's `applied_by`.
    fn user(&mut self) -> String;
    /// Whether a table exists.
    fn table_exists(&mut self, schema: Option<&str>, table: &str) -> Result<bool, DbError>;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use super::{Database, DbError, Dialect};

    /// Lock files held by this process, by path.
    fn held_locks() -> &'static Mutex<HashMap<String, std::fs::File>> {
        static LOCKS: OnceLock<Mutex<HashMap<String, std::fs::File>>> = OnceLock::new();
        LOCKS.get_or_init(Default::default)
    }

    fn error(e: rusqlite::Error) -> DbError {
        match e {
            rusqlite::Error::SqlInputError { msg, offset, .. } => {
                DbError { message: msg, offset: usize::try_from(offset).ok(), code: None }
            }
            other => DbError::new(other.to_string()),
        }
    }

    impl Database for rusqlite::Connection {
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }

        fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
            rusqlite::Connection::execute_batch(self, sql).map_err(error)
        }

        fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
            let mut statement = self.prepare(sql).map_err(error)?;
            let columns = statement.column_count();
            let rows = statement
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| {
                            Ok(match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => None,
                                rusqlite::types::ValueRef::Integer(n) => Some(n.to_string()),
                                rusqlite::types::ValueRef::Real(x) => Some(x.to_string()),
                                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, rusqlite::Error>>()
                })
                .map_err(error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(error)
        }

        /// A busy timeout, and for a file database an exclusive OS lock on
        /// `<database>-migrate.lock` for the whole run: concurrent migrators
        /// wait, including around `transaction: false` revisions.
        fn lock(&mut self, _key: i64) -> Result<(), DbError> {
            self.busy_timeout(std::time::Duration::from_secs(120)).map_err(error)?;
            let Some(path) = self.path().filter(|p| !p.is_empty()).map(|p| format!("{p}-migrate.lock")) else {
                return Ok(()); // in memory: nobody else can see it
            };
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| DbError::new(format!("could not open the lock file {path}: {e}")))?;
            file.lock().map_err(|e| DbError::new(format!("could not lock {path}: {e}")))?;
            held_locks().lock().map_err(|_| DbError::new("lock table poisoned"))?.insert(path, file);
            Ok(())
        }

        fn unlock(&mut self, _key: i64) -> Result<(), DbError> {
            if let Some(path) = self.path().filter(|p| !p.is_empty()).map(|p| format!("{p}-migrate.lock")) {
                // Dropping the file releases the lock.
                held_locks().lock().map_err(|_| DbError::new("lock table poisoned"))?.remove(&path);
            }
            Ok(())
        }

        fn user(&mut self) -> String {
            std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into())
        }

        fn table_exists(&mut self, _schema: Option<&str>, table: &str) -> Result<bool, DbError> {
            let found: i64 = self
                .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| {
                    r.get(0)
                })
                .map_err(error)?;
            Ok(found > 0)
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres_impl {
    use postgres::SimpleQueryMessage;

    use super::{Database, DbError, Dialect};

    /// Converts an error, turning PostgreSQL's 1-based character position
    /// into a byte offset of `sql`.
    pub(crate) fn error(e: &postgres::Error, sql: &str) -> DbError {
        match e.as_db_error() {
            Some(db) => {
                let offset = match db.position() {
                    Some(postgres::error::ErrorPosition::Original(position)) => {
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

    impl Database for postgres::Client {
        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }

        fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
            self.batch_execute(sql).map_err(|e| error(&e, sql))
        }

        fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
            let messages = self.simple_query(sql).map_err(|e| error(&e, sql))?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(row) => {
                        Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect())
        }

        fn lock(&mut self, key: i64) -> Result<(), DbError> {
            self.execute_batch(&format!("SELECT pg_advisory_lock({key})"))
        }

        fn unlock(&mut self, key: i64) -> Result<(), DbError> {
            self.execute_batch(&format!("SELECT pg_advisory_unlock({key})"))
        }

        fn user(&mut self) -> String {
            self.query_text("SELECT current_user")
                .ok()
                .and_then(|rows| rows.into_iter().next())
                .and_then(|row| row.into_iter().next().flatten())
                .unwrap_or_else(|| "unknown".into())
        }

        fn table_exists(&mut self, schema: Option<&str>, table: &str) -> Result<bool, DbError> {
            let quote = |s: &str| s.replace('"', "\"\"");
            let name = match schema {
                Some(schema) => format!("\"{}\".\"{}\"", quote(schema), quote(table)),
                None => format!("\"{}\"", quote(table)),
            };
            let sql = format!("SELECT to_regclass('{}') IS NOT NULL", name.replace('\'', "''"));
            let rows = self.query_text(&sql)?;
            Ok(rows.first().and_then(|r| r.first().cloned().flatten()).as_deref() == Some("t"))
        }
    }
}
