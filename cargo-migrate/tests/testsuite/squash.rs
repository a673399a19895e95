//! `squash --upto REV`: a baseline in place of REV and what it needs, on
//! SQLite, PostgreSQL and MariaDB; databases before, part-way through and past the
//! replaced revisions upgrading through it; `check`'s proof.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use migrate_runtime::schema::{diff, introspect};
use tests::support::{TestDatabase, TestMysql};

use crate::{assert_exit, cargo_migrate, redacted};

/// Where the test's databases live.
enum Db {
    Sqlite,
    /// One PostgreSQL database per name, created on first use.
    Postgres(RefCell<BTreeMap<String, TestDatabase>>),
    /// One MariaDB database per name, created on first use.
    Mysql(RefCell<BTreeMap<String, TestMysql>>),
}

impl Db {
    fn postgres() -> Db {
        Db::Postgres(RefCell::default())
    }

    fn mysql() -> Db {
        Db::Mysql(RefCell::default())
    }

    /// The URL of database `name` (`plain`, `fresh`, ...): a SQLite file in
    /// `dir`, or a PostgreSQL database of its own.
    fn url(&self, dir: &Path, name: &str) -> String {
        match self {
            Db::Sqlite => format!("sqlite:{}", dir.join(format!("{name}.db")).display()),
            Db::Postgres(databases) => {
                databases.borrow_mut().entry(name.to_owned()).or_insert_with(|| TestDatabase::create(name)).url.clone()
            }
            Db::Mysql(databases) => {
                databases.borrow_mut().entry(name.to_owned()).or_insert_with(|| TestMysql::create(name)).url.clone()
            }
        }
    }

    /// The revisions: `a1` (two tables), `b2` (rows, a column, an index,
    /// a serial table on PostgreSQL), and `c3`, which builds on `b2` and
    /// stays.
    fn revisions(&self) -> [(&'static str, String); 3] {
        if let Db::Mysql(_) = self {
            return mysql_revisions();
        }
        let notes = match self {
            Db::Sqlite => "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body text NOT NULL);",
            _ => "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);",
        };
        [
            (
                "a1_users.sql",
                "-- revision: a1\n-- parents:\n-- message: users and kinds\n\n-- migrate:up\n\
                 CREATE TABLE kinds (id integer PRIMARY KEY, name text NOT NULL UNIQUE);\n\
                 CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n\n\
                 -- migrate:down\nDROP TABLE users;\nDROP TABLE kinds;\n"
                    .to_owned(),
            ),
            (
                "b2_kinds.sql",
                format!(
                    "-- revision: b2\n-- parents: a1\n-- message: kinds rows\n-- transaction: false\n\n-- migrate:up\n\
                     INSERT INTO kinds (id, name) VALUES (1, 'admin'), (2, 'o''brien');\n\
                     ALTER TABLE users ADD COLUMN kind_id integer REFERENCES kinds (id);\n\
                     CREATE INDEX users_email ON users (email);\n{notes}\n\
                     INSERT INTO notes (body) VALUES ('hello');\n"
                ),
            ),
            (
                "c3_posts.sql",
                "-- revision: c3\n-- parents: b2\n-- message: posts\n\n-- migrate:up\n\
                 CREATE TABLE posts (id integer PRIMARY KEY, user_id integer NOT NULL REFERENCES users (id));\n\
                 INSERT INTO notes (body) VALUES ('after the baseline');\n\n\
                 -- migrate:down\nDROP TABLE posts;\n"
                    .to_owned(),
            ),
        ]
    }

    /// A project with the three revisions, pinned.
    fn project(&self) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, text) in self.revisions() {
            std::fs::write(dir.path().join("migrations").join(name), text).unwrap();
        }
        assert_exit(&run(dir.path(), &["lock"]), 0);
        dir
    }

    /// The transcript with the directory, the server and times redacted.
    fn transcript(&self, output: &Output, dir: &Path) -> String {
        let mut replacements = vec![(dir.display().to_string(), "[DIR]".to_owned())];
        let databases: Vec<(String, String, String)> = match self {
            Db::Sqlite => Vec::new(),
            Db::Postgres(databases) => {
                databases.borrow().iter().map(|(n, db)| (n.clone(), db.url.clone(), db.name.clone())).collect()
            }
            Db::Mysql(databases) => {
                databases.borrow().iter().map(|(n, db)| (n.clone(), db.url.clone(), db.name.clone())).collect()
            }
        };
        for (name, url, database) in databases {
            replacements.push((url.clone(), format!("[{name}]")));
            replacements.push((database, format!("[{name}]")));
            let host = url.split('@').nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
            replacements.push((host.to_owned(), "[SERVER]".to_owned()));
        }
        let pairs: Vec<(&str, &str)> = replacements.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        // The server's version and TLS are the machine's, not the test's.
        let text = redacted(output, &pairs)
            .lines()
            .filter(|line| !line.starts_with("connection:") && !line.starts_with("tls:"))
            .map(|line| format!("{line}\n"))
            .collect::<String>();
        redact_created(&text)
    }

    /// The schema and the rows of database `name`, for comparing.
    fn read(&self, dir: &Path, name: &str) -> (migrate_runtime::schema::Schema, Vec<Vec<Option<String>>>) {
        let url = migrate_runtime::DatabaseUrl::parse(&self.url(dir, name)).unwrap();
        let mut connection = migrate_runtime::connect(&url).unwrap();
        let db = connection.database();
        let schema = introspect(db, "migrate_versions").unwrap();
        let text = if let Db::Mysql(_) = self { "char" } else { "text" };
        let rows = db
            .query_text(&format!(
                "SELECT 'kinds', CAST(id AS {text}), name FROM kinds UNION ALL SELECT 'notes', CAST(id AS {text}), body FROM notes ORDER BY 1, 2"
            ))
            .unwrap();
        (schema, rows)
    }

    /// The schema and the rows of `events` in database `name`.
    fn read_events(&self, dir: &Path, name: &str) -> (migrate_runtime::schema::Schema, Vec<Vec<Option<String>>>) {
        let url = migrate_runtime::DatabaseUrl::parse(&self.url(dir, name)).unwrap();
        let mut connection = migrate_runtime::connect(&url).unwrap();
        let db = connection.database();
        let schema = introspect(db, "migrate_versions").unwrap();
        (schema, db.query_text("SELECT id, body FROM events ORDER BY id").unwrap())
    }

    /// The version table of database `name`: `revision state`, by revision id (the
    /// order of `applied_at` is not stable: several rows can share a second,
    /// and then their ids decided).
    fn versions(&self, dir: &Path, name: &str) -> Vec<String> {
        let url = migrate_runtime::DatabaseUrl::parse(&self.url(dir, name)).unwrap();
        let mut connection = migrate_runtime::connect(&url).unwrap();
        let rows =
            connection.database().query_text("SELECT revision, state FROM migrate_versions ORDER BY revision").unwrap();
        rows.into_iter().map(|row| format!("{} {}", row[0].clone().unwrap(), row[1].clone().unwrap())).collect()
    }
}

/// The revisions in MySQL's SQL: varchar for what is indexed, foreign keys
/// as constraints (MySQL ignores a column's `REFERENCES`), AUTO_INCREMENT.
fn mysql_revisions() -> [(&'static str, String); 3] {
    [
        (
            "a1_users.sql",
            "-- revision: a1\n-- parents:\n-- message: users and kinds\n\n-- migrate:up\n\
             CREATE TABLE kinds (id integer PRIMARY KEY, name varchar(100) NOT NULL UNIQUE);\n\
             CREATE TABLE users (id integer PRIMARY KEY, email varchar(200) NOT NULL);\n\n\
             -- migrate:down\nDROP TABLE users;\nDROP TABLE kinds;\n"
                .to_owned(),
        ),
        (
            "b2_kinds.sql",
            "-- revision: b2\n-- parents: a1\n-- message: kinds rows\n-- transaction: false\n\n-- migrate:up\n\
             INSERT INTO kinds (id, name) VALUES (1, 'admin'), (2, 'o''brien');\n\
             ALTER TABLE users ADD COLUMN kind_id integer, ADD CONSTRAINT users_kind FOREIGN KEY (kind_id) REFERENCES kinds (id);\n\
             CREATE INDEX users_email ON users (email);\n\
             CREATE TABLE notes (id integer AUTO_INCREMENT PRIMARY KEY, body varchar(200) NOT NULL);\n\
             INSERT INTO notes (body) VALUES ('hello');\n"
                .to_owned(),
        ),
        (
            "c3_posts.sql",
            "-- revision: c3\n-- parents: b2\n-- message: posts\n\n-- migrate:up\n\
             CREATE TABLE posts (id integer PRIMARY KEY, user_id integer NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id));\n\
             INSERT INTO notes (body) VALUES ('after the baseline');\n\n\
             -- migrate:down\nDROP TABLE posts;\n"
                .to_owned(),
        ),
    ]
}

/// `cargo migrate ARGS --dir migrations` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--dir", "migrations"];
    all.extend_from_slice(args);
    cargo_migrate(dir, &all)
}

/// The `created` header's value replaced.
fn redact_created(text: &str) -> String {
    text.lines()
        .map(|line| if line.starts_with("-- created: ") { "-- created: [CREATED]" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The baseline file written by `squash`, and its path.
fn baseline(dir: &Path) -> (PathBuf, String) {
    let path = std::fs::read_dir(dir.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("baseline"))
        .expect("a baseline file");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

/// Every file under `migrations/`, sorted.
fn files(dir: &Path) -> String {
    let root = dir.join("migrations");
    let mut found = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found.join("\n")
}

/// `squash --upto b2` on a project, after `plain` is upgraded to head,
/// `done` to `b2` and `part` to `a1`; returns the transcript.
fn squashed(db: &Db, dir: &Path) -> String {
    for (name, target) in [("plain", "head"), ("done", "b2"), ("part", "a1")] {
        assert_exit(&run(dir, &["upgrade", target, "--database-url", &db.url(dir, name)]), 0);
    }
    let output = run(dir, &["squash", "--upto", "b2", "--database-url", &db.url(dir, "scratch")]);
    assert_exit(&output, 0);
    db.transcript(&output, dir)
}

fn squash_writes_a_baseline(db: Db, name: &str) {
    let project = db.project();
    let dir = project.path();
    let transcript = squashed(&db, dir);
    let (_, text) = baseline(dir);
    let history = db.transcript(&run(dir, &["history"]), dir);
    let json = assert_exit(&run(dir, &["history", "--message-format", "json"]), 0).0;
    assert!(json.contains(r#""id":"b2","#) && json.contains(r#""replaced-by":"cb202fc85722""#), "{json}");
    assert!(json.contains(r#""replaces":["a1","b2"]"#), "{json}");
    let check = db.transcript(&run(dir, &["check", "--database-url", &db.url(dir, "plain")]), dir);
    insta::assert_snapshot!(
        name,
        format!(
            "{transcript}=== files\n{}\n=== baseline\n{}=== history\n{history}=== check\n{check}",
            files(dir),
            redact_created(&text)
        )
    );
}

#[test]
fn squash_writes_a_baseline_on_sqlite() {
    squash_writes_a_baseline(Db::Sqlite, "squash_sqlite");
}

#[test]
fn squash_writes_a_baseline_on_postgres() {
    squash_writes_a_baseline(Db::postgres(), "squash_postgres");
}

/// An empty database upgrades through the baseline (and `c3` after it) to
/// the schema and rows of one that ran every revision.
fn an_empty_database_runs_the_baseline(db: Db, name: &str) {
    let project = db.project();
    let dir = project.path();
    squashed(&db, dir);
    let output = run(dir, &["upgrade", "--database-url", &db.url(dir, "fresh")]);
    assert_exit(&output, 0);
    let (plain, plain_rows) = db.read(dir, "plain");
    let (fresh, fresh_rows) = db.read(dir, "fresh");
    assert_eq!(diff(&plain, &fresh), [], "the same schema");
    assert_eq!(plain_rows, fresh_rows, "the same rows, the serial id going on after the kept ones");
    insta::assert_snapshot!(
        name,
        format!("{}=== versions\n{}\n", db.transcript(&output, dir), db.versions(dir, "fresh").join("\n"))
    );
}

#[test]
fn squash_writes_a_baseline_on_mysql() {
    squash_writes_a_baseline(Db::mysql(), "squash_mysql");
}

#[test]
fn an_empty_database_runs_the_baseline_on_mysql() {
    an_empty_database_runs_the_baseline(Db::mysql(), "squash_empty_mysql");
}

#[test]
fn a_database_part_way_finishes_the_set_on_mysql() {
    a_database_part_way_finishes_the_set(Db::mysql(), "squash_part_mysql");
}

#[test]
fn an_empty_database_runs_the_baseline_on_sqlite() {
    an_empty_database_runs_the_baseline(Db::Sqlite, "squash_empty_sqlite");
}

#[test]
fn an_empty_database_runs_the_baseline_on_postgres() {
    an_empty_database_runs_the_baseline(Db::postgres(), "squash_empty_postgres");
}

/// A database that applied every replaced revision records the baseline
/// (which would fail if it ran: its tables exist) and then applies `c3`.
fn a_database_past_the_set_records_the_baseline(db: Db, name: &str) {
    let project = db.project();
    let dir = project.path();
    squashed(&db, dir);
    let url = db.url(dir, "done");
    let status = db.transcript(&run(dir, &["status", "--database-url", &url]), dir);
    // Only the baseline's row is missing: a warning, not a failing gate.
    let check = db.transcript(&run(dir, &["check", "--no-models", "--database-url", &url]), dir);
    let output = run(dir, &["upgrade", "-v", "--database-url", &url]);
    assert_exit(&output, 0);
    let (plain, _) = db.read(dir, "plain");
    let (done, _) = db.read(dir, "done");
    assert_eq!(diff(&plain, &done), []);
    let current = db.transcript(&run(dir, &["current", "--database-url", &url]), dir);
    insta::assert_snapshot!(
        name,
        format!(
            "=== status before\n{status}=== check before\n{check}=== upgrade -v\n{}=== versions\n{}\n=== current\n{current}",
            db.transcript(&output, dir),
            db.versions(dir, "done").join("\n")
        )
    );
}

#[test]
fn a_database_past_the_set_records_the_baseline_on_sqlite() {
    a_database_past_the_set_records_the_baseline(Db::Sqlite, "squash_done_sqlite");
}

#[test]
fn a_database_past_the_set_records_the_baseline_on_postgres() {
    a_database_past_the_set_records_the_baseline(Db::postgres(), "squash_done_postgres");
}

#[test]
fn a_database_past_the_set_records_the_baseline_on_mysql() {
    a_database_past_the_set_records_the_baseline(Db::mysql(), "squash_done_mysql");
}

/// A database at `a1` applies `b2` from squashed/, records the baseline,
/// then applies `c3`.
fn a_database_part_way_finishes_the_set(db: Db, name: &str) {
    let project = db.project();
    let dir = project.path();
    squashed(&db, dir);
    let output = run(dir, &["upgrade", "--database-url", &db.url(dir, "part")]);
    assert_exit(&output, 0);
    let (plain, _) = db.read(dir, "plain");
    let (part, _) = db.read(dir, "part");
    assert_eq!(diff(&plain, &part), []);
    insta::assert_snapshot!(
        name,
        format!("{}=== versions\n{}\n", db.transcript(&output, dir), db.versions(dir, "part").join("\n"))
    );
}

#[test]
fn a_database_part_way_finishes_the_set_on_sqlite() {
    a_database_part_way_finishes_the_set(Db::Sqlite, "squash_part_sqlite");
}

#[test]
fn a_database_part_way_finishes_the_set_on_postgres() {
    a_database_part_way_finishes_the_set(Db::postgres(), "squash_part_postgres");
}

/// `check` proves the baseline; a hand-edited one (re-pinned, so only the
/// proof can tell) fails with the differences.
fn check_fails_on_an_edited_baseline(db: Db, name: &str) {
    let project = db.project();
    let dir = project.path();
    squashed(&db, dir);
    let url = db.url(dir, "plain");
    assert_exit(&run(dir, &["upgrade", "--database-url", &url]), 0);
    assert_exit(&run(dir, &["check", "--database-url", &url]), 0);
    let (path, text) = baseline(dir);
    let id = path.file_name().unwrap().to_string_lossy()[..12].to_owned();
    // One index and one row (MySQL escapes the quote with a backslash).
    let edited: String = text
        .lines()
        .map(|line| {
            if line.contains("CREATE INDEX") && line.contains("users_email") {
                format!("-- {line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect::<String>()
        .replace("o''brien", "obrien")
        .replace("o\\'brien", "obrien");
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    assert_exit(&run(dir, &["lock", "--update", &id, "--database-url", &db.url(dir, "scratch")]), 0);
    // A database upgraded through the edited baseline: only the proof can tell.
    let after = db.url(dir, "after");
    assert_exit(&run(dir, &["upgrade", "--database-url", &after]), 0);
    let output = run(dir, &["check", "--database-url", &after]);
    insta::assert_snapshot!(name, db.transcript(&output, dir));
}

#[test]
fn check_fails_on_an_edited_baseline_on_sqlite() {
    check_fails_on_an_edited_baseline(Db::Sqlite, "squash_check_sqlite");
}

#[test]
fn check_fails_on_an_edited_baseline_on_postgres() {
    check_fails_on_an_edited_baseline(Db::postgres(), "squash_check_postgres");
}

#[test]
fn check_fails_on_an_edited_baseline_on_mysql() {
    check_fails_on_an_edited_baseline(Db::mysql(), "squash_check_mysql");
}

/// SQLite's AUTOINCREMENT is kept: the baseline declares it and writes
/// `sqlite_sequence` as the revisions left it (ids 1 to 3 given, 2 and 3
/// deleted), so a database upgraded through the baseline gives the next
/// row the id a database that replayed the revisions gives it (4, not 2);
/// `check` proves it, and fails a baseline edited to leave it out.
#[test]
fn squash_keeps_autoincrement_and_the_next_id_on_sqlite() {
    let db = Db::Sqlite;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir(dir.join("migrations")).unwrap();
    let files = [
        (
            "a1_events.sql",
            "-- revision: a1\n-- parents:\n-- message: events\n\n-- migrate:up\n\
             CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, body text NOT NULL);\n\
             INSERT INTO events (body) VALUES ('kept'), ('gone'), ('gone too');\n",
        ),
        (
            "b2_prune.sql",
            "-- revision: b2\n-- parents: a1\n-- message: prune\n\n-- migrate:up\nDELETE FROM events WHERE id > 1;\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join("migrations").join(name), text).unwrap();
    }
    assert_exit(&run(dir, &["lock"]), 0);
    assert_exit(&run(dir, &["upgrade", "--database-url", &db.url(dir, "plain")]), 0);
    let squash = run(dir, &["squash", "--upto", "b2"]);
    assert_exit(&squash, 0);
    let (path, text) = baseline(dir);
    let fresh = db.url(dir, "fresh");
    assert_exit(&run(dir, &["upgrade", "--database-url", &fresh]), 0);
    let (plain, _) = db.read_events(dir, "plain");
    let (upgraded, _) = db.read_events(dir, "fresh");
    assert_eq!(diff(&plain, &upgraded), [], "the same schema, AUTOINCREMENT included");
    let next = |name: &str| {
        let url = migrate_runtime::DatabaseUrl::parse(&db.url(dir, name)).unwrap();
        let mut connection = migrate_runtime::connect(&url).unwrap();
        let database = connection.database();
        database.execute_batch("INSERT INTO events (body) VALUES ('next')").unwrap();
        database.query_text("SELECT max(id) FROM events").unwrap()[0][0].clone().unwrap()
    };
    assert_eq!((next("plain"), next("fresh")), ("4".to_owned(), "4".to_owned()), "ids go on after the deleted rows");
    let check = run(dir, &["check", "--no-models", "--database-url", &fresh]);
    assert_exit(&check, 0);

    // Edited to leave AUTOINCREMENT and the sequence out, re-pinned: the proof tells.
    let id = path.file_name().unwrap().to_string_lossy()[..12].to_owned();
    let edited: String = text
        .replace(" PRIMARY KEY AUTOINCREMENT", "")
        .replace("\"body\" text NOT NULL\n", "\"body\" text NOT NULL,\n    PRIMARY KEY (\"id\")\n")
        .lines()
        .filter(|line| !line.contains("sqlite_sequence"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&path, edited).unwrap();
    assert_exit(&run(dir, &["lock", "--update", &id]), 0);
    let after = db.url(dir, "after");
    assert_exit(&run(dir, &["upgrade", "--database-url", &after]), 0);
    let edited_check = run(dir, &["check", "--no-models", "--database-url", &after]);
    assert_exit(&edited_check, 1);
    insta::assert_snapshot!(format!(
        "{}=== baseline\n{}=== check\n{}=== check (edited)\n{}",
        db.transcript(&squash, dir),
        redact_created(&text),
        db.transcript(&check, dir),
        db.transcript(&edited_check, dir)
    ));
}

/// Generated ids go on where the replaced revisions left them, read from
/// the replay: past rows deleted at the end of a table (`events`), and in a
/// table whose rows were all deleted (`tickets`, nothing left to derive an
/// id from), as a database that replayed them would hand out next.
fn squash_keeps_the_next_ids(name: &str, db: Db, id_column: &str) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::create_dir(dir.join("migrations")).unwrap();
    let files = [
        (
            "a1_events.sql".to_owned(),
            format!(
                "-- revision: a1\n-- parents:\n-- message: events\n\n-- migrate:up\n\
                 CREATE TABLE events ({id_column}, body text NOT NULL);\n\
                 CREATE TABLE tickets ({id_column}, body text NOT NULL);\n\
                 INSERT INTO events (body) VALUES ('kept'), ('gone'), ('gone too');\n\
                 INSERT INTO tickets (body) VALUES ('gone'), ('gone too');\n"
            ),
        ),
        (
            "b2_prune.sql".to_owned(),
            "-- revision: b2\n-- parents: a1\n-- message: prune\n\n-- migrate:up\n\
             DELETE FROM events WHERE id > 1;\nDELETE FROM tickets;\n"
                .to_owned(),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join("migrations").join(name), text).unwrap();
    }
    assert_exit(&run(dir, &["lock"]), 0);
    assert_exit(&run(dir, &["upgrade", "--database-url", &db.url(dir, "plain")]), 0);
    let squash = run(dir, &["squash", "--upto", "b2", "--database-url", &db.url(dir, "scratch")]);
    assert_exit(&squash, 0);
    let (_, text) = baseline(dir);
    let fresh = db.url(dir, "fresh");
    assert_exit(&run(dir, &["upgrade", "--database-url", &fresh]), 0);
    let next = |name: &str| {
        let url = migrate_runtime::DatabaseUrl::parse(&db.url(dir, name)).unwrap();
        let mut connection = migrate_runtime::connect(&url).unwrap();
        let database = connection.database();
        ["events", "tickets"].map(|table| {
            database.execute_batch(&format!("INSERT INTO {table} (body) VALUES ('next')")).unwrap();
            database.query_text(&format!("SELECT max(id) FROM {table}")).unwrap()[0][0].clone().unwrap()
        })
    };
    let expected = ["4".to_owned(), "3".to_owned()];
    assert_eq!((next("plain"), next("fresh")), (expected.clone(), expected), "ids go on after the deleted rows");
    let check = run(dir, &["check", "--no-models", "--database-url", &fresh]);
    assert_exit(&check, 0);
    insta::assert_snapshot!(
        name,
        format!(
            "{}=== baseline\n{}=== check\n{}",
            db.transcript(&squash, dir),
            redact_created(&text),
            db.transcript(&check, dir),
        )
    );
}

#[test]
fn squash_keeps_the_next_ids_on_postgres() {
    squash_keeps_the_next_ids("squash_keeps_the_next_ids_on_postgres", Db::postgres(), "id serial PRIMARY KEY");
}

#[test]
fn squash_keeps_the_next_ids_on_mysql() {
    squash_keeps_the_next_ids(
        "squash_keeps_the_next_ids_on_mysql",
        Db::mysql(),
        "id integer AUTO_INCREMENT PRIMARY KEY",
    );
}

#[test]
fn squash_refuses_a_revision_that_another_branch_leaves() {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    std::fs::write(
        dir.join("migrations/d4_side.sql"),
        "-- revision: d4\n-- parents: a1\n-- message: side branch\n\n-- migrate:up\nSELECT 1;\n",
    )
    .unwrap();
    let output = refused(dir, || run(dir, &["squash", "--upto", "b2"]));
    insta::assert_snapshot!(db.transcript(&output, dir));
}

/// The output of `squash`, asserted to exit 2 having written and moved nothing.
fn refused(dir: &Path, squash: impl FnOnce() -> Output) -> Output {
    let before = files(dir);
    let output = squash();
    assert_exit(&output, 2);
    assert_eq!(files(dir), before, "nothing written or moved");
    output
}

#[test]
fn squash_refuses_an_unknown_revision() {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    let output = run(dir, &["squash", "--upto", "zz9x"]);
    assert_exit(&output, 2);
    insta::assert_snapshot!(db.transcript(&output, dir));
}

/// A second squash may replace the first baseline only as a whole and
/// with more after it: `--upto` a revision inside its set, its last
/// revision, or the baseline itself is refused (exit 2, nothing written),
/// naming the baseline and what to squash up to instead.
fn refused_over_a_baseline(upto: impl FnOnce(&str) -> String) -> String {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    assert_exit(&run(dir, &["squash", "--upto", "b2"]), 0);
    let upto = upto(B1);
    let output = refused(dir, || run(dir, &["squash", "--upto", &upto]));
    db.transcript(&output, dir)
}

/// The first baseline's id: that of `a1, b2`.
const B1: &str = "cb202fc85722";

#[test]
fn squash_refuses_part_of_a_baseline() {
    insta::assert_snapshot!(refused_over_a_baseline(|_| "a1".into()));
}

#[test]
fn squash_refuses_exactly_what_a_baseline_replaces() {
    insta::assert_snapshot!(refused_over_a_baseline(|_| "b2".into()));
}

#[test]
fn squash_refuses_a_baseline_alone() {
    insta::assert_snapshot!(refused_over_a_baseline(str::to_owned));
}

/// `d4` and `e5` after `c3`: the second squash goes up to `d4`, `e5` stays.
fn more_revisions(db: &Db, dir: &Path) {
    let (notes, color) = match db {
        Db::Mysql(_) => ("varchar(200)", "varchar(20)"),
        _ => ("text", "text"),
    };
    let files = [
        (
            "d4_tags.sql",
            format!(
                "-- revision: d4\n-- parents: c3\n-- message: tags\n\n-- migrate:up\n\
                 CREATE TABLE tags (id integer PRIMARY KEY, name {notes} NOT NULL);\n\
                 INSERT INTO notes (body) VALUES ('d4');\n\n-- migrate:down\nDROP TABLE tags;\n"
            ),
        ),
        (
            "e5_colors.sql",
            format!(
                "-- revision: e5\n-- parents: d4\n-- message: colors\n\n-- migrate:up\n\
                 ALTER TABLE tags ADD COLUMN color {color};\nINSERT INTO notes (body) VALUES ('e5');\n"
            ),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join("migrations").join(name), text).unwrap();
    }
    assert_exit(&run(dir, &["lock"]), 0);
}

/// The nested squash: `plain` (every revision), `part` (at `a1`) and `set`
/// (at `b2`) upgraded before the first squash (`--upto b2`, baseline
/// `B1`); `inner` (the baseline `B1` only) and `over` (`B1`, `c3`, `d4`)
/// upgraded after it; then the second squash (`--upto d4`). Returns the
/// project and the second squash's transcript.
fn squashed_twice(db: &Db) -> (tempfile::TempDir, String) {
    let project = db.project();
    let dir = project.path();
    more_revisions(db, dir);
    for (name, target) in [("plain", "head"), ("part", "a1"), ("set", "b2")] {
        assert_exit(&run(dir, &["upgrade", target, "--database-url", &db.url(dir, name)]), 0);
    }
    assert_exit(&run(dir, &["squash", "--upto", "b2", "--database-url", &db.url(dir, "scratch")]), 0);
    for (name, target) in [("inner", B1), ("over", "d4")] {
        assert_exit(&run(dir, &["upgrade", target, "--database-url", &db.url(dir, name)]), 0);
    }
    let output = run(dir, &["squash", "--upto", "d4", "--database-url", &db.url(dir, "scratch2")]);
    assert_exit(&output, 0);
    let transcript = db.transcript(&output, dir);
    (project, transcript)
}

/// The second baseline's file (the one not under `squashed/`).
fn outer_baseline(dir: &Path) -> (PathBuf, String) {
    let (path, text) = baseline(dir);
    assert!(text.contains("-- replaces: a1, b2, cb202fc85722, c3, d4"), "{text}");
    (path, text)
}

/// A second squash over the first baseline: every database, wherever it
/// was, upgrades to the schema and rows of one that replayed every
/// original revision; `status` and `check` pass on each; a new database
/// runs only the second baseline (and `e5`).
#[test]
fn a_second_squash_over_a_baseline_upgrades_every_database_on_sqlite() {
    let db = Db::Sqlite;
    let (project, squash) = squashed_twice(&db);
    let dir = project.path();
    let (_, text) = outer_baseline(dir);
    let history = db.transcript(&run(dir, &["history"]), dir);
    let (plain, plain_rows) = db.read(dir, "plain");
    let mut report =
        format!("{squash}=== files\n{}\n=== baseline\n{}=== history\n{history}", files(dir), redact_created(&text));
    for name in ["plain", "part", "set", "inner", "over", "fresh"] {
        let url = db.url(dir, name);
        // What is pending, and which baselines are only to record.
        let before = db.transcript(&run(dir, &["status", "--database-url", &url]), dir);
        let upgrade = run(dir, &["upgrade", "-v", "--database-url", &url]);
        assert_exit(&upgrade, 0);
        let (schema, rows) = db.read(dir, name);
        assert_eq!(diff(&plain, &schema), [], "{name}: the schema of a full replay");
        assert_eq!(rows, plain_rows, "{name}: the rows of a full replay");
        let status = run(dir, &["status", "--database-url", &url]);
        assert_exit(&status, 0);
        let check = run(dir, &["check", "--no-models", "--database-url", &url]);
        assert_exit(&check, 0);
        report.push_str(&format!(
            "=== {name}: status before\n{before}=== {name}: upgrade -v\n{}=== {name}: versions\n{}\n=== {name}: status\n{}=== {name}: check\n{}",
            db.transcript(&upgrade, dir),
            db.versions(dir, name).join("\n"),
            db.transcript(&status, dir),
            db.transcript(&check, dir),
        ));
    }
    insta::assert_snapshot!(report);
}

/// The main path on a server: after the second squash, a database with
/// the first baseline recorded and one at `a1` upgrade to the schema and
/// rows of a full replay, and `check` proves the second baseline. `name`
/// names the snapshot.
fn a_second_squash_upgrades_on_a_server(name: &str, db: Db) {
    let (project, squash) = squashed_twice(&db);
    let dir = project.path();
    let (_, text) = outer_baseline(dir);
    let (plain, plain_rows) = db.read(dir, "plain");
    let mut report = format!("{squash}=== baseline\n{}", redact_created(&text));
    for database in ["inner", "part"] {
        let upgrade = run(dir, &["upgrade", "-v", "--database-url", &db.url(dir, database)]);
        assert_exit(&upgrade, 0);
        let (schema, rows) = db.read(dir, database);
        assert_eq!(diff(&plain, &schema), [], "{database}: the schema of a full replay");
        assert_eq!(rows, plain_rows, "{database}: the rows of a full replay");
        report.push_str(&format!(
            "=== {database}: upgrade -v\n{}=== {database}: versions\n{}\n",
            db.transcript(&upgrade, dir),
            db.versions(dir, database).join("\n")
        ));
    }
    assert_exit(&run(dir, &["upgrade", "--database-url", &db.url(dir, "plain")]), 0);
    let check = run(dir, &["check", "--no-models", "--database-url", &db.url(dir, "plain")]);
    assert_exit(&check, 0);
    report.push_str(&format!("=== check\n{}", db.transcript(&check, dir)));
    insta::assert_snapshot!(name, report);
}

#[test]
fn a_second_squash_over_a_baseline_upgrades_every_database_on_postgres() {
    a_second_squash_upgrades_on_a_server(
        "a_second_squash_over_a_baseline_upgrades_every_database_on_postgres",
        Db::postgres(),
    );
}

#[test]
fn a_second_squash_over_a_baseline_upgrades_every_database_on_mysql() {
    a_second_squash_upgrades_on_a_server(
        "a_second_squash_over_a_baseline_upgrades_every_database_on_mysql",
        Db::mysql(),
    );
}

/// Down through nested baselines with the command: after the second
/// squash, a database that applied `a1` before both squashes and one that
/// ran the first baseline are upgraded to `d4`, then downgraded to `c3`: the second
/// baseline (only recorded over their rows) is forgotten and `d4` reverted
/// alone, leaving each with the schema of a database that never got past
/// `c3`; a new
/// database, which ran the second baseline whole, is refused (exit 101, as
/// any plan that cannot be carried out) and
/// left as it was.
#[test]
fn a_downgrade_through_nested_baselines_on_sqlite() {
    let db = Db::Sqlite;
    let (project, _) = squashed_twice(&db);
    let dir = project.path();
    let mut report = String::new();
    for name in ["part", "inner", "fresh"] {
        // To d4, the second baseline's last revision (e5 has no down section).
        assert_exit(&run(dir, &["upgrade", "d4", "--database-url", &db.url(dir, name)]), 0);
        let downgrade = run(dir, &["downgrade", "c3", "--database-url", &db.url(dir, name)]);
        assert_exit(&downgrade, if name == "fresh" { 101 } else { 0 });
        report.push_str(&format!(
            "=== {name}: downgrade c3\n{}=== {name}: versions\n{}\n",
            db.transcript(&downgrade, dir),
            db.versions(dir, name).join("\n")
        ));
    }
    // What a database that was only ever upgraded to c3 has.
    let reference = run(dir, &["upgrade", "c3", "--database-url", &db.url(dir, "at_c3")]);
    assert_exit(&reference, 0);
    // The schema only: d4's down section drops its table and leaves the
    // row its up section inserted.
    let (at_c3, _) = db.read(dir, "at_c3");
    for name in ["part", "inner"] {
        let (schema, _) = db.read(dir, name);
        assert_eq!(diff(&at_c3, &schema), [], "{name}: the schema at c3");
    }
    insta::assert_snapshot!(report);
}

/// Over a pruned baseline: the second baseline lists the pruned ids too,
/// so that pruning it later leaves no row belonging to no revision.
#[test]
fn a_second_squash_over_a_pruned_baseline_lists_the_pruned_ids() {
    let project = recorded_everywhere();
    let dir = project.path();
    assert_exit(&with_environments(dir, &["squash", "--prune", "--upto", "b2"], true), 0);
    let scratch = format!("sqlite:{}", dir.join("scratch.db").display());
    let output = with_environments(dir, &["squash", "--upto", "c3", "--database-url", &scratch], true);
    assert_exit(&output, 0);
    let (_, text) = baseline(dir);
    assert!(text.contains("-- replaces: a1, b2, cb202fc85722, c3\n"), "{text}");
    let production = with_environments(dir, &["upgrade", "-v", "--env", "production"], true);
    assert_exit(&production, 0);
    let fresh = run(dir, &["upgrade", "--database-url", &format!("sqlite:{}", dir.join("fresh.db").display())]);
    assert_exit(&fresh, 0);
    let check = with_environments(dir, &["check", "--no-models"], true);
    assert_exit(&check, 0);
    let db = Db::Sqlite;
    insta::assert_snapshot!(format!(
        "{}=== files\n{}\n=== upgrade --env production\n{}=== upgrade (new database)\n{}=== check\n{}",
        db.transcript(&output, dir),
        files(dir),
        db.transcript(&production, dir),
        db.transcript(&fresh, dir),
        db.transcript(&check, dir),
    ));
}

/// The SQLite revisions with `d4` and `e5`, the environments
/// `production` (every revision) and `staging` (at `a1`) upgraded before
/// the squashes (`--upto b2`, then `--upto d4`), and both after.
fn environments_squashed_twice() -> tempfile::TempDir {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    more_revisions(&db, dir);
    let manifest = "[package]\nname = \"squashed\"\nversion = \"0.1.0\"\n\n\
                    [package.metadata.migrate.environments.production]\nurl-env = \"PRODUCTION_DATABASE_URL\"\n\n\
                    [package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    assert_exit(&with_environments(dir, &["upgrade", "--env", "production"], true), 0);
    assert_exit(&with_environments(dir, &["upgrade", "a1", "--env", "staging"], true), 0);
    assert_exit(&run(dir, &["squash", "--upto", "b2"]), 0);
    assert_exit(&run(dir, &["squash", "--upto", "d4"]), 0);
    for name in ["production", "staging"] {
        assert_exit(&with_environments(dir, &["upgrade", "--env", name], true), 0);
    }
    project
}

/// Pruning the first baseline after the second one exists: squashed/<B1>/
/// goes, `a1` and `b2` are unpinned, the first baseline's file stays in
/// squashed/<B2>/ (the second baseline still lists `a1` and `b2`, now
/// pruned); the environments upgrade and `check` passes; then the second
/// baseline is pruned too.
#[test]
fn prune_of_the_first_baseline_then_the_second() {
    let db = Db::Sqlite;
    let project = environments_squashed_twice();
    let dir = project.path();
    let inner = with_environments(dir, &["squash", "--prune", "--upto", "b2"], true);
    assert_exit(&inner, 0);
    let files_after_inner = files(dir);
    let history = with_environments(dir, &["history"], true);
    let staging = with_environments(dir, &["upgrade", "--env", "staging"], true);
    let check = with_environments(dir, &["check", "--no-models"], true);
    let fresh = run(dir, &["upgrade", "--database-url", &format!("sqlite:{}", dir.join("fresh.db").display())]);
    let outer = with_environments(dir, &["squash", "--prune", "--upto", "d4"], true);
    let check_after = with_environments(dir, &["check", "--no-models"], true);
    for output in [&history, &staging, &check, &fresh, &outer, &check_after] {
        assert_exit(output, 0);
    }
    insta::assert_snapshot!(format!(
        "{}=== files\n{files_after_inner}\n=== history\n{}=== upgrade --env staging\n{}=== check\n{}=== upgrade (new database)\n{}=== prune the second\n{}=== files\n{}\n=== check\n{}",
        db.transcript(&inner, dir),
        db.transcript(&history, dir),
        db.transcript(&staging, dir),
        db.transcript(&check, dir),
        db.transcript(&fresh, dir),
        db.transcript(&outer, dir),
        files(dir),
        db.transcript(&check_after, dir),
    ));
}

/// `squash --prune` of the second baseline once both environments are
/// past it (`production` replayed every revision before the squashes,
/// `staging` was at `a1`): squashed/<B2>/ and squashed/<B1>/ go, every
/// replaced revision is unpinned, and the environments, whose rows for
/// `a1`, `b2`, `B1`, `c3` and `d4` now belong to the second baseline,
/// upgrade and pass `check`; a new database runs the second baseline.
#[test]
fn prune_of_a_second_baseline_deletes_both_directories() {
    let db = Db::Sqlite;
    let project = environments_squashed_twice();
    let dir = project.path();
    let (path, _) = outer_baseline(dir);
    let output = with_environments(dir, &["squash", "--prune", "--upto", "d4"], true);
    assert_exit(&output, 0);
    let lock = std::fs::read_to_string(dir.join("migrations/migrate.lock")).unwrap();
    let b2 = path.file_name().unwrap().to_string_lossy()[..12].to_owned();
    let pinned: Vec<&str> = lock.lines().filter_map(|line| line.split_once(" = \"sha256:")).map(|(id, _)| id).collect();
    assert_eq!(pinned, [b2.as_str(), "e5"], "every replaced revision unpinned");
    let history = with_environments(dir, &["history"], true);
    let production = with_environments(dir, &["upgrade", "--env", "production"], true);
    let staging = with_environments(dir, &["status", "--env", "staging"], true);
    let fresh = run(dir, &["upgrade", "--database-url", &format!("sqlite:{}", dir.join("fresh.db").display())]);
    let check = with_environments(dir, &["check", "--no-models"], true);
    for output in [&production, &staging, &fresh, &check] {
        assert_exit(output, 0);
    }
    insta::assert_snapshot!(format!(
        "{}=== files\n{}\n=== history\n{}=== upgrade --env production\n{}=== status --env staging\n{}=== upgrade (new database)\n{}=== check\n{}",
        db.transcript(&output, dir),
        files(dir),
        db.transcript(&history, dir),
        db.transcript(&production, dir),
        db.transcript(&staging, dir),
        db.transcript(&fresh, dir),
        db.transcript(&check, dir),
    ));
}

/// A package with the SQLite revisions and the environments `production`
/// and `staging`, each with a database at `head`, squashed up to `b2`.
fn environments() -> tempfile::TempDir {
    let project = Db::Sqlite.project();
    let dir = project.path();
    let manifest = "[package]\nname = \"squashed\"\nversion = \"0.1.0\"\n\n\
                    [package.metadata.migrate.environments.production]\nurl-env = \"PRODUCTION_DATABASE_URL\"\n\n\
                    [package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    for name in ["production", "staging"] {
        assert_exit(&with_environments(dir, &["upgrade", "--env", name], true), 0);
    }
    assert_exit(&run(dir, &["squash", "--upto", "b2"]), 0);
    project
}

/// [`environments`], each environment upgraded, so that both recorded the baseline.
fn recorded_everywhere() -> tempfile::TempDir {
    let project = environments();
    for name in ["production", "staging"] {
        assert_exit(&with_environments(project.path(), &["upgrade", "--env", name], true), 0);
    }
    project
}

/// `cargo migrate ARGS` in the package at `dir`, with the environments'
/// variables set (`staging` only when `staging`).
fn with_environments(dir: &Path, args: &[&str], staging: bool) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
    command.arg("migrate").args(args).current_dir(dir).env("CARGO_TERM_COLOR", "never");
    command.env_remove("DATABASE_URL").env_remove("STAGING_DATABASE_URL").env_remove("CARGO_MANIFEST_DIR");
    command.env("PRODUCTION_DATABASE_URL", format!("sqlite:{}", dir.join("production.db").display()));
    if staging {
        command.env("STAGING_DATABASE_URL", format!("sqlite:{}", dir.join("staging.db").display()));
    }
    command.output().unwrap()
}

#[test]
fn prune_refuses_while_an_environment_is_behind_or_unreachable() {
    let project = environments();
    let dir = project.path();
    let before = files(dir);
    let output = with_environments(dir, &["squash", "--prune", "--upto", "b2"], false);
    assert_exit(&output, 4);
    assert_eq!(files(dir), before, "nothing deleted");
    insta::assert_snapshot!(Db::Sqlite.transcript(&output, dir));
}

#[test]
fn prune_deletes_the_replaced_files_once_every_environment_recorded_the_baseline() {
    let project = recorded_everywhere();
    let dir = project.path();
    let output = with_environments(dir, &["squash", "--prune", "--upto", "b2"], true);
    assert_exit(&output, 0);
    let history = with_environments(dir, &["history"], true);
    // The environments are up to date, their rows for a1 and b2 are the baseline's;
    // a new database runs the baseline, then c3, whose parent b2 is gone.
    let production = with_environments(dir, &["upgrade", "--env", "production"], true);
    let fresh = run(dir, &["upgrade", "--database-url", &format!("sqlite:{}", dir.join("fresh.db").display())]);
    let check = with_environments(dir, &["check"], true);
    let db = Db::Sqlite;
    insta::assert_snapshot!(format!(
        "{}=== files\n{}\n=== lock\n{}=== history\n{}=== upgrade --env production\n{}=== upgrade (new database)\n{}=== check\n{}",
        db.transcript(&output, dir),
        files(dir),
        // The baseline's checksum covers its `created` header.
        std::fs::read_to_string(dir.join("migrations/migrate.lock"))
            .unwrap()
            .lines()
            .map(|line| match line.split_once(" = \"sha256:") {
                Some((id, _)) if baseline(dir).0.file_name().unwrap().to_string_lossy().starts_with(id) => {
                    format!("{id} = \"[CHECKSUM]\"\n")
                }
                _ => format!("{line}\n"),
            })
            .collect::<String>(),
        db.transcript(&history, dir),
        db.transcript(&production, dir),
        db.transcript(&fresh, dir),
        db.transcript(&check, dir),
    ));
}

/// Gives `b2` a down section (re-pinned), so that `verify`'s walk goes on past it.
fn with_b2_reversible(dir: &Path) {
    let b2 = dir.join("migrations/b2_kinds.sql");
    let text = std::fs::read_to_string(&b2).unwrap();
    std::fs::write(
        &b2,
        format!("{text}\n-- migrate:down\nDROP TABLE notes;\nDROP INDEX users_email;\nALTER TABLE users DROP COLUMN kind_id;\nDELETE FROM kinds;\n"),
    )
    .unwrap();
    assert_exit(&run(dir, &["lock", "--update", "b2"]), 0);
}

/// `verify` walks the replaced revisions one by one, records the baseline
/// over them (neither reverted nor ending the down check) and compares the
/// full upgrade, which runs the baseline, with the walk.
#[test]
fn verify_records_the_baseline_and_runs_it_in_the_full_upgrade() {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    with_b2_reversible(dir);
    assert_exit(&run(dir, &["squash", "--upto", "b2"]), 0);
    let output = run(dir, &["verify"]);
    assert_exit(&output, 0);
    insta::assert_snapshot!(db.transcript(&output, dir));
}

/// `verify` over nested baselines: the walk applies `a1` and `b2`,
/// records the first baseline, applies `c3` and `d4`, records the second
/// one, and the full upgrade runs the second baseline alone (then `e5`).
#[test]
fn verify_walks_nested_baselines() {
    let db = Db::Sqlite;
    let project = db.project();
    let dir = project.path();
    with_b2_reversible(dir);
    more_revisions(&db, dir);
    assert_exit(&run(dir, &["squash", "--upto", "b2"]), 0);
    assert_exit(&run(dir, &["squash", "--upto", "d4"]), 0);
    let output = run(dir, &["verify"]);
    assert_exit(&output, 0);
    insta::assert_snapshot!(db.transcript(&output, dir));
}

/// `check` proves the second baseline against the history without it
/// (the first baseline, then `c3` and `d4`): edited to leave out the row
/// `d4` inserted (re-pinned, so only the proof can tell), it fails.
#[test]
fn check_fails_on_an_edited_second_baseline() {
    let db = Db::Sqlite;
    let (project, _) = squashed_twice(&db);
    let dir = project.path();
    let (path, text) = outer_baseline(dir);
    let edited: String = text.lines().filter(|line| !line.contains("'d4'")).map(|line| format!("{line}\n")).collect();
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let id = path.file_name().unwrap().to_string_lossy()[..12].to_owned();
    assert_exit(&run(dir, &["lock", "--update", &id]), 0);
    let check = run(dir, &["check", "--no-models", "--database-url", &db.url(dir, "plain")]);
    assert_exit(&check, 1);
    insta::assert_snapshot!(db.transcript(&check, dir));
}
