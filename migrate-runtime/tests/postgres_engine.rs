//! The engine's round trips on PostgreSQL: an up-to-date run asks once and
//! takes no lock, a state is one query, and the one-statement read agrees
//! with the table `create` makes. Needs the server the other database
//! tests use (`MIGRATE_TEST_POSTGRES`, or postgres@127.0.0.1:5432).

#![cfg(feature = "postgres")]

use std::time::Duration;

use migrate_history::{Options, SourceFile};
use migrate_runtime::version_table::VersionTable;
use migrate_runtime::{Database, DatabaseUrl, DbError, Dialect, Error, Migrator, Target, connect};

fn server_url() -> String {
    std::env::var("MIGRATE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn open(url: &str) -> postgres::Client {
    match connect(&DatabaseUrl::parse(url).expect("a valid URL")) {
        Ok(migrate_runtime::Connection::Postgres(client)) => *client,
        Ok(_) => panic!("{url} is not PostgreSQL"),
        Err(e) => panic!("PostgreSQL is not reachable at {url}: {e}; set MIGRATE_TEST_POSTGRES to a server URL"),
    }
}

/// A database of its own, dropped at the end.
struct Scratch {
    name: String,
    url: String,
}

impl Scratch {
    fn create(label: &str) -> Scratch {
        let name = format!("cm_rt_{label}_{}", std::process::id());
        let server = server_url();
        let mut admin = open(&server);
        Database::execute_batch(&mut admin, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).unwrap();
        Database::execute_batch(&mut admin, &format!("CREATE DATABASE \"{name}\"")).unwrap();
        let base = server.split('?').next().unwrap();
        let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        Scratch { name, url }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let mut admin = open(&server_url());
        let _ = Database::execute_batch(&mut admin, &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name));
    }
}

/// A connection that counts the statements (round trips) sent through it.
struct Counting<'c> {
    client: &'c mut postgres::Client,
    sent: Vec<String>,
}

impl Database for Counting<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
    fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.sent.push(sql.to_owned());
        self.client.execute_batch(sql)
    }
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        self.sent.push(sql.to_owned());
        self.client.query_text(sql)
    }
    fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        self.sent.push("try_lock".into());
        self.client.try_lock(key)
    }
    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        self.sent.push("lock".into());
        self.client.lock(key, timeout)
    }
    fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.sent.push("unlock".into());
        self.client.unlock(key)
    }
    fn lock_holder(&mut self, key: i64) -> Option<String> {
        self.sent.push("lock_holder".into());
        self.client.lock_holder(key)
    }
    fn user(&mut self) -> String {
        self.sent.push("user".into());
        self.client.user()
    }
    fn table_columns(&mut self, schema: Option<&str>, table: &str) -> Result<Option<Vec<(String, String)>>, DbError> {
        self.sent.push("table_columns".into());
        self.client.table_columns(schema, table)
    }
}

fn two_revisions() -> Migrator {
    let file = |name: &str, text: &str| SourceFile::new(format!("m/{name}"), text);
    let sources = migrate_history::load::Sources {
        revisions: vec![
            file(
                "a.sql",
                "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (x INT);\n-- migrate:down\nDROP TABLE a;\n",
            ),
            file(
                "b.sql",
                "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\nCREATE TABLE b (x INT);\n-- migrate:down\nDROP TABLE b;\n",
            ),
        ],
        ..Default::default()
    };
    let analysis = migrate_history::analyze(sources, Options::default());
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    Migrator::new(analysis.history).lock_timeout(Duration::from_millis(300))
}

#[test]
fn the_one_statement_read_knows_the_table_create_makes() {
    let db = Scratch::create("layout");
    let mut client = open(&db.url);
    for schema in [None, Some("ops".to_owned())] {
        let table = VersionTable::new(Dialect::Postgres, schema.clone(), None);
        Database::execute_batch(&mut client, &table.create()).unwrap();
        let columns = client.table_columns(schema.as_deref(), &table.name).unwrap().expect("created");
        assert_eq!(columns, VersionTable::postgres_layout());
        let rows = client.query_text(&table.select_current().expect("PostgreSQL")).unwrap();
        assert_eq!(rows, [[Some("public".to_owned()), Some("t".to_owned())]], "{schema:?}: current, and empty");
    }
    // A table an earlier version made is not current: the engine reads it step by step.
    Database::execute_batch(&mut client, "ALTER TABLE migrate_versions DROP COLUMN statements_done").unwrap();
    let table = VersionTable::new(Dialect::Postgres, None, None);
    assert!(client.query_text(&table.select_current().unwrap()).is_err(), "a column is missing");
}

#[test]
fn an_up_to_date_run_is_one_query_without_the_lock() {
    let db = Scratch::create("noop");
    let migrator = two_revisions();
    let mut client = open(&db.url);
    assert_eq!(migrator.run(&mut client).unwrap().applied.len(), 2);

    let mut counting = Counting { client: &mut client, sent: Vec::new() };
    let report = migrator.run(&mut counting).unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(counting.sent.len(), 1, "{:#?}", counting.sent);
    counting.sent.clear();
    assert_eq!(migrator.state(&mut counting).unwrap().heads, ["b"]);
    assert_eq!(counting.sent.len(), 1, "{:#?}", counting.sent);

    // Another session holds the lock: an up-to-date run does not wait for it ...
    let mut holder = open(&db.url);
    let lock_key = lock_key_of(&migrator, &mut holder);
    assert!(holder.try_lock(lock_key).unwrap());
    assert!(migrator.run(&mut client).unwrap().applied.is_empty());
    assert!(migrator.undo_to(&mut client, &Target::parse("b").unwrap()).unwrap().reverted.is_empty());
    // ... and one with work to do does.
    let error = migrator.undo_to(&mut client, &Target::parse("a").unwrap()).unwrap_err();
    assert!(matches!(error, Error::LockTimeout { .. }), "{error}");
    holder.unlock(lock_key).unwrap();
    assert_eq!(migrator.undo_to(&mut client, &Target::parse("a").unwrap()).unwrap().reverted.len(), 1);
}

#[test]
fn a_pending_run_folds_its_reads() {
    let db = Scratch::create("pending");
    let migrator = two_revisions();
    let mut client = open(&db.url);
    migrator.run_to(&mut client, &Target::parse("a").unwrap()).unwrap();
    let mut counting = Counting { client: &mut client, sent: Vec::new() };
    assert_eq!(migrator.run(&mut counting).unwrap().applied.len(), 1);
    let kinds: Vec<&str> = counting
        .sent
        .iter()
        .map(|sql| if sql.contains("BEGIN;\n") { "revision" } else { sql.split_whitespace().next().unwrap() })
        .collect();
    // The read without the lock, the backend (CockroachDB speaks PostgreSQL's
    // protocol but its advisory locks do nothing), the lock, the read under
    // it, the user, one round trip for the revision, the unlock.
    assert_eq!(kinds, ["SELECT", "SELECT", "try_lock", "SELECT", "user", "revision", "unlock"], "{:#?}", counting.sent);
    assert_eq!(counting.sent[1], "SELECT version()");
}

#[test]
fn the_recording_statement_is_prepared_once_and_never_left_behind() {
    let db = Scratch::create("prepared");
    let file = |name: &str, text: &str| SourceFile::new(format!("m/{name}"), text);
    let header = |id: &str, parents: &str, message: &str| {
        format!("-- revision: {id}\n-- parents: {parents}\n-- message: {message}\n\n-- migrate:up\n")
    };
    let sources = migrate_history::load::Sources {
        revisions: vec![
            file("a.sql", &format!("{}CREATE TABLE a (x INT);\n", header("a", "", r"it's a \ quote"))),
            file("b.sql", &format!("{}CREATE TABLE b (x INT);\nCREATE TABLE b2 (x INT);\n", header("b", "a", "b"))),
            file("c.sql", &format!("{}CREATE TABLE c (x INT REFERENCES missing);\n", header("c", "b", "c"))),
        ],
        ..Default::default()
    };
    let migrator = Migrator::new(migrate_history::analyze(sources, Options::default()).history);
    let mut client = open(&db.url);
    let prepared =
        |client: &mut postgres::Client| client.query_text("SELECT name FROM pg_prepared_statements").unwrap();

    let mut counting = Counting { client: &mut client, sent: Vec::new() };
    migrator.run_to(&mut counting, &Target::parse("b").unwrap()).unwrap();
    let batches: Vec<&String> = counting.sent.iter().filter(|sql| sql.contains("BEGIN;")).collect();
    assert_eq!(batches.len(), 2, "{:#?}", counting.sent);
    let name = batches[0].strip_prefix("PREPARE ").and_then(|rest| rest.split(' ').next()).unwrap();
    assert!(name.starts_with("cargo_migrate_record_") && !batches[0].contains("DEALLOCATE"), "{}", batches[0]);
    assert!(batches[1].starts_with("BEGIN;\n"), "{}", batches[1]);
    assert!(batches[1].ends_with(&format!(";\nCOMMIT;\nDEALLOCATE {name};")), "{}", batches[1]);
    assert!(prepared(&mut client).is_empty());
    let state = migrator.state(&mut client).unwrap();
    assert_eq!(state.rows[0].message, r"it's a \ quote");
    assert!(state.rows.iter().all(|row| row.execution_ms.is_some() && row.applied_by.is_some()));

    // A failing revision rolls back, and the statement goes too.
    assert!(matches!(migrator.run(&mut client).unwrap_err(), Error::Statement { .. }));
    assert!(prepared(&mut client).is_empty());
    assert_eq!(migrator.state(&mut client).unwrap().heads, ["b"]);
}

/// The migration lock's key, found as the one a run holds.
fn lock_key_of(migrator: &Migrator, observer: &mut postgres::Client) -> i64 {
    struct Spy<'c> {
        client: &'c mut postgres::Client,
        key: Option<i64>,
    }
    impl Database for Spy<'_> {
        fn dialect(&self) -> Dialect {
            Dialect::Postgres
        }
        fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
            self.client.execute_batch(sql)
        }
        fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
            // Not up to date: the run takes the lock.
            if sql.starts_with("SELECT current_schema(), coalesce(") {
                return Err(DbError::new("read step by step"));
            }
            self.client.query_text(sql)
        }
        fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
            self.key = Some(key);
            self.client.try_lock(key)
        }
        fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
            self.client.lock(key, timeout)
        }
        fn unlock(&mut self, key: i64) -> Result<(), DbError> {
            self.client.unlock(key)
        }
        fn lock_holder(&mut self, key: i64) -> Option<String> {
            self.client.lock_holder(key)
        }
        fn user(&mut self) -> String {
            self.client.user()
        }
        fn table_columns(
            &mut self,
            schema: Option<&str>,
            table: &str,
        ) -> Result<Option<Vec<(String, String)>>, DbError> {
            self.client.table_columns(schema, table)
        }
    }
    let mut spy = Spy { client: observer, key: None };
    migrator.run(&mut spy).unwrap();
    spy.key.expect("the run took the lock")
}

#[test]
fn sixteen_first_runs_racing_to_create_the_lease_table_all_succeed() {
    // PostgreSQL's CREATE TABLE IF NOT EXISTS is not atomic: racing
    // creators see 23505, 42P07 or 42710 ("type ... already exists").
    // Every one of them must go on to take the lease. Several rounds, each
    // on a fresh database, so each round races the creation again.
    for round in 0..4 {
        let db = Scratch::create(&format!("lease_race_{round}"));
        let start = std::sync::Arc::new(std::sync::Barrier::new(16));
        let workers: Vec<_> = (0..16)
            .map(|_| {
                let (url, start) = (db.url.clone(), start.clone());
                std::thread::spawn(move || {
                    let migrator = two_revisions()
                        .lock_strategy(migrate_runtime::LockStrategy::LeaseTable)
                        .lock_timeout(Duration::from_secs(30));
                    let mut client = open(&url);
                    start.wait();
                    migrator.run(&mut client).map(|report| report.applied.len())
                })
            })
            .collect();
        let applied: Vec<_> = workers.into_iter().map(|worker| worker.join().unwrap()).collect();
        let total: usize = applied.iter().map(|result| *result.as_ref().expect("every run succeeds")).sum();
        assert_eq!(total, 2, "round {round}: each revision applied once, {applied:?}");
    }
}
