//! The backend is detected at run time, not taken from the URL scheme: a
//! PostgreSQL connection whose `SELECT version()` says CockroachDB is locked
//! with the lease table (its advisory locks would do nothing), and advisory
//! locks asked for on it are refused. CockroachDB cannot be installed here:
//! a real PostgreSQL connection answers `version()` as CockroachDB does.

#![cfg(feature = "postgres")]

use std::time::Duration;

use migrate_history::{Options, SourceFile};
use migrate_runtime::{Database, DatabaseUrl, DbError, Dialect, Error, LockStrategy, Migrator, connect};

/// PostgreSQL answering `SELECT version()` as CockroachDB 24.1 does, and
/// counting the advisory-lock calls made through it.
struct PretendCockroach {
    client: postgres::Client,
    advisory_calls: usize,
}

impl Database for PretendCockroach {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.execute_batch(sql)
    }
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        if sql == "SELECT version()" {
            return Ok(vec![vec![Some("CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu, built 2024/05/15)".to_owned())]]);
        }
        self.client.query_text(sql)
    }
    fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        self.advisory_calls += 1;
        self.client.try_lock(key)
    }
    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        self.advisory_calls += 1;
        self.client.lock(key, timeout)
    }
    fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.advisory_calls += 1;
        self.client.unlock(key)
    }
    fn lock_holder(&mut self, key: i64) -> Option<String> {
        self.client.lock_holder(key)
    }
    fn user(&mut self) -> String {
        self.client.user()
    }
    fn table_columns(&mut self, schema: Option<&str>, table: &str) -> Result<Option<Vec<(String, String)>>, DbError> {
        self.client.table_columns(schema, table)
    }
}

fn open(url: &str) -> postgres::Client {
    match connect(&DatabaseUrl::parse(url).expect("a valid URL")) {
        Ok(migrate_runtime::Connection::Postgres(client)) => *client,
        _ => panic!("PostgreSQL is not reachable at {url}; set MIGRATE_TEST_POSTGRES to a server URL"),
    }
}

fn scratch() -> (PretendCockroach, String, String) {
    let server =
        std::env::var("MIGRATE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("cm_rt_backend_{}_{}", std::process::id(), rand_suffix());
    let mut admin = open(&server);
    Database::execute_batch(&mut admin, &format!("CREATE DATABASE \"{name}\"")).unwrap();
    let base = server.split('?').next().unwrap();
    let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
    (PretendCockroach { client: open(&url), advisory_calls: 0 }, server, name)
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
}

fn drop_database(server: &str, name: &str) {
    let mut admin = open(server);
    let _ = Database::execute_batch(&mut admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
}

fn one_revision() -> Migrator {
    let sources = migrate_history::load::Sources {
        revisions: vec![SourceFile::new(
            "m/a.sql",
            "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (x INT);\n",
        )],
        ..Default::default()
    };
    let analysis = migrate_history::analyze(sources, Options::default());
    Migrator::new(analysis.history)
}

#[test]
fn a_database_that_says_it_is_cockroachdb_is_locked_with_the_lease_table() {
    let (mut db, server, name) = scratch();
    let report = one_revision().run(&mut db);
    let lease_rows = db.client.query_text("SELECT count(*) FROM migrate_versions_lock");
    let calls = db.advisory_calls;
    drop(db);
    drop_database(&server, &name);
    assert_eq!(report.unwrap().applied.len(), 1);
    assert_eq!(calls, 0, "no advisory lock was taken");
    assert_eq!(lease_rows.unwrap(), [[Some("0".to_owned())]], "the lease was taken and released");
}

#[test]
fn advisory_locks_asked_for_on_cockroachdb_are_refused() {
    let (mut db, server, name) = scratch();
    let error = one_revision().lock_strategy(LockStrategy::Advisory).run(&mut db).unwrap_err();
    drop(db);
    drop_database(&server, &name);
    assert!(matches!(error, Error::UnsafeLock { backend: "CockroachDB", .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "CockroachDB cannot be locked with advisory locks: its advisory locks do not exclude other sessions; it needs the lease table"
    );
}
