//! The little a migration engine needs from a database, implemented for
//! `rusqlite::Connection` and `postgres::Client`, so an application hands
//! over the connection it already has.

use std::time::Duration;

use sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryStatementWriter, SchemaStatementBuilder, SqliteQueryBuilder,
};

pub use migrate_history::Dialect;

/// Rendering sea-query statements in a dialect.
pub(crate) trait SeaQueryDialect {
    fn build_schema(self, statement: &impl SchemaStatementBuilder) -> String;
    fn build_query(self, statement: &impl QueryStatementWriter) -> String;
}

impl SeaQueryDialect for Dialect {
    fn build_schema(self, statement: &impl SchemaStatementBuilder) -> String {
        match self {
            Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
            Dialect::Mysql => statement.to_string(MysqlQueryBuilder),
            _ => statement.to_string(PostgresQueryBuilder),
        }
    }

    fn build_query(self, statement: &impl QueryStatementWriter) -> String {
        match self {
            Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
            Dialect::Mysql => statement.to_string(MysqlQueryBuilder),
            _ => statement.to_string(PostgresQueryBuilder),
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
    /// What the database said.
    pub message: String,
    /// Byte offset into the executed SQL, when the database points at one.
    pub offset: Option<usize>,
    /// SQLSTATE on PostgreSQL.
    pub code: Option<String>,
}

impl DbError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> DbError {
        DbError { message: message.into(), offset: None, code: None }
    }
}

/// What the engine needs from a connection. Implemented for
/// `rusqlite::Connection` (feature `sqlite`) and `postgres::Client`
/// (feature `postgres`); every blocking call of the crate takes a
/// `&mut dyn Database`.
///
/// ```
/// use migrate_runtime::{Database, DbError};
///
/// /// The rows of a table, on any database the engine takes.
/// fn count(db: &mut dyn Database, table: &str) -> Result<u64, DbError> {
///     let rows = db.query_text(&format!("SELECT count(*) FROM {table}"))?;
///     Ok(rows[0][0].as_deref().and_then(|n| n.parse().ok()).unwrap_or(0))
/// }
///
/// let mut db = rusqlite::Connection::open_in_memory()?;
/// Database::execute_batch(&mut db, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (NULL);")?;
/// assert_eq!(count(&mut db, "t")?, 2);
/// assert_eq!(db.query_text("SELECT x FROM t ORDER BY x")?, [[None], [Some("1".to_owned())]]);
/// assert_eq!(db.table_columns(None, "t")?, Some(vec![("x".to_owned(), "INTEGER".to_owned())]));
/// assert_eq!(db.table_columns(None, "missing")?, None);
/// assert!(count(&mut db, "missing").unwrap_err().message.contains("no such table"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Database {
    /// The SQL dialect it speaks.
    fn dialect(&self) -> Dialect;
    /// Runs one or more statements.
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Runs a query and returns its rows as text.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError>;
    /// Takes the migration lock, held for a whole run so that concurrent
    /// migrators serialise, if nobody holds it: `Ok(false)` when taken. A
    /// session advisory lock on PostgreSQL; for a SQLite file an OS lock on
    /// `<database>-migrate.lock`.
    fn try_lock(&mut self, key: i64) -> Result<bool, DbError>;
    /// Waits for the migration lock, at most `timeout` (`None`: as long as
    /// it takes); `Ok(false)` when the time ran out.
    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError>;
    /// Releases the migration lock taken with [`try_lock`](Database::try_lock)
    /// or [`lock`](Database::lock).
    fn unlock(&mut self, key: i64) -> Result<(), DbError>;
    /// Who holds the migration lock, as far as the database can tell.
    fn lock_holder(&mut self, key: i64) -> Option<String>;
    /// The database user, for the version table's `applied_by`.
    fn user(&mut self) -> String;
    /// The columns (name, type) of a table, or `None` when it does not exist.
    fn table_columns(&mut self, schema: Option<&str>, table: &str) -> Result<Option<Vec<(String, String)>>, DbError>;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    use std::time::Duration;

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

        fn try_lock(&mut self, _key: i64) -> Result<bool, DbError> {
            self.busy_timeout(Duration::from_secs(120)).map_err(error)?;
            let Some(path) = lock_path(self) else { return Ok(true) }; // in memory: nobody else sees it
            let file = open_lock_file(&path)?;
            match file.try_lock() {
                Ok(()) => hold(path, file).map(|()| true),
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(e)) => Err(DbError::new(format!("could not lock {path}: {e}"))),
            }
        }

        fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
            let Some(path) = lock_path(self) else { return self.try_lock(key) };
            let Some(timeout) = timeout else {
                let file = open_lock_file(&path)?;
                file.lock().map_err(|e| DbError::new(format!("could not lock {path}: {e}")))?;
                return hold(path, file).map(|()| true);
            };
            let deadline = std::time::Instant::now() + timeout;
            loop {
                if self.try_lock(key)? {
                    return Ok(true);
                }
                if std::time::Instant::now() >= deadline {
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        fn unlock(&mut self, _key: i64) -> Result<(), DbError> {
            if let Some(path) = lock_path(self) {
                // Dropping the file releases the lock.
                held_locks().lock().map_err(|_| DbError::new("lock table poisoned"))?.remove(&path);
            }
            Ok(())
        }

        fn lock_holder(&mut self, _key: i64) -> Option<String> {
            let text = std::fs::read_to_string(lock_path(self)?).ok()?;
            Some(text.trim().to_owned()).filter(|t| !t.is_empty())
        }

        fn user(&mut self) -> String {
            std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into())
        }

        fn table_columns(
            &mut self,
            _schema: Option<&str>,
            table: &str,
        ) -> Result<Option<Vec<(String, String)>>, DbError> {
            let mut statement = self.prepare("SELECT name, type FROM pragma_table_info(?1)").map_err(error)?;
            let columns = statement
                .query_map([table], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(error)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(error)?;
            Ok(Some(columns).filter(|c| !c.is_empty()))
        }
    }

    /// `<database>-migrate.lock` beside a file database; `None` in memory.
    fn lock_path(db: &rusqlite::Connection) -> Option<String> {
        db.path().filter(|p| !p.is_empty()).map(|p| format!("{p}-migrate.lock"))
    }

    fn open_lock_file(path: &str) -> Result<std::fs::File, DbError> {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| DbError::new(format!("could not open the lock file {path}: {e}")))
    }

    /// Keeps a taken lock until `unlock`, and says in the file who holds it.
    fn hold(path: String, mut file: std::fs::File) -> Result<(), DbError> {
        use std::io::Write;
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let holder = format!("process {} (started at unix time {started})\n", std::process::id());
        // Best effort: the lock itself is what matters.
        let _ = file.set_len(0).and_then(|()| file.write_all(holder.as_bytes()));
        held_locks().lock().map_err(|_| DbError::new("lock table poisoned"))?.insert(path, file);
        Ok(())
    }
}
