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
    /// The version table can live in a named schema, and without one the
    /// session's current schema is named explicitly.
    pub schemas: bool,
    /// Foreign keys are turned off with a pragma that a transaction
    /// ignores (SQLite): a revision that starts by turning them off (a table
    /// rebuild) has it run before its transaction and the keys checked after.
    pub foreign_keys_pragma: bool,
    /// The offline script's client ends a statement at every `;`, so a
    /// statement holding one (a procedure's body) goes between `DELIMITER`
    /// lines (the mysql client).
    pub client_delimiter: bool,
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
            schemas: true,
            foreign_keys_pragma: false,
            client_delimiter: false,
        };
        match self {
            Backend::Sqlite => {
                Capabilities { lock: LockStrategy::File, schemas: false, foreign_keys_pragma: true, ..base }
            }
            Backend::Postgres => Capabilities { one_round_trip: true, ..base },
            Backend::CockroachDb | Backend::YugabyteDb => {
                Capabilities { ddl_with_dml: false, lock: LockStrategy::LeaseTable, ..base }
            }
            Backend::Mysql | Backend::MariaDb => Capabilities {
                transactional_ddl: false,
                ddl_with_dml: false,
                lock: LockStrategy::NamedLock,
                schemas: false,
                client_delimiter: true,
                ..base
            },
        }
    }

    /// How an offline script for it is applied, for the script's header.
    pub fn offline_client(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite3 -bail DATABASE < THIS_FILE",
            Backend::Postgres | Backend::CockroachDb | Backend::YugabyteDb => {
                "psql -v ON_ERROR_STOP=1 -f THIS_FILE (each revision commits on its own)"
            }
            Backend::Mysql | Backend::MariaDb => {
                "mariadb DATABASE < THIS_FILE, or mysql (each statement commits on its own: a script stopped part-way leaves a `running` row)"
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

    const ALL: [Backend; 6] = [
        Backend::Sqlite,
        Backend::Postgres,
        Backend::CockroachDb,
        Backend::YugabyteDb,
        Backend::Mysql,
        Backend::MariaDb,
    ];

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
    fn every_backend_says_what_it_can_do() {
        let table: Vec<String> = ALL
            .into_iter()
            .map(|b| {
                let c = b.capabilities();
                format!(
                    "{:<11} transactional_ddl={:<5} ddl_with_dml={:<5} one_round_trip={:<5} lock={:<10} schemas={:<5} foreign_keys_pragma={:<5} client_delimiter={}",
                    b.name(),
                    c.transactional_ddl,
                    c.ddl_with_dml,
                    c.one_round_trip,
                    format!("{:?}", c.lock),
                    c.schemas,
                    c.foreign_keys_pragma,
                    c.client_delimiter
                )
            })
            .collect();
        assert_eq!(
            table,
            [
                "SQLite      transactional_ddl=true  ddl_with_dml=true  one_round_trip=false lock=File       schemas=false foreign_keys_pragma=true  client_delimiter=false",
                "PostgreSQL  transactional_ddl=true  ddl_with_dml=true  one_round_trip=true  lock=Advisory   schemas=true  foreign_keys_pragma=false client_delimiter=false",
                "CockroachDB transactional_ddl=true  ddl_with_dml=false one_round_trip=false lock=LeaseTable schemas=true  foreign_keys_pragma=false client_delimiter=false",
                "YugabyteDB  transactional_ddl=true  ddl_with_dml=false one_round_trip=false lock=LeaseTable schemas=true  foreign_keys_pragma=false client_delimiter=false",
                "MySQL       transactional_ddl=false ddl_with_dml=false one_round_trip=false lock=NamedLock  schemas=false foreign_keys_pragma=false client_delimiter=true",
                "MariaDB     transactional_ddl=false ddl_with_dml=false one_round_trip=false lock=NamedLock  schemas=false foreign_keys_pragma=false client_delimiter=true",
            ]
        );
    }

    #[test]
    fn only_postgres_itself_keeps_advisory_locks_and_one_round_trip() {
        let advisory: Vec<Backend> = ALL
            .into_iter()
            .filter(|b| b.capabilities().lock == LockStrategy::Advisory && b.capabilities().one_round_trip)
            .collect();
        assert_eq!(advisory, [Backend::Postgres]);
    }
}
