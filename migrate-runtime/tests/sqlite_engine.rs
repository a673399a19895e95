//! The engine against SQLite: the example history through its branch and
//! merge, failures, drift, dry runs, failed no-transaction revisions, stamp.

#![cfg(feature = "sqlite")]

use std::path::Path;

use migrate_history::{Options, SourceFile};
use migrate_runtime::{Database, Error, Migrator, Resolution, RunOptions, StampReport, Target, TransactionMode};

fn example() -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let analysis = migrate_history::analyze_dir(&dir, Path::new("migrations"), Options::default());
    assert!(!analysis.has_errors());
    Migrator::new(analysis.history)
}

fn history_of(files: &[(&str, &str)]) -> Migrator {
    let sources = migrate_history::load::Sources {
        revisions: files.iter().map(|(name, text)| SourceFile::new(format!("m/{name}"), *text)).collect(),
        ..Default::default()
    };
    let analysis = migrate_history::analyze(sources, Options { allow_multiple_heads: true, ..Options::default() });
    assert!(!analysis.has_errors(), "{:?}", analysis.diagnostics);
    Migrator::new(analysis.history)
}

fn target(text: &str) -> Target {
    Target::parse(text).unwrap()
}

fn tables(db: &mut rusqlite::Connection) -> Vec<String> {
    let rows = db
        .query_text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap();
    rows.into_iter().map(|r| r[0].clone().unwrap()).collect()
}

fn up(m: &Migrator, db: &mut rusqlite::Connection, t: &str) -> Result<Vec<String>, Error> {
    m.run_to(db, &target(t)).map(|r| r.ran().iter().map(|a| a.id.clone()).collect())
}

fn down(m: &Migrator, db: &mut rusqlite::Connection, t: &str) -> Result<Vec<String>, Error> {
    m.undo_to(db, &target(t)).map(|r| r.ran().iter().map(|a| a.id.clone()).collect())
}

#[test]
fn example_history_up_and_down_through_branch_and_merge() {
    let m = example();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    assert_eq!(up(&m, &mut db, "9e3f5a71c2d8").unwrap(), ["4d1c8e2a9b07", "9e3f5a71c2d8"]);
    assert!(up(&m, &mut db, "+1").unwrap_err().to_string().contains("branch point"));
    assert_eq!(up(&m, &mut db, "b7a20c4e6f13").unwrap(), ["b7a20c4e6f13"]);
    assert_eq!(up(&m, &mut db, "head").unwrap(), ["c58e1d9f0a64", "e12b7f3a8c95", "f60d2c8b1e47", "0a9d4e6b2c31"]);
    assert!(up(&m, &mut db, "head").unwrap().is_empty(), "nothing left to do");
    assert_eq!(tables(&mut db), ["migrate_versions", "startups", "user_preferences", "user_profile", "users"]);
    let state = m.state(&mut db).unwrap();
    assert_eq!(state.heads, ["0a9d4e6b2c31"]);
    assert!(state.rows.iter().all(|r| r.applied_by.as_deref().is_some_and(|who| who.contains('@'))));

    assert_eq!(down(&m, &mut db, "-1").unwrap(), ["0a9d4e6b2c31"]);
    assert_eq!(down(&m, &mut db, "b7a20c4e6f13").unwrap(), ["f60d2c8b1e47", "e12b7f3a8c95"]);
    assert_eq!(m.state(&mut db).unwrap().heads, ["b7a20c4e6f13", "c58e1d9f0a64"]);
    assert!(down(&m, &mut db, "-1").unwrap_err().to_string().contains("several revisions"));
    down(&m, &mut db, "base").unwrap();
    assert_eq!(tables(&mut db), ["migrate_versions"]);
    assert!(m.state(&mut db).unwrap().rows.is_empty());
}

#[test]
fn a_failing_revision_leaves_the_database_as_it_was_before_it() {
    let m = history_of(&[
        (
            "a.sql",
            "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n-- migrate:down\nDROP TABLE a;\n",
        ),
        (
            "b.sql",
            "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\nCREATE TABLE b (id INT);\nINSERT INTO nope VALUES (1);\n-- migrate:down\nDROP TABLE b;\n",
        ),
    ]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let error = up(&m, &mut db, "head").unwrap_err();
    assert!(error.to_string().starts_with("m/b.sql:7: revision `b` failed: no such table: nope"), "{error}");
    assert_eq!(tables(&mut db), ["a", "migrate_versions"], "b's CREATE TABLE was rolled back");
    assert_eq!(m.state(&mut db).unwrap().rows.len(), 1, "only a is recorded");
}

#[test]
fn drift_is_refused_unless_allowed() {
    let text = "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n";
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    up(&history_of(&[("a.sql", text)]), &mut db, "head").unwrap();
    let edited = history_of(&[
        ("a.sql", &text.replace("(id INT)", "(id BIGINT)")),
        ("b.sql", "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\nSELECT 1;\n"),
    ]);
    let error = up(&edited, &mut db, "head").unwrap_err();
    assert!(matches!(error, Error::Drift { .. }));
    assert!(error.to_string().contains("revision `a` was applied with sha256:"), "{error}");
    let allowed = RunOptions { allow_modified: true, ..RunOptions::default() };
    assert_eq!(edited.upgrade(&target("head")).options(allowed).apply(&mut db).unwrap().applied.len(), 1);
}

#[test]
fn dry_run_executes_and_leaves_nothing_behind() {
    let m = example();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let dry = RunOptions { dry_run: true, ..RunOptions::default() };
    let report = m.upgrade(&target("head")).options(dry).apply(&mut db).unwrap();
    assert_eq!(report.applied.len(), 7);
    assert!(report.dry_run);
    assert!(tables(&mut db).is_empty(), "not even the version table");

    let broken = history_of(&[(
        "a.sql",
        "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\nSELEC 1;\n",
    )]);
    let error = broken.upgrade(&target("head")).dry_run(true).apply(&mut db).unwrap_err();
    assert!(error.to_string().contains("m/a.sql:7"), "the failing statement's line: {error}");
    assert!(tables(&mut db).is_empty());
}

#[test]
fn transaction_all_is_all_or_nothing() {
    let m = history_of(&[
        ("a.sql", "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n"),
        ("b.sql", "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\nCREATE TABLE a (id INT);\n"),
    ]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let all = RunOptions { transaction: TransactionMode::All, ..RunOptions::default() };
    assert!(m.upgrade(&target("head")).options(all).apply(&mut db).is_err());
    assert!(tables(&mut db).is_empty(), "a was rolled back with b");
}

#[test]
fn failed_no_transaction_revision_is_recorded_and_blocks_until_resolved() {
    let m = history_of(&[
        (
            "a.sql",
            "-- revision: a\n-- parents:\n-- message: a\n-- transaction: false\n\n-- migrate:up\nCREATE TABLE a (id INT);\nCREATE TABLE a (id INT);\n",
        ),
        ("b.sql", "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\nCREATE TABLE b (id INT);\n"),
    ]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let error = up(&m, &mut db, "head").unwrap_err();
    assert!(matches!(error, Error::Statement { recorded_failure: true, .. }), "{error}");
    assert!(error.help().unwrap().contains("settle `a` with `Migrator::resolve`"), "{:?}", error.help());
    assert_eq!(tables(&mut db), ["a", "migrate_versions"], "the first statement stays: no transaction");
    let state = m.state(&mut db).unwrap();
    assert_eq!(state.failed.len(), 1);
    assert!(state.failed[0].error.as_deref().unwrap().contains("already exists"));

    let blocked = up(&m, &mut db, "head").unwrap_err();
    assert!(matches!(blocked, Error::Unsettled { .. }), "{blocked}");
    m.resolve(&mut db, "a", Resolution::Applied).unwrap();
    assert_eq!(up(&m, &mut db, "head").unwrap(), ["b"]);
    assert!(matches!(m.resolve(&mut db, "a", Resolution::Applied), Err(Error::NotFailed { .. })));
}

#[test]
fn stamp_records_without_running() {
    let m = example();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let counts = |r: StampReport| (r.added.join(" "), r.removed.join(" "));
    let first = m.stamp(&mut db, &target("e12b7f3a8c95"), false).unwrap();
    assert_eq!(
        counts(first),
        ("4d1c8e2a9b07 9e3f5a71c2d8 b7a20c4e6f13 c58e1d9f0a64 e12b7f3a8c95".into(), String::new())
    );
    assert_eq!(tables(&mut db), ["migrate_versions"]);
    let back = m.stamp(&mut db, &target("9e3f5a71c2d8"), false).unwrap();
    assert_eq!(counts(back), (String::new(), "b7a20c4e6f13 c58e1d9f0a64 e12b7f3a8c95".into()));
    let purged = m.stamp(&mut db, &target("head"), true).unwrap();
    assert_eq!((purged.added.len(), purged.removed.join(" ")), (7, "4d1c8e2a9b07 9e3f5a71c2d8".into()));
    assert!(up(&m, &mut db, "head").unwrap().is_empty());
}

#[test]
fn offline_script_applied_by_sqlite_matches_online() {
    let m = example();
    let script =
        m.script(&migrate_runtime::Range::parse("base:heads").unwrap(), migrate_runtime::Dialect::Sqlite).unwrap();
    let mut offline = rusqlite::Connection::open_in_memory().unwrap();
    offline.execute_batch(&script).unwrap();
    let mut online = rusqlite::Connection::open_in_memory().unwrap();
    up(&m, &mut online, "head").unwrap();
    assert_eq!(tables(&mut offline), tables(&mut online));
    let rows = |db: &mut rusqlite::Connection| {
        db.query_text("SELECT revision, checksum, state FROM migrate_versions ORDER BY revision").unwrap()
    };
    assert_eq!(rows(&mut offline), rows(&mut online));
}

#[test]
fn other_branches_are_left_alone_by_downgrade_and_stamp() {
    let text = |id: &str, parents: &str| {
        format!(
            "-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\nCREATE TABLE {id} (x INT);\n-- migrate:down\nDROP TABLE {id};\n"
        )
    };
    let (a1, b1, s1, s2) = (text("a1", ""), text("b1", "a1"), text("s1", ""), text("s2", "s1"));
    let m = history_of(&[("a1.sql", &a1), ("b1.sql", &b1), ("s1.sql", &s1), ("s2.sql", &s2)]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    up(&m, &mut db, "heads").unwrap();
    assert_eq!(down(&m, &mut db, "b1-2").unwrap(), ["b1", "a1"], "only the a-branch");
    assert_eq!(tables(&mut db), ["migrate_versions", "s1", "s2"]);
    up(&m, &mut db, "heads").unwrap();
    m.stamp(&mut db, &target("a1"), false).unwrap();
    let recorded: Vec<String> = m.state(&mut db).unwrap().rows.into_iter().map(|r| r.revision).collect();
    assert_eq!(recorded.len(), 3, "s1 and s2 stay recorded: {recorded:?}");
    assert!(!recorded.contains(&"b1".to_owned()));
}

#[test]
fn concurrent_migrators_on_a_sqlite_file_take_turns_even_without_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let m = std::sync::Arc::new(history_of(&[(
        "a.sql",
        "-- revision: a\n-- parents:\n-- message: a\n-- transaction: false\n\n-- migrate:up\nCREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
    )]));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (m, path) = (m.clone(), path.clone());
            std::thread::spawn(move || {
                let mut db = rusqlite::Connection::open(path).unwrap();
                m.run(&mut db).map(|r| r.applied.len())
            })
        })
        .collect();
    let applied: usize = threads.into_iter().map(|t| t.join().unwrap().expect("no migrator fails")).sum();
    assert_eq!(applied, 1, "the no-transaction revision ran exactly once");
}

#[test]
fn a_panic_during_a_run_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panic.db");
    let m = std::sync::Arc::new(example());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut db = rusqlite::Connection::open(&path).unwrap();
        let _ = m.upgrade(&target("head")).observe(&mut |_| panic!("an observer fails")).apply(&mut db);
    }));
    assert!(panicked.is_err());
    let (done, finished) = std::sync::mpsc::channel();
    let (m2, path2) = (m.clone(), path.clone());
    std::thread::spawn(move || {
        let mut db = rusqlite::Connection::open(path2).unwrap();
        let _ = done.send(m2.run(&mut db).map(|r| r.applied.len()));
    });
    let applied = finished.recv_timeout(std::time::Duration::from_secs(20)).expect("the lock was released");
    assert_eq!(applied.unwrap(), 7, "the panicked run's first revision was rolled back");
}

fn rev(id: &str, parents: &str, up: &str) -> String {
    format!("-- revision: {id}\n-- parents: {parents}\n-- message: {id}\n\n-- migrate:up\n{up}\n")
}

/// A newer build applied `c`; this build knows `a` and `b` only.
fn rolled_back(applied_at: [&str; 3]) -> (Migrator, rusqlite::Connection) {
    let (a, b, c) = (
        rev("a", "", "CREATE TABLE a (id INT);"),
        rev("b", "a", "CREATE TABLE b (id INT);"),
        rev("c", "b", "CREATE TABLE c (id INT);"),
    );
    let newer = history_of(&[("a.sql", &a), ("b.sql", &b), ("c.sql", &c)]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    up(&newer, &mut db, "head").unwrap();
    for (id, at) in ["a", "b", "c"].iter().zip(applied_at) {
        db.execute_batch(&format!("UPDATE migrate_versions SET applied_at = '{at}' WHERE revision = '{id}'")).unwrap();
    }
    (history_of(&[("a.sql", &a), ("b.sql", &b)]), db)
}

#[test]
fn unknown_revisions_newer_than_the_history_refuse_unless_allow_newer() {
    let (older, mut db) = rolled_back(["2026-01-01 10:00:00", "2026-01-01 10:00:01", "2026-01-02 09:00:00"]);
    let error = up(&older, &mut db, "head").unwrap_err();
    assert_eq!(error.to_string(), "the database has applied a revision that this history does not have: c");
    assert_eq!(
        error.help().unwrap(),
        "the database is ahead of this build: deploy the build that has them, or set `RunOptions::allow_newer` to run against revisions applied after everything this history has (as when rolling an application back)"
    );
    let allow = RunOptions { allow_newer: true, ..RunOptions::default() };
    let report = older.upgrade(&target("head")).options(allow).apply(&mut db).unwrap();
    assert!(report.applied.is_empty());
}

#[test]
fn unknown_revisions_older_than_a_known_one_refuse_even_with_allow_newer() {
    let (older, mut db) = rolled_back(["2026-01-01 10:00:00", "2026-01-03 10:00:00", "2026-01-02 09:00:00"]);
    let allow = RunOptions { allow_newer: true, ..RunOptions::default() };
    let error = older.upgrade(&target("head")).options(allow).apply(&mut db).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the database has applied a revision that this history does not have: c (applied before `b`, which this history has)"
    );
}

#[test]
fn a_statement_creating_what_exists_is_an_already_exists_failure_and_statements_are_reported() {
    let m = history_of(&[("a.sql", &rev("a", "", "CREATE TABLE t (id INT);\nCREATE INDEX t_id ON t (id);"))]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE t (id INT)").unwrap();
    let mut statements = Vec::new();
    let mut observer = |event: migrate_runtime::Event<'_>| {
        if let migrate_runtime::Event::Statement { sql, .. } = event {
            statements.push(sql.to_owned());
        }
    };
    let error = m.upgrade(&target("head")).observe(&mut observer).apply(&mut db).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Statement { kind: migrate_runtime::FailureKind::AlreadyExists, code: None, line: 6, .. }
        ),
        "{error:?}"
    );
    assert_eq!(statements, ["CREATE TABLE t (id INT)"]);
    db.execute_batch("DROP TABLE t").unwrap();
    statements.clear();
    let mut observer = |event: migrate_runtime::Event<'_>| {
        if let migrate_runtime::Event::Statement { sql, .. } = event {
            statements.push(sql.to_owned());
        }
    };
    m.upgrade(&target("head")).observe(&mut observer).apply(&mut db).unwrap();
    assert_eq!(statements, ["CREATE TABLE t (id INT)", "CREATE INDEX t_id ON t (id)"]);
}

#[test]
fn stepping_back_past_a_branch_root_keeps_the_branch_it_depends_on() {
    // x <- y on one branch; a (depends on x) <- b on another.
    let m = history_of(&[
        (
            "x.sql",
            "-- revision: x1\n-- parents:\n-- message: x\n\n-- migrate:up\nCREATE TABLE x1 (v INT);\n-- migrate:down\nDROP TABLE x1;\n",
        ),
        (
            "y.sql",
            "-- revision: y1\n-- parents: x1\n-- message: y\n\n-- migrate:up\nCREATE TABLE y1 (v INT);\n-- migrate:down\nDROP TABLE y1;\n",
        ),
        (
            "a.sql",
            "-- revision: a1\n-- parents:\n-- depends-on: x1\n-- message: a\n\n-- migrate:up\nCREATE TABLE a1 (v INT);\n-- migrate:down\nDROP TABLE a1;\n",
        ),
        (
            "b.sql",
            "-- revision: b1\n-- parents: a1\n-- message: b\n\n-- migrate:up\nCREATE TABLE b1 (v INT);\n-- migrate:down\nDROP TABLE b1;\n",
        ),
    ]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    up(&m, &mut db, "heads").unwrap();
    assert_eq!(down(&m, &mut db, "b1-2").unwrap(), ["b1", "a1"]);
    assert_eq!(tables(&mut db), ["migrate_versions", "x1", "y1"]);
}

/// Rows of `table`.
fn count(db: &mut rusqlite::Connection, table: &str) -> u64 {
    db.query_text(&format!("SELECT count(*) FROM {table}")).unwrap()[0][0].as_deref().unwrap().parse().unwrap()
}

fn foreign_keys_on(db: &mut rusqlite::Connection) -> bool {
    db.query_text("PRAGMA foreign_keys").unwrap()[0][0].as_deref() == Some("1")
}

const FAMILY: &str = "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE);
CREATE TABLE grandchild (id INTEGER PRIMARY KEY, child_id INTEGER REFERENCES child (id) ON DELETE CASCADE);
CREATE VIEW named AS SELECT id, name FROM parent WHERE name IS NOT NULL;
CREATE TRIGGER parent_named AFTER INSERT ON parent BEGIN UPDATE parent SET name = 'p' || NEW.id WHERE id = NEW.id AND name IS NULL; END;";

/// With foreign keys on, as applications run SQLite (and rusqlite's bundled
/// build by default), a generated rebuild of a table that `ON DELETE
/// CASCADE` children point at keeps every child row, up and down, in a
/// revision of its own and in a run that is one transaction; its view and
/// trigger stay; and foreign keys are on again afterwards.
#[test]
fn a_generated_rebuild_of_a_parent_keeps_its_cascading_children_with_foreign_keys_on() {
    use migrate_runtime::schema::{generate, introspect};

    let models = FAMILY.replace("name TEXT)", "name TEXT NOT NULL CHECK (name <> ''), born INTEGER)");
    let mut history = rusqlite::Connection::open_in_memory().unwrap();
    history.execute_batch(FAMILY).unwrap();
    let mut modelled = rusqlite::Connection::open_in_memory().unwrap();
    modelled.execute_batch(&models).unwrap();
    let generated = generate(
        &introspect(&mut history, "migrate_versions").unwrap(),
        &introspect(&mut modelled, "migrate_versions").unwrap(),
        migrate_runtime::Dialect::Sqlite,
    )
    .unwrap();
    assert!(generated.up.contains("PRAGMA foreign_keys = OFF;") && generated.up.contains("DROP TABLE \"parent\";"));
    assert!(generated.down.contains("PRAGMA foreign_keys = OFF;"), "{}", generated.down);
    let b = format!(
        "-- revision: b\n-- parents: a\n-- message: b\n\n-- migrate:up\n{}\n\n-- migrate:down\n{}\n",
        generated.up, generated.down
    );
    let m = history_of(&[("a.sql", &rev("a", "", FAMILY)), ("b.sql", &b)]);

    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    up(&m, &mut db, "a").unwrap();
    db.execute_batch(
        "INSERT INTO parent (id) VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 1), (20, 2);
         INSERT INTO grandchild VALUES (100, 10), (200, 20);",
    )
    .unwrap();
    let kept = |db: &mut rusqlite::Connection| (count(db, "parent"), count(db, "child"), count(db, "grandchild"));

    assert_eq!(up(&m, &mut db, "head").unwrap(), ["b"]);
    assert_eq!(kept(&mut db), (2, 3, 2), "no child was deleted by DROP TABLE parent");
    assert!(foreign_keys_on(&mut db), "turned on again");
    assert!(db.execute_batch("INSERT INTO parent (id, name) VALUES (3, '')").is_err(), "the new check holds");
    assert!(db.execute_batch("INSERT INTO child VALUES (30, 99)").is_err(), "foreign keys are enforced");
    assert_eq!(count(&mut db, "named"), 2, "the view is back");
    db.execute_batch("INSERT INTO parent (id, name) VALUES (4, 'four')").unwrap();

    assert_eq!(down(&m, &mut db, "a").unwrap(), ["b"]);
    assert_eq!(kept(&mut db), (3, 3, 2));
    assert!(foreign_keys_on(&mut db));
    db.execute_batch("INSERT INTO parent (id) VALUES (5)").unwrap();
    assert_eq!(
        db.query_text("SELECT name FROM parent WHERE id = 5").unwrap(),
        [[Some("p5".to_owned())]],
        "the trigger"
    );
    db.execute_batch("DELETE FROM parent WHERE id = 5").unwrap();

    // The whole run in one transaction, and a dry run.
    let all = RunOptions { transaction: TransactionMode::All, ..RunOptions::default() };
    m.upgrade(&target("head")).options(all).apply(&mut db).unwrap();
    assert_eq!((kept(&mut db), foreign_keys_on(&mut db)), ((3, 3, 2), true));
    let dry = RunOptions { dry_run: true, ..RunOptions::default() };
    m.downgrade(&target("a")).options(dry).apply(&mut db).unwrap();
    assert_eq!((kept(&mut db), foreign_keys_on(&mut db)), ((3, 3, 2), true));
    assert_eq!(m.state(&mut db).unwrap().heads, ["b"]);
    // Deleting a parent still cascades.
    db.execute_batch("DELETE FROM parent WHERE id = 1").unwrap();
    assert_eq!(kept(&mut db), (2, 1, 1));
}

/// A revision that turns foreign keys off and leaves rows pointing nowhere
/// fails at `PRAGMA foreign_key_check`, naming the table and how many rows,
/// and is rolled back and not recorded; foreign keys are on again after.
/// Outside a transaction it is recorded as failed instead.
#[test]
fn a_revision_that_leaves_rows_pointing_nowhere_fails_and_is_not_recorded() {
    let a = rev(
        "a",
        "",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id) ON DELETE CASCADE);
INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 1), (20, 2);",
    );
    let orphaning = "PRAGMA foreign_keys = OFF;\nDELETE FROM parent WHERE id = 1;";
    let m = history_of(&[("a.sql", &a), ("b.sql", &rev("b", "a", orphaning))]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    up(&m, &mut db, "a").unwrap();

    let error = up(&m, &mut db, "head").unwrap_err();
    let Error::ForeignKeyCheck { id, dangling, recorded_failure: false, .. } = &error else { panic!("{error:?}") };
    assert_eq!(id, "b");
    assert_eq!(dangling, &[migrate_runtime::Dangling { table: "child".into(), parent: "parent".into(), rows: 2 }]);
    assert_eq!(
        error.to_string(),
        "m/b.sql: after revision `b`, 2 rows of `child` point at no row of `parent` (PRAGMA foreign_key_check); it was rolled back"
    );
    assert!(error.help().unwrap().contains("nothing of this revision was applied"));
    assert_eq!(m.state(&mut db).unwrap().heads, ["a"], "not recorded");
    assert_eq!((count(&mut db, "parent"), count(&mut db, "child")), (2, 3), "rolled back");
    assert!(foreign_keys_on(&mut db), "on again after the failure");

    // In one transaction with the rest of the run: all of it rolled back.
    let mut fresh = rusqlite::Connection::open_in_memory().unwrap();
    let all = RunOptions { transaction: TransactionMode::All, ..RunOptions::default() };
    let error = m.upgrade(&target("head")).options(all).apply(&mut fresh).unwrap_err();
    assert!(matches!(error, Error::ForeignKeyCheck { .. }), "{error}");
    assert!(tables(&mut fresh).is_empty());
    assert!(foreign_keys_on(&mut fresh));

    // Outside a transaction the statements are in effect: recorded as failed.
    let header = "-- revision: b\n-- parents: a\n-- message: b\n-- transaction: false\n\n-- migrate:up\n";
    let m = history_of(&[("a.sql", &a), ("b.sql", &format!("{header}{orphaning}\n"))]);
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let error = up(&m, &mut db, "head").unwrap_err();
    assert!(matches!(error, Error::ForeignKeyCheck { recorded_failure: true, .. }), "{error}");
    assert!(error.help().unwrap().contains("settle `b` with `Migrator::resolve`"));
    let state = m.state(&mut db).unwrap();
    assert_eq!(state.failed[0].revision, "b");
    assert!(state.failed[0].error.as_deref().unwrap().contains("2 rows of `child`"));
    assert!(foreign_keys_on(&mut db));
}

/// The offline script turns foreign keys off before such a revision's
/// transaction, where sqlite3 would ignore it.
#[test]
fn an_offline_script_turns_foreign_keys_off_before_the_transaction() {
    let m = history_of(&[
        ("a.sql", &rev("a", "", "CREATE TABLE parent (id INTEGER PRIMARY KEY);")),
        ("b.sql", &rev("b", "a", "PRAGMA foreign_keys = OFF;\nDROP TABLE parent;")),
    ]);
    let script = m.script(&migrate_runtime::Range::parse("a:b").unwrap(), migrate_runtime::Dialect::Sqlite).unwrap();
    assert!(
        script.contains("PRAGMA foreign_keys = OFF;\nBEGIN;\nPRAGMA foreign_keys = OFF;\nDROP TABLE parent;"),
        "{script}"
    );
}

/// A history whose middle revision's up section is still to be written, and
/// whose last one's down section is.
fn history_needing_sql() -> Migrator {
    history_of(&[
        (
            "a.sql",
            "-- revision: a\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n-- migrate:down\nDROP TABLE a;\n",
        ),
        (
            "b.sql",
            "-- revision: b\n-- parents: a\n-- message: b\n-- imported-from: alembic b\n-- needs-sql: up\n\n-- migrate:up\n-- TODO: the data migration\n-- migrate:down\nDELETE FROM a;\n",
        ),
        (
            "c.sql",
            "-- revision: c\n-- parents: b\n-- message: c\n-- needs-sql: down\n\n-- migrate:up\nCREATE TABLE c (id INT);\n-- migrate:down\n-- TODO\n",
        ),
    ])
}

#[test]
fn an_upgrade_stops_before_a_revision_whose_up_section_needs_sql() {
    let m = history_needing_sql();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    let error = up(&m, &mut db, "head").unwrap_err();
    assert_eq!(
        error.to_string(),
        "revision `b` (m/b.sql) has no SQL yet for its up section (`-- needs-sql`): it was imported from alembic b and could not be rendered offline; the run stopped before it"
    );
    assert_eq!(m.state(&mut db).unwrap().heads, ["a"], "what came before it is applied");
    assert_eq!(tables(&mut db), ["a", "migrate_versions"]);
    let error = m.script(&migrate_history::Range::parse("base:head").unwrap(), migrate_runtime::Dialect::Sqlite);
    assert!(matches!(error, Err(Error::NeedsSql { ref id, downgrade: false, .. }) if id == "b"), "{error:?}");
}

#[test]
fn a_downgrade_stops_before_a_revision_whose_down_section_needs_sql() {
    let m = history_needing_sql();
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    m.stamp(&mut db, &target("c"), false).unwrap();
    let error = down(&m, &mut db, "base").unwrap_err();
    assert!(matches!(error, Error::NeedsSql { ref id, downgrade: true, .. } if id == "c"), "{error:?}");
    assert_eq!(m.state(&mut db).unwrap().heads, ["c"], "nothing was reverted");
}
