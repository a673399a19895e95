//! `verify`: every down section proved on scratch databases, on SQLite (in
//! memory) and on the machine's PostgreSQL (temporary databases, dropped
//! afterwards). Each broken history is snapshotted as people read it.

use std::path::Path;
use std::process::{Command, Output};

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, redacted};

/// A revision file: `(name, text)`; no down section when `down` is `None`.
fn revision(id: &str, parents: &str, message: &str, up: &str, down: Option<&str>) -> (String, String) {
    let mut text = format!("-- revision: {id}\n-- parents: {parents}\n-- message: {message}\n\n-- migrate:up\n{up}\n");
    if let Some(down) = down {
        text.push_str(&format!("\n-- migrate:down\n{down}\n"));
    }
    (format!("{id}.sql"), text)
}

/// A project in a temporary directory with these revisions in `migrations/`.
fn project(revisions: &[(String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    for (name, text) in revisions {
        std::fs::write(dir.path().join("migrations").join(name), text).unwrap();
    }
    dir
}

/// Where the scratch databases go: SQLite in memory, or a PostgreSQL server.
enum Db {
    Sqlite,
    Postgres(TestDatabase),
}

impl Db {
    fn postgres(label: &str) -> Db {
        Db::Postgres(TestDatabase::create(label))
    }

    fn url(&self) -> String {
        match self {
            Db::Sqlite => "sqlite::memory:".to_owned(),
            Db::Postgres(db) => db.url.clone(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Db::Sqlite => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// `cargo migrate verify ARGS` on the project in `dir`; on PostgreSQL
    /// also checks that no scratch database is left behind.
    fn verify(&self, dir: &Path, args: &[&str]) -> Output {
        let url = self.url();
        let child = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
            .args(["migrate", "verify", "--dir", "migrations", "--database-url", &url])
            .args(args)
            .current_dir(dir)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let output = child.wait_with_output().unwrap();
        if let Db::Postgres(db) = self {
            assert_eq!(scratch_databases(db, pid), 0, "scratch databases left behind");
        }
        output
    }

    /// The transcript, with the temporary directory, the server and times redacted.
    fn transcript(&self, output: &Output, dir: &Path) -> String {
        let text = redacted(output, &[(&dir.display().to_string(), "[DIR]")]);
        match text.split_once("(temporary databases on ") {
            Some((before, after)) => {
                let rest = after.split_once(')').map_or("", |(_, rest)| rest);
                format!("{before}(temporary databases on [SERVER]){rest}")
            }
            None => text,
        }
    }
}

/// Scratch databases left by the process `pid`.
fn scratch_databases(db: &TestDatabase, pid: u32) -> usize {
    db.query(&format!("SELECT count(*) FROM pg_database WHERE datname LIKE 'cargo_migrate_scratch_{pid}_%'"))[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);";

/// A down section that forgets the index its up section creates.
fn a_down_that_forgets_an_index(db: &Db) {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "index emails",
            "CREATE INDEX ix_users_email ON users (email);",
            Some("-- the index stays: forgotten"),
        ),
        revision(
            "c3",
            "b2",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(stderr.contains("new index ix_users_email on users"), "{stderr}");
    insta::assert_snapshot!(format!("forgotten_index_{}", db.name()), db.transcript(&output, dir.path()));
}

#[test]
fn sqlite_a_down_that_forgets_an_index() {
    a_down_that_forgets_an_index(&Db::Sqlite);
}

#[test]
fn postgres_a_down_that_forgets_an_index() {
    a_down_that_forgets_an_index(&Db::postgres("verify_index"));
}

/// A down section that drops another column than the one its up section adds.
fn a_down_that_drops_the_wrong_column(db: &Db) {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add nickname",
            "ALTER TABLE users ADD COLUMN nickname TEXT;",
            Some("ALTER TABLE users DROP COLUMN email;"),
        ),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(stderr.contains("new column users.nickname (text)"), "{stderr}");
    assert!(stderr.contains("column users.email removed"), "{stderr}");
    insta::assert_snapshot!(format!("wrong_column_{}", db.name()), db.transcript(&output, dir.path()));
}

#[test]
fn sqlite_a_down_that_drops_the_wrong_column() {
    a_down_that_drops_the_wrong_column(&Db::Sqlite);
}

#[test]
fn postgres_a_down_that_drops_the_wrong_column() {
    a_down_that_drops_the_wrong_column(&Db::postgres("verify_column"));
}

/// PostgreSQL: a down section that drops the column but leaves its enum type.
#[test]
fn postgres_a_down_that_leaves_an_enum_behind() {
    let db = Db::postgres("verify_enum");
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add moods",
            "CREATE TYPE mood AS ENUM ('happy', 'sad');\nALTER TABLE users ADD COLUMN mood mood;",
            Some("ALTER TABLE users DROP COLUMN mood;"),
        ),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(stderr.contains("new enum mood (happy, sad)"), "{stderr}");
    insta::assert_snapshot!("enum_left_behind_postgres", db.transcript(&output, dir.path()));
}

/// SQLite: a down section that drops the table but leaves the view on it.
#[test]
fn sqlite_a_down_that_leaves_a_view_behind() {
    let db = Db::Sqlite;
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add teams and a view",
            "CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT);\nCREATE VIEW team_names AS SELECT name FROM teams;",
            Some("DROP TABLE teams;"),
        ),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(stderr.contains("new view team_names"), "{stderr}");
    insta::assert_snapshot!("view_left_behind_sqlite", db.transcript(&output, dir.path()));
}

/// Two branches from `a1` whose order matters: `c3` copies the table `b2`
/// adds a column to. Every down section restores its schema, and the walk
/// (b2, then c3) passes; applied `c3` first, the merge builds another schema.
fn a_merge_whose_order_matters(db: &Db) {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
        revision(
            "c3",
            "a1",
            "archive users",
            "CREATE TABLE users_archive AS SELECT * FROM users;",
            Some("DROP TABLE users_archive;"),
        ),
        revision("m4", "b2, c3", "merge", "", Some("")),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(stderr.contains("merge revision `m4` (migrations/m4.sql) builds another schema"), "{stderr}");
    assert!(stderr.contains("column users_archive.name removed"), "{stderr}");
    insta::assert_snapshot!(format!("merge_order_{}", db.name()), db.transcript(&output, dir.path()));
}

#[test]
fn sqlite_a_merge_whose_order_matters() {
    a_merge_whose_order_matters(&Db::Sqlite);
}

#[test]
fn postgres_a_merge_whose_order_matters() {
    a_merge_whose_order_matters(&Db::postgres("verify_merge"));
}

/// A branch that only works after the other one: applied first, it fails.
#[test]
fn a_merge_that_fails_in_the_other_order() {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
        revision(
            "c3",
            "a1",
            "index names",
            "CREATE INDEX ix_users_name ON users (name);",
            Some("DROP INDEX ix_users_name;"),
        ),
        revision("m4", "b2, c3", "merge", "", Some("")),
    ]);
    let (_, stderr) = assert_exit(&Db::Sqlite.verify(dir.path(), &[]), 1);
    assert!(
        stderr.contains("merge revision `m4` does not upgrade with `c3`'s branch applied first: migrations/c3.sql:6:"),
        "{stderr}"
    );
    assert!(stderr.contains("Verified c3 index names"), "the walk itself passes: {stderr}");
}

/// A revision without a down section ends the down check there, said
/// plainly; the revisions after it are still upgraded, and nothing fails.
#[test]
fn a_revision_without_a_down_section_ends_the_down_check() {
    let db = Db::Sqlite;
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision("b2", "a1", "backfill emails", "UPDATE users SET email = lower(email);", None),
        revision(
            "c3",
            "b2",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("-- not checked: this down forgets the column"),
        ),
    ]);
    let output = db.verify(dir.path(), &[]);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(
        stderr.contains("revision `b2` (migrations/b2.sql) has no down section: the down check ends here"),
        "{stderr}"
    );
    insta::assert_snapshot!("no_down_section_sqlite", db.transcript(&output, dir.path()));
}

/// `--from REV` walks only what comes after REV, from a scratch database
/// upgraded to it: the broken down section of `b2` is below the start.
#[test]
fn from_verifies_only_the_revisions_after_it() {
    let db = Db::Sqlite;
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision("b2", "a1", "index emails", "CREATE INDEX ix_users_email ON users (email);", Some("")),
        revision(
            "c3",
            "b2",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
    ]);
    let output = db.verify(dir.path(), &["--from", "b2"]);
    assert_exit(&output, 0);
    insta::assert_snapshot!("from_sqlite", db.transcript(&output, dir.path()));

    let (_, stderr) = assert_exit(&db.verify(dir.path(), &["--from", "a1"]), 1);
    assert!(stderr.contains("the down section of revision `b2` (migrations/b2.sql) does not restore"), "{stderr}");
    let (_, stderr) = assert_exit(&db.verify(dir.path(), &["--from", "nope"]), 2);
    assert!(stderr.contains("no revision matches `nope`"), "{stderr}");
}

/// A clean history with a branch and a merge, and models equal to its head
/// schema, passes; models that differ fail.
fn a_clean_history_passes(db: &Db) {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN name;"),
        ),
        revision(
            "c3",
            "a1",
            "index emails",
            "CREATE INDEX ix_users_email ON users (email);",
            Some("DROP INDEX ix_users_email;"),
        ),
        revision("m4", "b2, c3", "merge", "", Some("")),
    ]);
    let models = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT);\n\
                  CREATE INDEX ix_users_email ON users (email);\n";
    std::fs::write(dir.path().join("schema.sql"), models).unwrap();
    let output = db.verify(dir.path(), &[]);
    assert_exit(&output, 0);
    insta::assert_snapshot!(format!("clean_{}", db.name()), db.transcript(&output, dir.path()));

    std::fs::write(dir.path().join("schema.sql"), format!("{models}CREATE TABLE tags (name TEXT);\n")).unwrap();
    let (_, stderr) = assert_exit(&db.verify(dir.path(), &[]), 1);
    assert!(
        stderr.contains("schema.sql: the models differ from the schema the history builds at its heads\n       the models, compared with the history at its heads:\n         new table tags"),
        "{stderr}"
    );
}

#[test]
fn sqlite_a_clean_history_passes() {
    a_clean_history_passes(&Db::Sqlite);
}

#[test]
fn postgres_a_clean_history_passes() {
    a_clean_history_passes(&Db::postgres("verify_clean"));
}

/// This repository's own `migrations/` (a branch, a merge, a data
/// migration) and `schema.sql` pass on both dialects.
fn this_repositorys_history_passes(db: &Db) {
    let url = db.url();
    let output = crate::cargo_migrate(&repo_root(), &["verify", "--database-url", &url]);
    let (_, stderr) = assert_exit(&output, 0);
    let ids: Vec<String> = std::fs::read_dir(repo_root().join("migrations"))
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str()?.strip_suffix(".sql").map(str::to_owned))
        .map(|name| name.split('_').next().unwrap().to_owned())
        .collect();
    assert!(ids.len() >= 7, "{ids:?}");
    for id in ids {
        assert!(stderr.contains(&format!("Verified {id} ")), "{id} is verified: {stderr}");
    }
    assert!(stderr.contains("Checked merge e12b7f3a8c95"), "{stderr}");
    assert!(stderr.contains("Checked schema.sql: the same schema as the history at its heads"), "{stderr}");
}

#[test]
fn sqlite_this_repositorys_history_passes() {
    this_repositorys_history_passes(&Db::Sqlite);
}

#[test]
fn postgres_this_repositorys_history_passes() {
    this_repositorys_history_passes(&Db::postgres("verify_repo"));
}

/// Two heads fail unless the configuration allows them.
#[test]
fn several_heads_fail_unless_allowed() {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision("b2", "", "create teams", "CREATE TABLE teams (id INTEGER);", Some("DROP TABLE teams;")),
    ]);
    let (_, stderr) = assert_exit(&Db::Sqlite.verify(dir.path(), &[]), 1);
    assert!(stderr.contains("error: the history has 2 heads (a1, b2); it should have one"), "{stderr}");
    assert!(stderr.contains("Verified b2 create teams"), "the rest is still verified: {stderr}");
}

/// Ctrl-C while a revision runs on a scratch database drops it and exits 130.
#[test]
fn postgres_ctrl_c_drops_the_scratch_databases() {
    let db = TestDatabase::create("verify_ctrl_c");
    let dir = project(&[revision("a1", "", "slow", "SELECT pg_sleep(30);", Some(""))]);
    let child = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .args(["migrate", "verify", "--dir", "migrations", "--database-url", &db.url])
        .current_dir(dir.path())
        .env("CARGO_TERM_COLOR", "never")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while scratch_databases(&db, pid) < 1 {
        assert!(std::time::Instant::now() < deadline, "verify never created its scratch database");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500)); // well into pg_sleep
    assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scratch_databases(&db, pid) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(scratch_databases(&db, pid), 0, "after Ctrl-C");
}

/// PostgreSQL prints an `IN` list on a varchar column in a form it reads
/// back as another expression: a down section that restores the check in
/// the printed form restores it all the same (compared settled).
#[test]
fn postgres_a_check_restored_in_the_form_the_server_prints_passes() {
    let db = Db::postgres("verify_settle");
    let dir = project(&[
        revision(
            "a1",
            "",
            "create orders",
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(10) CONSTRAINT orders_status CHECK (status IN ('new', 'paid')));",
            Some("DROP TABLE orders;"),
        ),
        revision(
            "b2",
            "a1",
            "any status",
            "ALTER TABLE orders DROP CONSTRAINT orders_status;",
            Some(
                "ALTER TABLE orders ADD CONSTRAINT orders_status CHECK (((status)::text = ANY ((ARRAY['new'::character varying, 'paid'::character varying])::text[])));",
            ),
        ),
    ]);
    let (_, stderr) = assert_exit(&db.verify(dir.path(), &[]), 0);
    assert!(stderr.contains("Verified b2 any status"), "{stderr}");
}

/// A down section whose statement fails stops the walk; the full upgrade
/// from base still runs, and finds the up section after it that fails.
#[test]
fn failing_statements_name_their_line() {
    let dir = project(&[
        revision("a1", "", "create users", USERS, Some("DROP TABLE users;")),
        revision(
            "b2",
            "a1",
            "add names",
            "ALTER TABLE users ADD COLUMN name TEXT;",
            Some("ALTER TABLE users DROP COLUMN nickname;"),
        ),
        revision("c3", "b2", "index", "CREATE INDEX ix_users_age ON users (age);", Some("DROP INDEX ix_users_age;")),
    ]);
    let (_, stderr) = assert_exit(&Db::Sqlite.verify(dir.path(), &[]), 1);
    assert!(stderr.contains("error: the down section of revision `b2` fails: migrations/b2.sql:9:"), "{stderr}");
    assert!(stderr.contains("error: a full upgrade from base fails: migrations/c3.sql:6:"), "{stderr}");
    assert!(stderr.contains("note: not reached after the failure: c3"), "{stderr}");
}
