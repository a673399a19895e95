//! Regression tests for what an outside audit found (issue #8): offline
//! scripts that could be broken out of, SQL skipped silently, revisions
//! interrupted without a trace, replays, lock waits and Ctrl-C.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::support::TestDatabase;

use crate::{assert_exit, cargo_migrate, redacted};

/// A revision file.
pub(crate) fn rev(id: &str, parents: &str, header: &str, up: &str) -> String {
    format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n{header}\n-- migrate:up\n{up}\n")
}

/// A project directory with `migrations/` holding `revisions` (file name, text).
pub(crate) fn project(revisions: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    for (name, text) in revisions {
        std::fs::write(dir.path().join("migrations").join(name), text).unwrap();
    }
    dir
}

pub(crate) fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations", "--database-url", url]);
    cargo_migrate(dir, &all)
}

pub(crate) fn spawn(dir: &Path, url: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(args)
        .args(["--dir", "migrations", "--database-url", url])
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 60 s) until `ready` holds.
pub(crate) fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    assert!(Command::new("kill").args([name, &child.id().to_string()]).status().unwrap().success());
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("app.db").display())
}

fn sqlite(dir: &Path, sql: &str) -> String {
    let output = Command::new("sqlite3").arg(dir.join("app.db")).arg(sql).output().expect("sqlite3 is installed");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs an offline script with psql, as the script's header says to.
fn psql_script(dir: &Path, db: &TestDatabase, script: &str) {
    let file = dir.join("script.sql");
    std::fs::write(&file, script).unwrap();
    let psql = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
}

fn rows(db: &TestDatabase, sql: &str) -> Vec<Vec<String>> {
    db.query(sql).into_iter().map(|row| row.into_iter().map(Option::unwrap_or_default).collect()).collect()
}

/// A file name that would end the script's `-- Applying` comment. (A
/// message cannot: a control character in a header line is refused when the
/// file is parsed, and comments are made safe all the same.)
fn hostile_history() -> tempfile::TempDir {
    project(&[("aaaa_x\rDROP TABLE canary;\n.sql", rev("aaaa", "", "", "CREATE TABLE a (id INT);"))])
}

#[test]
fn offline_script_for_postgres_keeps_file_names_and_messages_inside_comments() {
    let db = TestDatabase::create("inject");
    let dir = hostile_history();
    db.query("CREATE TABLE canary (x INT)");
    let (script, _) = assert_exit(&run(dir.path(), &db.url, &["upgrade", "--sql"]), 0);
    assert!(script.contains("-- Applying aaaa: aaaa (migrations/aaaa_x\\rDROP TABLE canary;\\n.sql)\n"), "{script}");
    psql_script(dir.path(), &db, &script);
    assert_eq!(db.tables(), ["a", "canary", "migrate_versions"]);
    assert_eq!(rows(&db, "SELECT revision, message FROM migrate_versions"), [["aaaa", "aaaa"]]);
}

#[test]
fn offline_script_for_sqlite_keeps_file_names_and_messages_inside_comments() {
    let dir = hostile_history();
    sqlite(dir.path(), "CREATE TABLE canary (x INT)");
    let (script, _) = assert_exit(&run(dir.path(), &sqlite_url(dir.path()), &["upgrade", "--sql"]), 0);
    let output = Command::new("sqlite3")
        .args(["-bail"])
        .arg(dir.path().join("app.db"))
        .stdin(
            std::fs::File::open({
                let file = dir.path().join("script.sql");
                std::fs::write(&file, &script).unwrap();
                file
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        sqlite(dir.path(), "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
        "a\ncanary\nmigrate_versions\n"
    );
}

#[test]
fn a_last_statement_ending_in_a_comment_with_a_semicolon_runs_online_and_offline() {
    let online = TestDatabase::create("tailon");
    let offline = TestDatabase::create("tailoff");
    let dir = project(&[("a.sql", rev("aaaa", "", "", "CREATE TABLE t (x INT) -- the end; really"))]);
    assert_exit(&run(dir.path(), &online.url, &["upgrade"]), 0);
    let (script, _) = assert_exit(&run(dir.path(), &offline.url, &["upgrade", "--sql"]), 0);
    assert!(script.contains("BEGIN;\nCREATE TABLE t (x INT);\nINSERT INTO"), "{script}");
    psql_script(dir.path(), &offline, &script);
    assert_eq!(online.tables(), ["migrate_versions", "t"]);
    assert_eq!(offline.tables(), ["migrate_versions", "t"]);
}

#[test]
fn postgres_ends_a_line_comment_at_a_carriage_return_outside_a_transaction() {
    let db = TestDatabase::create("cr");
    let up = "-- note\rCREATE TABLE t (x INT);\nCREATE TABLE u (y INT);";
    let dir = project(&[("a.sql", rev("aaaa", "", "-- transaction: false\n", up))]);
    assert_exit(&run(dir.path(), &db.url, &["upgrade"]), 0);
    assert_eq!(db.tables(), ["migrate_versions", "t", "u"]);
    assert_eq!(rows(&db, "SELECT state, statements_done FROM migrate_versions"), [["applied", ""]]);
}

#[test]
fn sqlite_refuses_an_unclosed_comment_naming_its_line_and_runs_nothing() {
    let up = "CREATE TABLE t (x INT);\n/* the rest is commented out by mistake\nCREATE TABLE u (y INT);";
    let dir = project(&[
        ("a.sql", rev("aaaa", "", "", "CREATE TABLE a (x INT);")),
        ("b.sql", rev("bbbb", "aaaa", "-- transaction: false\n", up)),
    ]);
    let url = sqlite_url(dir.path());
    insta::assert_snapshot!(redacted(&run(dir.path(), &url, &["upgrade"]), &[]), @r"
    exit: 101
    --- stdout
    --- stderr
    error: revision `bbbb`: this `/*` comment is never closed with `*/` (SQLite rules)
     --> migrations/b.sql:8:1
      |
    8 | /* the rest is commented out by mistake
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: close it: otherwise the database would ignore or misread everything after it
    ");
    assert_eq!(sqlite(dir.path(), "SELECT name FROM sqlite_master WHERE type = 'table'"), "");
    insta::assert_snapshot!(redacted(&run(dir.path(), &url, &["upgrade", "--sql"]), &[]), @r"
    exit: 101
    --- stdout
    --- stderr
    error: revision `bbbb`: this `/*` comment is never closed with `*/` (SQLite rules)
     --> migrations/b.sql:8:1
      |
    8 | /* the rest is commented out by mistake
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: close it: otherwise the database would ignore or misread everything after it
    ");
}

#[test]
fn sqlite_trigger_bodies_with_end_in_strings_and_identifiers_stay_whole() {
    let up = "CREATE TABLE t (x TEXT, \"end\" TEXT);\nCREATE TABLE log (note TEXT);\n\
              CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES ('the end');\n  \
              INSERT INTO log SELECT CASE WHEN new.\"end\" = 'BEGIN' THEN 'case' ELSE 'else' END;\nEND;\n\
              INSERT INTO t VALUES ('x', 'BEGIN');";
    let dir = project(&[("a.sql", rev("aaaa", "", "", up))]);
    assert_exit(&run(dir.path(), &sqlite_url(dir.path()), &["upgrade"]), 0);
    assert_eq!(sqlite(dir.path(), "SELECT note FROM log ORDER BY rowid"), "the end\ncase\n");
}

/// aaaa ← bbbb (`transaction: false`) ← cccc; aaaa ← dddd; merge eeee (cccc, dddd).
fn branch_with_a_non_transactional_revision() -> tempfile::TempDir {
    project(&[
        ("a.sql", rev("aaaa", "", "", "CREATE TABLE a (x INT);")),
        ("b.sql", rev("bbbb", "aaaa", "-- transaction: false\n", "CREATE TABLE b (x INT);")),
        ("c.sql", rev("cccc", "bbbb", "", "CREATE TABLE c (x INT);")),
        ("d.sql", rev("dddd", "aaaa", "", "CREATE TABLE d (x INT);")),
        ("e.sql", rev("eeee", "cccc, dddd", "", "CREATE TABLE e (x INT);")),
    ])
}

#[test]
fn dry_run_executes_every_transactional_revision_it_can_and_names_the_rest() {
    let dir = branch_with_a_non_transactional_revision();
    let url = sqlite_url(dir.path());
    insta::assert_snapshot!(redacted(&run(dir.path(), &url, &["upgrade", "--dry-run"]), &[]), @r"
    exit: 0
    --- stdout
    --- stderr
        Applying aaaa aaaa
    warning: bbbb was not executed: it has `transaction: false`, which cannot run inside the dry run's transaction
    warning: cccc was not executed: it builds on bbbb, which has `transaction: false` and was not executed
        Applying dddd dddd
    warning: eeee was not executed: it builds on bbbb, which has `transaction: false` and was not executed
         Dry run executed 2 revisions in [TIME] and rolled everything back: nothing was committed; 3 revisions not executed (see the warnings above)
    ");
    assert!(!dir.path().join("app.db").exists(), "a dry run creates no database file");
}

#[test]
fn strict_dry_run_fails_when_something_was_not_executed() {
    let dir = branch_with_a_non_transactional_revision();
    let url = sqlite_url(dir.path());
    insta::assert_snapshot!(redacted(&run(dir.path(), &url, &["upgrade", "--dry-run", "--strict", "-q"]), &[]), @r"
    exit: 1
    --- stdout
    --- stderr
    error: --strict: the dry run could not execute 3 revisions
      help: `transaction: false` revisions cannot be rolled back; review their SQL with `cargo migrate upgrade --sql`
    ");
}

#[test]
fn a_transaction_false_revision_killed_between_statements_leaves_a_running_row() {
    let db = TestDatabase::create("killed");
    let up = "CREATE TABLE k1 (x INT);\nSELECT pg_sleep(60);\nCREATE TABLE k2 (x INT);";
    let dir = project(&[("k.sql", rev("kkkk", "", "-- transaction: false\n", up))]);
    let mut child = spawn(dir.path(), &db.url, &["upgrade"]);
    wait_for("the first statement", || {
        db.query("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0].as_deref()
            == Some("1")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = Instant::now();
    // The server notices the dead client and ends its statement.
    wait_for("the server to end the statement", || {
        db.query("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0].as_deref()
            == Some("0")
    });
    assert!(killed.elapsed() < Duration::from_secs(30), "the server noticed the dead client late");
    assert_eq!(rows(&db, "SELECT state, statements_done FROM migrate_versions"), [["running", "1"]]);
    assert_eq!(db.tables(), ["k1", "migrate_versions"]);
    insta::assert_snapshot!(redacted(&run(dir.path(), &db.url, &["upgrade"]), &[]), @r"
    exit: 4
    --- stdout
    --- stderr
    error: revision `kkkk` is marked running (interrupted: 1 statement(s) finished, the next one may have run in part) in the version table
      help: it was interrupted part-way (the process died or was killed) in an earlier run, outside a transaction; finish or undo its statements by hand, then `cargo migrate resolve kkkk --applied` (it is in effect) or `--rolled-back` (it is not)
    ");
    db.query("DROP TABLE k1");
    let quick =
        std::fs::read_to_string(dir.path().join("migrations/k.sql")).unwrap().replace("pg_sleep(60)", "pg_sleep(0)");
    std::fs::write(dir.path().join("migrations/k.sql"), quick).unwrap();
    assert_exit(&run(dir.path(), &db.url, &["resolve", "kkkk", "--rolled-back"]), 0);
    assert_exit(&run(dir.path(), &db.url, &["upgrade"]), 0);
    assert_eq!(db.tables(), ["k1", "k2", "migrate_versions"]);
}

#[test]
fn a_failing_postgres_revision_is_executed_once() {
    let db = TestDatabase::create("once");
    let dir = project(&[
        ("a.sql", rev("aaaa", "", "", "CREATE SEQUENCE side_effects;")),
        (
            "b.sql",
            rev("bbbb", "aaaa", "", "SELECT nextval('side_effects');\nSELECT 1;\nINSERT INTO missing VALUES (1);"),
        ),
    ]);
    insta::assert_snapshot!(redacted(&run(dir.path(), &db.url, &["upgrade", "-q"]), &[]), @r#"
    exit: 101
    --- stdout
    --- stderr
    error: revision `bbbb` failed: relation "missing" does not exist
     --> migrations/b.sql:8:1
      |
    8 | INSERT INTO missing VALUES (1);
      | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: nothing of this revision was applied; fix it and run the upgrade again
    "#);
    // Sequences are not rolled back: one call means one execution.
    assert_eq!(rows(&db, "SELECT last_value FROM side_effects"), [["1"]]);
}

#[test]
fn a_failing_postgres_statement_without_a_position_is_named_by_its_line() {
    let db = TestDatabase::create("position");
    let up = "CREATE TABLE t (x INT PRIMARY KEY);\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);\nSELECT 2;";
    let dir = project(&[("a.sql", rev("aaaa", "", "", up))]);
    insta::assert_snapshot!(redacted(&run(dir.path(), &db.url, &["upgrade", "-q"]), &[]), @r#"
    exit: 101
    --- stdout
    --- stderr
    error: revision `aaaa` failed: duplicate key value violates unique constraint "t_pkey" (Key (x)=(1) already exists.)
     --> migrations/a.sql:8:1
      |
    8 | INSERT INTO t VALUES (1);
      | ^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: nothing of this revision was applied; fix it and run the upgrade again
    "#);
    assert_eq!(db.tables(), ["migrate_versions"]);
}

#[test]
fn transaction_control_inside_a_transactional_revision_is_refused() {
    let dir = project(&[("a.sql", rev("aaaa", "", "", "CREATE TABLE a (x INT);\nCOMMIT;\nCREATE TABLE b (x INT);"))]);
    let url = sqlite_url(dir.path());
    insta::assert_snapshot!(redacted(&run(dir.path(), &url, &["upgrade"]), &[]), @r"
    exit: 101
    --- stdout
    --- stderr
    error: revision `aaaa`: `COMMIT` inside a revision that runs in its own transaction would end that transaction part-way
     --> migrations/a.sql:7:1
      |
    7 | COMMIT;
      | ^^^^^^^
      |
      = help: remove it; or, if the revision must control its transactions, add `-- transaction: false` to its header
    ");
    assert!(!dir.path().join("app.db").exists() || sqlite(dir.path(), "SELECT name FROM sqlite_master").is_empty());
}

/// A holder that keeps the migration lock while its revision sleeps.
pub(crate) fn holding_the_lock(db: &TestDatabase, seconds: u32) -> (tempfile::TempDir, Child) {
    let dir = project(&[("a.sql", rev("aaaa", "", "", &format!("SELECT pg_sleep({seconds});")))]);
    let child = spawn(dir.path(), &db.url, &["upgrade"]);
    let sleeping = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep({seconds})%' AND pid <> pg_backend_pid()"
    );
    wait_for("the holder", || db.query(&sleeping)[0][0].as_deref() == Some("1"));
    (dir, child)
}

#[test]
fn lock_timeout_gives_up_and_names_the_holder() {
    let db = TestDatabase::create("locktimeout");
    let (dir, mut holder) = holding_the_lock(&db, 20);
    let output = run(dir.path(), &db.url, &["upgrade", "--lock-timeout", "1s"]);
    let pid =
        rows(&db, "SELECT pid FROM pg_stat_activity WHERE query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let text = redacted(&output, &[(&pid[0][0], "[PID]")]);
    let text = text.split(", active for ").next().unwrap().to_owned();
    insta::assert_snapshot!(text, @r"
    exit: 4
    --- stdout
    --- stderr
         Waiting for the migration lock, held by `server process [PID] (cargo-migrate as postgres from 127.0.0.1)
    ");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: the migration lock was not free within 1 s; it is held by server process"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("help: another migration is running; wait for it, or raise `--lock-timeout`\n"),
        "{stderr}"
    );
}

#[test]
fn a_holder_killed_inside_a_long_statement_releases_the_lock_within_seconds() {
    let db = TestDatabase::create("lockkilled");
    let (dir, mut holder) = holding_the_lock(&db, 600);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let started = Instant::now();
    // Without client_connection_check_interval the server would go on
    // sleeping, holding the lock, for ten minutes.
    let (_, stderr) = assert_exit(&run(dir.path(), &db.url, &["stamp", "aaaa", "--lock-timeout", "30s"]), 0);
    assert!(stderr.contains("Stamped"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_version_table_from_an_earlier_version_is_upgraded_in_place() {
    let db = TestDatabase::create("oldtable");
    db.query(
        "CREATE TABLE migrate_versions (revision VARCHAR(255) NOT NULL PRIMARY KEY, checksum VARCHAR(80) NOT NULL, \
         message TEXT NOT NULL, state VARCHAR(16) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         execution_ms BIGINT, applied_by TEXT, error TEXT)",
    );
    let dir = project(&[
        ("a.sql", rev("aaaa", "", "", "CREATE TABLE a (x INT);")),
        ("b.sql", rev("bbbb", "aaaa", "", "CREATE TABLE b (x INT);")),
    ]);
    assert_exit(&run(dir.path(), &db.url, &["stamp", "aaaa"]), 0);
    let (stdout, _) = assert_exit(&run(dir.path(), &db.url, &["status"]), 0);
    assert!(stdout.contains("current:       aaaa"), "{stdout}");
    assert_exit(&run(dir.path(), &db.url, &["upgrade"]), 0);
    let columns = rows(
        &db,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'migrate_versions' \
         AND column_name IN ('applied_at', 'statements_done') ORDER BY column_name",
    );
    assert_eq!(columns, [["applied_at", "timestamp with time zone"], ["statements_done", "bigint"]]);
    assert_eq!(
        rows(&db, "SELECT revision, state FROM migrate_versions ORDER BY revision"),
        [["aaaa", "stamped"], ["bbbb", "applied"]]
    );
}

#[test]
fn the_first_ctrl_c_finishes_the_revision_in_progress_and_exits_130() {
    let db = TestDatabase::create("ctrlc");
    let dir = project(&[
        ("a.sql", rev("aaaa", "", "", "SELECT pg_sleep(2);\nCREATE TABLE a (x INT);")),
        ("b.sql", rev("bbbb", "aaaa", "", "CREATE TABLE b (x INT);")),
    ]);
    let child = spawn(dir.path(), &db.url, &["upgrade"]);
    wait_for("the first revision", || {
        db.query("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()")
            [0][0]
            .as_deref()
            == Some("1")
    });
    signal(&child, "-INT");
    let output = child.wait_with_output().unwrap();
    insta::assert_snapshot!(redacted(&output, &[]), @r"
    exit: 130
    --- stdout
    --- stderr
        Applying aaaa aaaa
    Interrupted: finishing the revision in progress, then stopping (press Ctrl-C again to exit at once)
     Interrupted 1 revision applied; the database is at aaaa; run the same command again to go on
    ");
    assert_eq!(db.tables(), ["a", "migrate_versions"]);
    // The lock was released: the next run goes on at once.
    assert_exit(&run(dir.path(), &db.url, &["upgrade", "--lock-timeout", "5s"]), 0);
    assert_eq!(db.tables(), ["a", "b", "migrate_versions"]);
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_revision_rolls_back() {
    let db = TestDatabase::create("ctrlc2");
    let dir = project(&[("a.sql", rev("aaaa", "", "", "CREATE TABLE a (x INT);\nSELECT pg_sleep(60);"))]);
    let child = spawn(dir.path(), &db.url, &["upgrade"]);
    let sleeping =
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()";
    wait_for("the revision", || db.query(sleeping)[0][0].as_deref() == Some("1"));
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-INT");
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert!(started.elapsed() < Duration::from_secs(10));
    wait_for("the server to roll back", || db.query(sleeping)[0][0].as_deref() == Some("0"));
    assert_eq!(db.tables(), ["migrate_versions"]);
}

/// A `transaction: false` revision that opens a transaction of its own.
const OWN_TRANSACTION: &str =
    "CREATE TABLE t (x INT PRIMARY KEY);\nBEGIN;\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);\nCOMMIT;";

#[test]
fn postgres_failure_inside_a_revisions_own_transaction_is_recorded_with_its_line() {
    let db = TestDatabase::create("owntxn");
    let dir = project(&[("a.sql", rev("aaaa", "", "-- transaction: false\n", OWN_TRANSACTION))]);
    insta::assert_snapshot!(redacted(&run(dir.path(), &db.url, &["upgrade", "-q"]), &[]), @r#"
    exit: 101
    --- stdout
    --- stderr
    error: revision `aaaa` failed: duplicate key value violates unique constraint "t_pkey" (Key (x)=(1) already exists.)
      --> migrations/a.sql:10:1
       |
    10 | INSERT INTO t VALUES (1);
       | ^^^^^^^^^^^^^^^^^^^^^^^^^
       |
       = help: the revision ran outside a transaction, so the statements before the failing one are in effect; finish or undo them by hand, then run `cargo migrate resolve aaaa --applied` or `--rolled-back`
    "#);
    assert_eq!(rows(&db, "SELECT state, statements_done FROM migrate_versions"), [["failed", "3"]]);
    assert_eq!(rows(&db, "SELECT count(*) FROM t"), [["0"]], "the revision's own transaction was rolled back");
    // The lock was released on a connection left clean.
    assert_exit(&run(dir.path(), &db.url, &["resolve", "aaaa", "--rolled-back", "--lock-timeout", "5s"]), 0);
}

#[test]
fn sqlite_failure_inside_a_revisions_own_transaction_is_recorded() {
    let dir = project(&[("a.sql", rev("aaaa", "", "-- transaction: false\n", OWN_TRANSACTION))]);
    let url = sqlite_url(dir.path());
    assert_exit(&run(dir.path(), &url, &["upgrade"]), 101);
    assert_eq!(sqlite(dir.path(), "SELECT state, statements_done FROM migrate_versions"), "failed|3\n");
}

#[test]
fn a_roles_own_lock_timeout_does_not_cut_the_wait_short() {
    let db = TestDatabase::create("rolelock");
    let role = format!("{}_impatient", db.name);
    db.query(&format!("CREATE ROLE \"{role}\" LOGIN SUPERUSER"));
    db.query(&format!("ALTER ROLE \"{role}\" SET lock_timeout = '200ms'"));
    let (dir, holder) = holding_the_lock(&db, 2);
    let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
    let output = run(dir.path(), &url, &["stamp", "aaaa"]);
    let _ = holder.wait_with_output();
    db.query(&format!("DROP OWNED BY \"{role}\""));
    db.query(&format!("DROP ROLE \"{role}\""));
    let (_, stderr) = assert_exit(&output, 0);
    assert!(stderr.contains("Stamped"), "{stderr}");
}

#[test]
fn postgres_set_transaction_and_multi_action_rules_run_online_as_offline() {
    let db = TestDatabase::create("settxn");
    let dir = project(&[
        (
            "a.sql",
            rev(
                "aaaa",
                "",
                "",
                "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE t (x INT);\nCREATE TABLE log (x INT);",
            ),
        ),
        (
            "b.sql",
            rev(
                "bbbb",
                "aaaa",
                "",
                "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO log VALUES (NEW.x); INSERT INTO log VALUES (NEW.x + 1));\nINSERT INTO t VALUES (1);",
            ),
        ),
    ]);
    assert_exit(&run(dir.path(), &db.url, &["upgrade"]), 0);
    assert_eq!(rows(&db, "SELECT x FROM log ORDER BY x"), [["1"], ["2"]]);
}

#[test]
fn a_revision_that_empties_the_search_path_keeps_the_version_table_where_it_was() {
    let db = TestDatabase::create("searchpath");
    let up = "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.users (id INT);";
    let dir = project(&[
        ("a.sql", rev("aaaa", "", "", up)),
        ("b.sql", rev("bbbb", "aaaa", "", "CREATE TABLE public.teams (id INT);")),
    ]);
    assert_exit(&run(dir.path(), &db.url, &["upgrade"]), 0);
    assert_eq!(rows(&db, "SELECT revision FROM public.migrate_versions ORDER BY revision"), [["aaaa"], ["bbbb"]]);
}

#[test]
fn sqlite_offline_script_runs_against_a_version_table_of_an_earlier_version() {
    let dir = project(&[(
        "a.sql",
        rev("aaaa", "", "-- transaction: false\n", "CREATE TABLE a (x INT);\nCREATE TABLE b (x INT);"),
    )]);
    sqlite(
        dir.path(),
        "CREATE TABLE migrate_versions (revision VARCHAR(255) NOT NULL PRIMARY KEY, checksum VARCHAR(80) NOT NULL, \
         message TEXT NOT NULL, state VARCHAR(16) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         execution_ms BIGINT, applied_by TEXT, error TEXT)",
    );
    let (script, _) = assert_exit(&run(dir.path(), &sqlite_url(dir.path()), &["upgrade", "--sql"]), 0);
    let file = dir.path().join("script.sql");
    std::fs::write(&file, &script).unwrap();
    let output = Command::new("sqlite3")
        .arg("-bail")
        .arg(dir.path().join("app.db"))
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}\n{script}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(sqlite(dir.path(), "SELECT revision, state FROM migrate_versions"), "aaaa|applied\n");
}
