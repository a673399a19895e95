//! "The database you meant" (issue #16): other `*_DATABASE_URL` variables,
//! the `dialect` setting, SQLAlchemy URLs, TLS in `status`, `current` in
//! ranges, statements with `-v`; "already exists" advice, `--allow-newer`,
//! and `current` listing unknown revisions.

use std::path::Path;
use std::process::{Command, Output};

use tests::support::TestDatabase;

use crate::hardening::{project, rev};
use crate::redacted;

/// `cargo-migrate migrate ARGS` in `dir`, with extra environment variables.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
    command.arg("migrate").args(args).current_dir(dir).env("CARGO_TERM_COLOR", "never").env_remove("DATABASE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run cargo-migrate")
}

/// A cargo project whose `[package.metadata.migrate]` holds `metadata`.
fn cargo_project(metadata: &str, revisions: &[(&str, String)]) -> tempfile::TempDir {
    let dir = project(revisions);
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!("[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.migrate]\n{metadata}\n"),
    )
    .unwrap();
    dir
}

fn two() -> Vec<(&'static str, String)> {
    vec![
        ("a.sql", rev("a", "", "", "CREATE TABLE a (id INT);")),
        ("b.sql", rev("b", "a", "", "CREATE TABLE b (id INT);\nCREATE INDEX b_id ON b (id);")),
    ]
}

/// What varies between runs of PostgreSQL tests: the database name and the server version.
fn pg_redacted(output: &Output, db: &TestDatabase) -> String {
    let text = redacted(output, &[(&db.server_prefix(), "postgres://postgres@127.0.0.1:5432/"), (&db.name, "[DB]")]);
    text.lines()
        .map(|line| match line.find("ok (PostgreSQL") {
            Some(at) => format!("{}ok ([VERSION])", &line[..at]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_default_is_refused_while_dotenv_holds_another_database_url() {
    let dir = project(&two());
    std::fs::write(
        dir.path().join(".env"),
        "SECRET_KEY=x\nSQLALCHEMY_DATABASE_URL=postgresql://alice:S3cr3t@localhost:5432/startup_connect_dev\n",
    )
    .unwrap();
    let output = run_env(dir.path(), &["status", "--dir", "migrations"], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn the_default_is_refused_while_the_environment_holds_another_database_url() {
    let dir = project(&two());
    let env = [("SQLALCHEMY_DATABASE_URL", "postgresql+psycopg2://alice:S3cr3t@localhost/app")];
    let output = run_env(dir.path(), &["upgrade", "--dir", "migrations"], &env);
    insta::assert_snapshot!(redacted(&output, &[]));
    assert!(!dir.path().join("target").exists(), "nothing was created");
}

#[test]
fn a_postgres_history_refuses_the_sqlite_default() {
    let dir = cargo_project("dialect = \"postgres\"", &two());
    let output = run_env(dir.path(), &["upgrade"], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn a_sqlite_history_refuses_a_postgres_url() {
    let dir = cargo_project("dialect = \"sqlite\"", &two());
    let output = run_env(dir.path(), &["status"], &[("DATABASE_URL", "postgres://alice:S3cr3t@localhost/app")]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn an_offline_script_of_a_postgres_history_without_a_url_is_postgres_sql() {
    let dir = cargo_project("dialect = \"postgres\"", &two());
    let output = run_env(dir.path(), &["sql", "a:b"], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn sqlalchemy_sqlite_url_says_with_v_that_the_driver_is_dropped_and_prints_each_statement_of_a_dry_run() {
    let dir = project(&two());
    let env = [("SQLALCHEMY_DATABASE_URL", "sqlite+pysqlite:///app.db")];
    std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[package.metadata.migrate]\ndatabase-url-env = \"SQLALCHEMY_DATABASE_URL\"\n").unwrap();
    let output = run_env(dir.path(), &["upgrade", "--dry-run", "-v"], &env);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn status_shows_an_encrypted_session_of_a_sqlalchemy_url_with_sslmode_require() {
    let db = TestDatabase::create("tls_on");
    let dir = project(&two());
    let url = db.url.replace("postgres://", "postgresql+asyncpg://") + "?sslmode=require";
    std::fs::write(dir.path().join(".env"), format!("DATABASE_URL={url}\n")).unwrap();
    let output = run_env(dir.path(), &["status", "-v", "--dir", "migrations"], &[]);
    insta::assert_snapshot!(pg_redacted(&output, &db));
}

#[test]
fn status_shows_an_unencrypted_session_with_sslmode_disable() {
    let db = TestDatabase::create("tls_off");
    let dir = project(&two());
    let url = format!("{}?sslmode=disable", db.url);
    let output = run_env(dir.path(), &["status", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(pg_redacted(&output, &db));
}

#[test]
fn sql_from_current_asks_the_database() {
    let dir = project(&two());
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let up = run_env(dir.path(), &["upgrade", "a", "--dir", "migrations", "--database-url", &url], &[]);
    assert!(up.status.success(), "{}", redacted(&up, &[]));
    let output = run_env(dir.path(), &["sql", "current:head", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn upgrade_sql_from_current_asks_the_database() {
    let dir = project(&two());
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let up = run_env(dir.path(), &["upgrade", "a", "--dir", "migrations", "--database-url", &url], &[]);
    assert!(up.status.success(), "{}", redacted(&up, &[]));
    let output =
        run_env(dir.path(), &["upgrade", "--sql", "current:head", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn postgres_already_exists_hints_at_stamp_and_diff() {
    let db = TestDatabase::create("exists");
    db.query("CREATE TABLE a (id INT)");
    let dir = project(&two());
    let output = run_env(dir.path(), &["upgrade", "--dir", "migrations", "--database-url", &db.url], &[]);
    insta::assert_snapshot!(pg_redacted(&output, &db));
}

#[test]
fn sqlite_already_exists_hints_at_stamp_and_diff() {
    let dir = project(&two());
    let path = dir.path().join("app.db");
    rusqlite_free_create(&path, "CREATE TABLE b (id INT);");
    let url = format!("sqlite:{}", path.display());
    let output = run_env(dir.path(), &["upgrade", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

fn rusqlite_free_create(path: &Path, sql: &str) {
    let output = Command::new("sqlite3").arg(path).arg(sql).output().expect("sqlite3 is installed");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// A database a newer build migrated to `c`; this checkout has `a` and `b`.
fn newer_database() -> (tempfile::TempDir, String) {
    let mut revisions = two();
    revisions.push(("c.sql", rev("c", "b", "", "CREATE TABLE c (id INT);")));
    let dir = project(&revisions);
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let up = run_env(dir.path(), &["upgrade", "--dir", "migrations", "--database-url", &url], &[]);
    assert!(up.status.success(), "{}", redacted(&up, &[]));
    std::fs::remove_file(dir.path().join("migrations/c.sql")).unwrap();
    (dir, url)
}

#[test]
fn unknown_newer_revisions_refuse_naming_allow_newer() {
    let (dir, url) = newer_database();
    let output = run_env(dir.path(), &["upgrade", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn allow_newer_upgrades_against_unknown_newer_revisions() {
    let (dir, url) = newer_database();
    let output = run_env(dir.path(), &["upgrade", "--allow-newer", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn allow_newer_still_refuses_unknown_revisions_older_than_a_known_one() {
    let (dir, url) = newer_database();
    rusqlite_free_create(
        &dir.path().join("app.db"),
        "UPDATE migrate_versions SET applied_at = '2020-01-01 00:00:00' WHERE revision = 'c'",
    );
    let output = run_env(dir.path(), &["upgrade", "--allow-newer", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn current_lists_unknown_revisions_too() {
    let (dir, url) = newer_database();
    let output = run_env(dir.path(), &["current", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn downgrade_sql_from_current_asks_the_database() {
    let mut revisions = two();
    revisions[1].1 = rev("b", "a", "", "CREATE TABLE b (id INT);\n\n-- migrate:down\nDROP TABLE b;");
    let dir = project(&revisions);
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let up = run_env(dir.path(), &["upgrade", "--dir", "migrations", "--database-url", &url], &[]);
    assert!(up.status.success(), "{}", redacted(&up, &[]));
    let output =
        run_env(dir.path(), &["downgrade", "--sql", "current:-1", "--dir", "migrations", "--database-url", &url], &[]);
    insta::assert_snapshot!(redacted(&output, &[]));
}
