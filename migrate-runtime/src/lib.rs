//! Apply cargo-migrate histories to SQLite and PostgreSQL.
//!
//! The same engine serves `cargo migrate upgrade` and an application that
//! migrates at startup:
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")] fn demo(history: &migrate_history::embed::EmbeddedHistory) -> Result<(), Box<dyn std::error::Error>> {
//! use migrate_runtime::Migrator;
//! let mut db = rusqlite::Connection::open("app.db")?;
//! let migrator = Migrator::from_embedded(history)?;
//! migrator.run(&mut db)?;
//! # Ok(()) }
//! ```
//!
//! Features: `sqlite` (rusqlite, bundled) and `postgres` (postgres with
//! native-tls), both on by default, and `mysql` (MariaDB and MySQL, on the
//! `mysql` crate with native-tls). Drivers live here, not in migrate-history,
//! so the build-time crates stay free of them.

#![warn(missing_docs)]

// Without an engine there is nothing to connect to: say so instead of
// failing deep inside `Connection`.
#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "migrate-runtime applies migrations to a database: enable its `sqlite` feature, its `postgres` feature (both are the default), or its `mysql` feature"
);

pub mod adopt;
mod backend;
mod conn;
mod connect;
mod db;
mod engine;
mod lock_table;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
mod pg;
pub mod schema;
pub mod source;
pub mod squash;
pub mod url;
pub mod verify;
pub mod version_table;
pub mod workbench;

pub use backend::{Backend, Capabilities, LockStrategy};
#[cfg(feature = "tokio-postgres")]
pub use connect::connect_async;
pub use connect::{ConnectError, Connection, Encryption, connect, connect_existing};
pub use db::{Database, DbError, Dialect};
pub use engine::{
    AppliedRevision, DEFAULT_LOCK_LEASE, Dangling, DbState, Drift, Error, Event, FailureKind, Migrator, NotExecuted,
    Observer, Recorded, Report, Resolution, Run, RunOptions, SqlProblem, StampReport, TransactionMode,
};
pub use migrate_history::{Direction, Range, Target};
#[cfg(feature = "postgres")]
pub use postgres;
#[cfg(feature = "sqlite")]
pub use rusqlite;
#[cfg(feature = "tokio-postgres")]
pub use tokio_postgres;
pub use url::{DatabaseUrl, MysqlUrl, SslMode, UrlError, UrlProblem, sqlalchemy_driver};
