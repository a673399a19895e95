//! The engine against MariaDB (or MySQL): a small history of its own through
//! a branch and a merge, a failure part-way through a revision, concurrent
//! migrators, dry runs, and the offline script applied with the `mariadb`
//! client. Each test has a database of its own on the server at
//! `MIGRATE_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306/`).

#![cfg(feature = "mysql")]

use std::time::Duration;

use migrate_history::{Options, SourceFile};
use migrate_runtime::mysql::Conn;
use migrate_runtime::{
    Connection, Database, DatabaseUrl, Dialect, Error, Migrator, Range, Resolution, Target, connect,
};

fn server() -> migrate_runtime::MysqlUrl {
    let text = std::env::var("MIGRATE_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/".to_owned());
    match DatabaseUrl::parse(&text) {
        Ok(DatabaseUrl::Mysql(my)) => my,
        other => panic!("MIGRATE_TEST_MYSQL is not a MySQL URL: {other:?}"),
    }
}

fn open(url: &migrate_runtime::MysqlUrl) -> Conn {
    match connect(&DatabaseUrl::Mysql(url.clone())) {
        Ok(Connection::Mysql(conn)) => *conn,
        Ok(other) => panic!("{other:?} is not MySQL"),
        Err(e) => {
            panic!("MariaDB is not reachable at {}: {e}; set MIGRATE_TEST_MYSQL to a server URL", url.redacted_url())
        }
    }
}

/// A database of its own, dropped at the end.
struct Scratch {
    name: String,
    url: migrate_runtime::MysqlUrl,
}

impl Scratch {
    fn create(label: &str) -> Scratch {
        let name = format!("cm_rt_{label}_{}", std::process::id());
        let mut admin = open(&server());
        admin.execute_batch(&format!("DROP DATABASE IF EXISTS `{name}`")).unwrap();
        admin.execute_batch(&format!("CREATE DATABASE `{name}`")).unwrap();
        let url = server().with_database(&name);
        Scratch { name, url }
    }

    fn connect(&self) -> Conn {
        open(&self.url)
    }

    fn tables(&self) -> Vec<String> {
        let rows = self
            .connect()
            .query_text(&format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY TABLE_NAME",
                self.name
            ))
            .unwrap();
        rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
    }

    /// `SHOW CREATE TABLE` of every table: the server's own account of the schema.
    fn schema(&self) -> Vec<String> {
        let mut conn = self.connect();
        self.tables()
            .iter()
            .map(|table| conn.query_text(&format!("SHOW CREATE TABLE `{table}`")).unwrap()[0][1].clone().unwrap())
            .collect()
    }

    /// The version table's rows: revision, checksum, state, statements done.
    fn rows(&self) -> Vec<Vec<Option<String>>> {
        self.connect()
            .query_text("SELECT revision, checksum, state, statements_done FROM migrate_versions ORDER BY revision")
            .unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = open(&server()).execute_batch(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
    }
}

fn history_of(files: &[(&str, &str)]) -> Migrator {
    let sources = migrate_history::load::Sources {
        revisions: files.iter().map(|(name, text)| SourceFile::new(format!("m/{name}"), *text)).collect(),
        ..Default::default()
    };
    let analysis = migrate_history::analyze(sources, Options { allow_multiple_heads: true, ..Options::default() });
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    Migrator::new(analysis.history).lock_timeout(Duration::from_secs(60))
}

fn rev(id: &str, parents: &str, up: &str, down: &str) -> String {
    format!(
        "-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\n{up}\n-- migrate:down\n{down}\n"
    )
}

/// users, then two branches (orders; a procedure and a trigger whose bodies
/// hold `;`, between DELIMITER lines), merged.
fn example() -> Migrator {
    let users = rev(
        "users",
        "",
        "CREATE TABLE users (id BIGINT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(255) NOT NULL) ENGINE=InnoDB;\n\
         INSERT INTO users (email) VALUES ('it''s@example.com'), ('a\\\\b@example.com');",
        "DROP TABLE users;",
    );
    let orders = rev(
        "orders",
        "users",
        "CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL,\n  CONSTRAINT orders_user FOREIGN KEY (user_id) REFERENCES users (id));\n\
         CREATE INDEX orders_by_user ON orders (user_id);",
        "DROP TABLE orders;",
    );
    let audit = rev(
        "audit",
        "users",
        "CREATE TABLE audit (id BIGINT PRIMARY KEY AUTO_INCREMENT, note TEXT NOT NULL); # a comment; still one\n\
         DELIMITER $$\n\
         CREATE TRIGGER users_audit AFTER INSERT ON users FOR EACH ROW\nBEGIN\n  INSERT INTO audit (note) VALUES (CONCAT('user; ', NEW.email));\nEND$$\n\
         CREATE PROCEDURE count_users(OUT n INT)\nBEGIN\n  SELECT COUNT(*) INTO n FROM users;\nEND $$\n\
         DELIMITER ;\n\
         INSERT INTO users (email) VALUES ('c@example.com');",
        "DROP PROCEDURE count_users;\nDROP TRIGGER users_audit;\nDROP TABLE audit;",
    );
    let merge = rev(
        "merged",
        "orders, audit",
        "ALTER TABLE users ADD COLUMN name VARCHAR(100);",
        "ALTER TABLE users DROP COLUMN name;",
    );
    history_of(&[("users.sql", &users), ("orders.sql", &orders), ("audit.sql", &audit), ("merged.sql", &merge)])
}

fn target(text: &str) -> Target {
    Target::parse(text).unwrap()
}

fn up(m: &Migrator, db: &mut Conn, t: &str) -> Result<Vec<String>, Error> {
    m.run_to(db, &target(t)).map(|r| r.ran().iter().map(|a| a.id.clone()).collect())
}

fn down(m: &Migrator, db: &mut Conn, t: &str) -> Result<Vec<String>, Error> {
    m.undo_to(db, &target(t)).map(|r| r.ran().iter().map(|a| a.id.clone()).collect())
}

#[test]
fn up_and_down_through_a_branch_and_a_merge() {
    let m = example();
    let scratch = Scratch::create("branch");
    let mut db = scratch.connect();
    assert_eq!(up(&m, &mut db, "orders").unwrap(), ["users", "orders"]);
    assert_eq!(up(&m, &mut db, "heads").unwrap(), ["audit", "merged"]);
    assert!(up(&m, &mut db, "heads").unwrap().is_empty(), "nothing left to do");
    assert_eq!(scratch.tables(), ["audit", "migrate_versions", "orders", "users"]);
    // The bodies that hold `;` were created whole, and work.
    let n = db.query_text("CALL count_users(@n); SELECT @n").unwrap();
    assert_eq!(n.last().unwrap()[0].as_deref(), Some("3"));
    let notes = db.query_text("SELECT note FROM audit").unwrap();
    assert_eq!(notes, [[Some("user; c@example.com".to_owned())]]);
    let state = m.state(&mut db).unwrap();
    assert_eq!(state.heads, ["merged"]);
    assert!(state.rows.iter().all(|r| r.state.as_str() == "applied" && r.statements_done.is_none()));
    assert!(state.rows.iter().all(|r| r.applied_by.as_deref().is_some_and(|who| who.starts_with("root@"))));
    assert!(state.rows.iter().all(|r| r.execution_ms.is_some()));

    assert!(down(&m, &mut db, "-1").unwrap_err().to_string().contains("merge point"));
    assert_eq!(down(&m, &mut db, "orders").unwrap(), ["merged"], "the other branch stays");
    assert_eq!(m.state(&mut db).unwrap().heads, ["audit", "orders"]);
    assert_eq!(down(&m, &mut db, "users").unwrap().len(), 2, "both branches");
    assert_eq!(scratch.tables(), ["migrate_versions", "users"]);
    down(&m, &mut db, "base").unwrap();
    assert_eq!(scratch.tables(), ["migrate_versions"]);
    assert!(db.query_text("SHOW PROCEDURE STATUS WHERE Db = DATABASE()").unwrap().is_empty());
    assert!(m.state(&mut db).unwrap().rows.is_empty());
}

#[test]
fn a_failure_part_way_is_recorded_with_the_statements_done_and_blocks_until_resolved() {
    // `transaction: true` (the default), but MySQL commits DDL implicitly:
    // the revision runs statement by statement, with a `running` row first.
    let m = history_of(&[
        (
            "a.sql",
            &rev(
                "a",
                "",
                "CREATE TABLE a (id INT);\nINSERT INTO a VALUES (1);\nCREATE TABLE a (id INT);\nCREATE TABLE never (id INT);",
                "DROP TABLE a;",
            ),
        ),
        ("b.sql", &rev("b", "a", "CREATE TABLE b (id INT);", "DROP TABLE b;")),
    ]);
    let scratch = Scratch::create("failure");
    let mut db = scratch.connect();
    let error = up(&m, &mut db, "heads").unwrap_err();
    let Error::Statement { line, recorded_failure, .. } = &error else { panic!("{error}") };
    assert_eq!((*line, *recorded_failure), (8, true), "{error}");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(scratch.tables(), ["a", "migrate_versions"], "what ran stays: DDL commits");
    let rows = scratch.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0][2].as_deref(), rows[0][3].as_deref()), (Some("failed"), Some("2")));
    let state = m.state(&mut db).unwrap();
    assert_eq!(state.failed.len(), 1);
    assert!(state.failed[0].error.as_deref().unwrap().contains("line 8"), "{:?}", state.failed[0].error);

    let blocked = up(&m, &mut db, "heads").unwrap_err();
    assert!(matches!(blocked, Error::Unsettled { statements_done: Some(2), .. }), "{blocked}");
    db.execute_batch("CREATE TABLE never (id INT)").unwrap();
    m.resolve(&mut db, "a", Resolution::Applied).unwrap();
    assert_eq!(up(&m, &mut db, "heads").unwrap(), ["b"]);
}

#[test]
fn eight_concurrent_migrators_apply_each_revision_once() {
    let files: Vec<(String, String)> = (0..6)
        .map(|i| {
            let parent = if i == 0 { String::new() } else { format!("r{}", i - 1) };
            let up = format!(
                "CREATE TABLE t{i} (id INT);\nINSERT INTO t{i} VALUES ({i});\nCREATE INDEX t{i}_id ON t{i} (id);"
            );
            (format!("r{i}.sql"), rev(&format!("r{i}"), &parent, &up, &format!("DROP TABLE t{i};")))
        })
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let m = std::sync::Arc::new(history_of(&files));
    let scratch = Scratch::create("concurrent");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (m, url) = (m.clone(), scratch.url.clone());
            std::thread::spawn(move || m.run(&mut open(&url)).map(|r| r.applied.len()))
        })
        .collect();
    let applied: usize = threads.into_iter().map(|t| t.join().unwrap().expect("no migrator fails")).sum();
    assert_eq!(applied, 6, "each revision ran exactly once");
    let rows = scratch.rows();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r[2].as_deref() == Some("applied")));
    let counts = scratch.connect().query_text("SELECT (SELECT COUNT(*) FROM t0) + (SELECT COUNT(*) FROM t5)").unwrap();
    assert_eq!(counts[0][0].as_deref(), Some("2"), "each INSERT ran once");
}

#[test]
fn a_waiting_migrator_names_the_holder_and_times_out() {
    let m = history_of(&[("a.sql", &rev("a", "", "CREATE TABLE a (id INT);", "DROP TABLE a;"))])
        .lock_timeout(Duration::from_millis(300));
    let scratch = Scratch::create("lock");
    let mut holder = scratch.connect();
    let mut waiter = scratch.connect();
    // The key is the migrator's; take it from the other session as the engine would.
    let key = lock_key(&m, &scratch);
    assert!(holder.try_lock(key).unwrap());
    assert!(!waiter.try_lock(key).unwrap());
    let who = waiter.lock_holder(key).expect("a holder");
    assert!(who.starts_with("server connection "), "{who}");
    let error = m.run(&mut waiter).unwrap_err();
    assert!(matches!(error, Error::LockTimeout { .. }), "{error}");
    holder.unlock(key).unwrap();
    assert_eq!(m.run(&mut waiter).unwrap().applied.len(), 1);
    // Named locks are server-wide: another database's migrator is not held up.
    let other = Scratch::create("lock_other");
    assert!(holder.try_lock(key).unwrap());
    assert_eq!(m.run(&mut other.connect()).unwrap().applied.len(), 1);
}

/// The migration lock's key for `m`: found by holding it while a run waits.
fn lock_key(m: &Migrator, scratch: &Scratch) -> i64 {
    // The engine's key is private: a connection that refuses every lock
    // says which key the run asks for.
    let mut runner = scratch.connect();
    let (tx, rx) = std::sync::mpsc::channel();
    struct Spy<'c>(&'c mut Conn, std::sync::mpsc::Sender<i64>);
    impl Database for Spy<'_> {
        fn dialect(&self) -> Dialect {
            Dialect::Mysql
        }
        fn execute_batch(&mut self, sql: &str) -> Result<(), migrate_runtime::DbError> {
            self.0.execute_batch(sql)
        }
        fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, migrate_runtime::DbError> {
            self.0.query_text(sql)
        }
        fn try_lock(&mut self, key: i64) -> Result<bool, migrate_runtime::DbError> {
            let _ = self.1.send(key);
            Ok(false)
        }
        fn lock(&mut self, _: i64, _: Option<Duration>) -> Result<bool, migrate_runtime::DbError> {
            Ok(false)
        }
        fn unlock(&mut self, _: i64) -> Result<(), migrate_runtime::DbError> {
            Ok(())
        }
        fn lock_holder(&mut self, _: i64) -> Option<String> {
            None
        }
        fn user(&mut self) -> String {
            self.0.user()
        }
        fn table_columns(
            &mut self,
            schema: Option<&str>,
            table: &str,
        ) -> Result<Option<Vec<(String, String)>>, migrate_runtime::DbError> {
            self.0.table_columns(schema, table)
        }
    }
    let _ = m.run(&mut Spy(&mut runner, tx));
    rx.recv().expect("the run asked for the lock")
}

#[test]
fn a_dry_run_is_refused_where_ddl_would_commit_and_allowed_without_ddl() {
    let m = history_of(&[
        ("a.sql", &rev("a", "", "CREATE TABLE a (id INT);", "DROP TABLE a;")),
        ("b.sql", &rev("b", "a", "INSERT INTO a VALUES (1);\nUPDATE a SET id = 2;", "DELETE FROM a;")),
    ]);
    let scratch = Scratch::create("dry");
    let mut db = scratch.connect();
    let error = m.upgrade(&target("heads")).dry_run(true).apply(&mut db).unwrap_err();
    let Error::InvalidSql { problems } = &error else { panic!("{error}") };
    let said: Vec<String> = problems.iter().map(|p| format!("{} {}: {}", p.id, p.line, p.message)).collect();
    assert_eq!(
        said,
        [
            "a 6: `CREATE` commits on MySQL and MariaDB, and nothing rolls it back: a dry run would apply it",
            "a 1: recording it needs `CREATE TABLE` on the version table first, which commits on MySQL and MariaDB: a dry run would apply it",
        ]
    );
    assert!(scratch.tables().is_empty(), "nothing ran");
    up(&m, &mut db, "a").unwrap();
    let report = m.upgrade(&target("heads")).dry_run(true).apply(&mut db).unwrap();
    assert_eq!(report.ran().len(), 1, "b ran and was rolled back");
    assert!(db.query_text("SELECT * FROM a").unwrap().is_empty());
    assert_eq!(m.state(&mut db).unwrap().heads, ["a"]);
}

#[test]
fn the_offline_script_applied_with_the_mariadb_client_matches_an_online_run() {
    let m = example();
    let script = m.script(&Range::parse("base:heads").unwrap(), Dialect::Mysql).unwrap();
    assert!(script.contains("DELIMITER $$\nCREATE TRIGGER users_audit"), "{script}");
    let offline = Scratch::create("offline");
    apply_with_client(&offline, &script);

    let online = Scratch::create("online");
    up(&m, &mut online.connect(), "heads").unwrap();
    assert_eq!(offline.schema(), online.schema());
    assert_eq!(offline.rows(), online.rows());
    let routines = |s: &Scratch| {
        s.connect()
            .query_text(&format!(
                "SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{}' \
                 UNION ALL SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{}'",
                s.name, s.name
            ))
            .unwrap()
    };
    assert_eq!(routines(&offline), routines(&online));
    assert_eq!(routines(&online).len(), 2);
    // And back down, offline too.
    let undo = m.undo_script(&Range::parse("heads:base").unwrap(), Dialect::Mysql).unwrap();
    apply_with_client(&offline, &undo);
    assert_eq!(offline.tables(), ["migrate_versions"]);
    assert!(offline.rows().is_empty());
}

/// Runs `script` with the `mariadb` client (`--batch`: it stops at the first error).
fn apply_with_client(scratch: &Scratch, script: &str) {
    use std::io::Write;
    let url = &scratch.url;
    let mut client = std::process::Command::new("mariadb")
        .args(["--batch", "-h", &url.host, "-P", &url.port.to_string(), "-u", &url.user, &scratch.name])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the mariadb client is installed");
    client.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = client.wait_with_output().unwrap();
    assert!(output.status.success(), "{}\n{script}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_batch_reports_a_failure_in_a_later_statement_and_the_lock_is_per_database() {
    let scratch = Scratch::create("batch");
    let mut db = scratch.connect();
    let error = db.execute_batch("CREATE TABLE t (x INT); INSERT INTO missing VALUES (1)").unwrap_err();
    assert_eq!(error.code.as_deref(), Some("42S02"), "{error:?}");
    assert!(error.message.contains("missing"), "{error:?}");
    assert_eq!(scratch.tables(), ["t"], "the first statement ran");
    let columns = db.table_columns(None, "t").unwrap().expect("t exists");
    assert!(matches!(columns.as_slice(), [(x, int)] if x == "x" && int.starts_with("int")), "{columns:?}");
    assert_eq!(db.table_columns(None, "nothing").unwrap(), None);
    assert_eq!(db.user(), "root");
    // The same key in another database is another lock.
    let other = Scratch::create("batch_other");
    assert!(db.try_lock(7).unwrap());
    assert!(other.connect().try_lock(7).unwrap());
    assert!(!scratch.connect().try_lock(7).unwrap());
    db.unlock(7).unwrap();
    assert!(scratch.connect().try_lock(7).unwrap());
}
