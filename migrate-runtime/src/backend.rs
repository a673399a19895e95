//! What differs per database engine, in one place. The engine asks the
//! backend of a connection (detected with `SELECT version()` when the SQL
//! dialect does not tell) what it can do, and holds the policy once: how to
//! lock, whether a revision can be one transaction, whether it can be sent in
//! one round trip.
//!
//! Adding an engine: a [`Backend`] variant with its [`Capabilities`], its
//! detection in [`Backend::from_version`], a driver implementing
//! [`Database`](crate::Database), and its URL scheme in `url.rs`; see
//! ARCHITECTURE.md.
//!
//! ```
//! use migrate_runtime::{Backend, Dialect, LockStrategy};
//!
//! let cockroach = Backend::from_version(Dialect::Postgres, "CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu)");
//! assert_eq!(cockroach, Backend::CockroachDb);
//! // Its advisory locks are accepted and do nothing: a lease row instead.
//! assert_eq!(cockroach.capabilities().lock, LockStrategy::LeaseTable);
//! assert!(!cockroach.capabilities().ddl_with_dml);
//! ```

use crate::Dialect;

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL (Neon, RDS and the rest that run PostgreSQL itself).
    Postgres,
    /// CockroachDB: PostgreSQL's protocol and SQL; advisory locks are
    /// accepted and do nothing (cockroachdb/cockroach#13546), and a
    /// transaction cannot mix schema changes with writes reliably.
    CockroachDb,
    /// YugabyteDB: PostgreSQL's protocol and SQL; advisory locks are not
    /// supported by default, and DDL is not transactional with DML.
    YugabyteDb,
    /// MySQL: DDL commits implicitly.
    Mysql,
    /// MariaDB: DDL commits implicitly.
    MariaDb,
}

/// How concurrent migrators are kept from running at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockStrategy {
    /// A session advisory lock (`pg_advisory_lock`), released when the
    /// session ends, even when the process is killed.
    Advisory,
    /// An OS lock on a file beside the database (SQLite).
    File,
    /// A named lock (`GET_LOCK`, MySQL and MariaDB), released with the session.
    NamedLock,
    /// A lease row in a table beside the version table: an owner and an
    /// expiry, taken with a conditional insert, renewed as the run goes,
    /// released at the end, and taken over only once it has expired.
    LeaseTable,
}

/// What a backend can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// DDL runs inside a transaction and rolls back with it.
    pub transactional_ddl: bool,
    /// Schema changes and writes (the version-table row) can share one
    /// transaction. Where not, every revision runs as `transaction: false`
    /// does: a `running` row first, progress after each statement.
    pub ddl_with_dml: bool,
    /// A transactional revision can be sent as one batch, with its
    /// version-table row, in one round trip.
    pub one_round_trip: bool,
    /// How the migration lock is taken.
    pub lock: LockStrategy,
}

impl Backend {
    /// The backend a `SELECT version()` of a `dialect` database describes.
    pub fn from_version(dialect: Dialect, version: &str) -> Backend {
        match dialect {
            Dialect::Sqlite => Backend::Sqlite,
            Dialect::Mysql if version.contains("MariaDB") => Backend::MariaDb,
            Dialect::Mysql => Backend::Mysql,
            _ if version.contains("CockroachDB") => Backend::CockroachDb,
            _ if version.contains("-YB-") || version.contains("YugabyteDB") => Backend::YugabyteDb,
            _ => Backend::Postgres,
        }
    }

    /// The backend a dialect stands for when nothing else is known.
    pub fn of_dialect(dialect: Dialect) -> Backend {
        match dialect {
            Dialect::Sqlite => Backend::Sqlite,
            Dialect::Mysql => Backend::Mysql,
            _ => Backend::Postgres,
        }
    }

    /// The SQL dialect it speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres | Backend::CockroachDb | Backend::YugabyteDb => Dialect::Postgres,
            Backend::Mysql | Backend::MariaDb => Dialect::Mysql,
        }
    }

    /// The product name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::CockroachDb => "CockroachDB",
            Backend::YugabyteDb => "YugabyteDB",
            Backend::Mysql => "MySQL",
            Backend::MariaDb => "MariaDB",
        }
    }

    /// What it can do.
    pub fn capabilities(self) -> Capabilities {
        let base = Capabilities {
            transactional_ddl: true,
            ddl_with_dml: true,
            one_round_trip: false,
            lock: LockStrategy::Advisory,
        };
        match self {
            Backend::Sqlite => Capabilities { lock: LockStrategy::File, ..base },
            Backend::Postgres => Capabilities { one_round_trip: true, ..base },
            Backend::CockroachDb | Backend::YugabyteDb => {
                Capabilities { ddl_with_dml: false, lock: LockStrategy::LeaseTable, ..base }
            }
            Backend::Mysql | Backend::MariaDb => {
                Capabilities { transactional_ddl: false, ddl_with_dml: false, lock: LockStrategy::NamedLock, ..base }
            }
        }
    }

    /// Whether the dialect alone does not say which backend it is: a
    /// connection is asked (`SELECT version()`).
    pub(crate) fn needs_detection(dialect: Dialect) -> bool {
        dialect != Dialect::Sqlite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_their_backend() {
        let cases = [
            (Dialect::Postgres, "PostgreSQL 15.19 (Debian 15.19-0+deb12u1) on x86_64-pc-linux-gnu", Backend::Postgres),
            (
                Dialect::Postgres,
                "CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu, built 2024/05/15)",
                Backend::CockroachDb,
            ),
            (Dialect::Postgres, "PostgreSQL 11.2-YB-2.20.1.0-b0 on x86_64-pc-linux-gnu", Backend::YugabyteDb),
            (Dialect::Mysql, "10.11.19-MariaDB-0+deb12u1", Backend::MariaDb),
            (Dialect::Mysql, "8.0.36", Backend::Mysql),
            (Dialect::Sqlite, "3.46.0", Backend::Sqlite),
        ];
        for (dialect, version, backend) in cases {
            assert_eq!(Backend::from_version(dialect, version), backend, "{version}");
            assert_eq!(backend.dialect(), dialect);
        }
    }

    #[test]
    fn only_postgres_itself_keeps_advisory_locks_and_one_round_trip() {
        let advisory: Vec<Backend> = [
            Backend::Sqlite,
            Backend::Postgres,
            Backend::CockroachDb,
            Backend::YugabyteDb,
            Backend::Mysql,
            Backend::MariaDb,
        ]
        .into_iter()
        .filter(|b| b.capabilities().lock == LockStrategy::Advisory && b.capabilities().one_round_trip)
        .collect();
        assert_eq!(advisory, [Backend::Postgres]);
    }
}
