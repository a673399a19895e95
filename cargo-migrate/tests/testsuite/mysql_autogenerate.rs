//! `generate`, `check` and `diff` on MariaDB (`MIGRATE_TEST_MYSQL`, or
//! root@127.0.0.1:3306): scratch databases on the server, the whole output
//! snapshotted with URLs, database names and times redacted. The revision
//! `generate` writes is checked against an independent oracle: `SHOW CREATE
//! TABLE` of a database it upgrades equals that of a database the models
//! built directly.

use std::path::Path;
use std::process::{Command, Stdio};

use tests::support::{TestMysql, mysql_server_url};

use crate::{assert_exit, cargo_migrate, redacted};

const MODELS: &str = "\
CREATE TABLE users (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(320) NOT NULL UNIQUE,
    nick VARCHAR(40) DEFAULT 'anonymous',
    settings JSON,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE posts (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT,
    CONSTRAINT posts_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT posts_title_set CHECK (title <> '')
);
CREATE INDEX posts_title ON posts (title(20));
CREATE VIEW post_titles AS SELECT id, title FROM posts;
";

/// A project with an empty history and `MODELS` as its schema.sql.
fn project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    assert_exit(&cargo_migrate(project.path(), &["init", "--dir", "migrations"]), 0);
    std::fs::write(project.path().join("schema.sql"), MODELS).unwrap();
    project
}

/// `cargo migrate ARGS --dir migrations --database-url URL` in `dir`,
/// which must leave no scratch database of its own on the server (tests run
/// in parallel: only this process's are counted).
fn on(dir: &Path, db: &TestMysql, args: &[&str]) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(args)
        .args(["--dir", "migrations", "--database-url", &db.url])
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cargo-migrate");
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    let left = db.query(&format!(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cm\\_scratch\\_{pid}\\_%'"
    ));
    assert!(left.is_empty(), "scratch databases left by {args:?}: {left:?}");
    output
}

/// The output with the database's URL and name, the server's URL and times redacted.
fn show(output: &std::process::Output, db: &TestMysql) -> String {
    let server = mysql_server_url();
    // `host:port/database as user`, where verify says its scratch databases go.
    let described = match migrate_runtime::DatabaseUrl::parse(&db.url) {
        Ok(migrate_runtime::DatabaseUrl::Mysql(my)) => my.describe(),
        other => panic!("not a MySQL URL: {other:?}"),
    };
    redacted(
        output,
        &[(&described, "[SERVER]/[DB] as [USER]"), (&db.url, "[URL]"), (&db.name, "[DB]"), (&server, "[SERVER]")],
    )
}

/// A revision file with its `created:` time redacted.
fn revision_text(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| if line.starts_with("-- created: ") { "-- created: [TIME]" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `SHOW CREATE TABLE` and `SHOW CREATE VIEW` of every table and view but
/// the version table, each as its sorted lines: the order of keys is the
/// order they were created in, which means nothing.
fn show_create(db: &TestMysql) -> Vec<String> {
    db.tables()
        .iter()
        .filter(|t| *t != "migrate_versions")
        .map(|t| {
            let row = db.query(&format!("SHOW CREATE TABLE `{t}`")).remove(0);
            let text = row[1].clone().unwrap().replace(&format!("`{}`.", db.name), "");
            let mut lines: Vec<&str> = text.lines().map(|line| line.trim_end_matches(',')).collect();
            lines.sort_unstable();
            lines.join("\n")
        })
        .collect()
}

#[test]
fn mysql_generate_writes_a_revision_that_builds_the_models() {
    let live = TestMysql::create("autogen_live");
    let project = project();
    let dir = project.path();

    let generate = on(dir, &live, &["generate", "create users and posts", "--rev-id", "u1"]);
    assert_exit(&generate, 0);
    insta::assert_snapshot!(show(&generate, &live));
    insta::assert_snapshot!(revision_text(&dir.join("migrations/u1_create_users_and_posts.sql")));

    assert_exit(&cargo_migrate(dir, &["lock", "--dir", "migrations"]), 0);
    assert_exit(&on(dir, &live, &["upgrade"]), 0);
    // The oracle: the models run directly on a database of their own.
    let direct = TestMysql::create("autogen_direct");
    direct.connect().database().execute_batch(MODELS).unwrap();
    assert_eq!(show_create(&live), show_create(&direct));

    // Every down section proved on scratch databases, and the models checked.
    let verify = on(dir, &live, &["verify"]);
    assert_exit(&verify, 0);
    insta::assert_snapshot!("verify", show(&verify, &live));

    // Down and up again leave the same schema.
    assert_exit(&on(dir, &live, &["downgrade", "base"]), 0);
    assert_eq!(live.tables(), ["migrate_versions"]);
    assert_exit(&on(dir, &live, &["upgrade"]), 0);
    assert_eq!(show_create(&live), show_create(&direct));

    let again = on(dir, &live, &["generate", "nothing new"]);
    assert_exit(&again, 0);
    insta::assert_snapshot!(show(&again, &live));
}

#[test]
fn mysql_check_fails_while_the_models_are_ahead() {
    let live = TestMysql::create("autogen_check");
    let project = project();
    let dir = project.path();
    let ahead = on(dir, &live, &["check"]);
    assert_exit(&ahead, 1);
    insta::assert_snapshot!(show(&ahead, &live));

    // Scratch databases on the server --dev-url names, not the database's.
    let server = mysql_server_url();
    assert_exit(&on(dir, &live, &["generate", "create users and posts", "--rev-id", "u1", "--dev-url", &server]), 0);
    assert_exit(&cargo_migrate(dir, &["lock", "--dir", "migrations"]), 0);
    let agree = on(dir, &live, &["check"]);
    assert_exit(&agree, 1);
    insta::assert_snapshot!("pending_only", show(&agree, &live));
    assert_exit(&on(dir, &live, &["upgrade"]), 0);
    let clean = on(dir, &live, &["check"]);
    assert_exit(&clean, 0);
    insta::assert_snapshot!("clean", show(&clean, &live));

    std::fs::write(dir.join("schema.sql"), format!("{MODELS}CREATE TABLE tags (name VARCHAR(40) PRIMARY KEY);\n"))
        .unwrap();
    let new_table = on(dir, &live, &["check"]);
    assert_exit(&new_table, 1);
    insta::assert_snapshot!("new_table", show(&new_table, &live));
}

#[test]
fn mysql_diff_finds_changes_made_by_hand() {
    let live = TestMysql::create("autogen_diff");
    let project = project();
    let dir = project.path();
    assert_exit(&on(dir, &live, &["generate", "create users and posts", "--rev-id", "u1"]), 0);
    assert_exit(&on(dir, &live, &["upgrade"]), 0);

    let same = on(dir, &live, &["diff"]);
    assert_exit(&same, 0);
    insta::assert_snapshot!("same", show(&same, &live));

    live.connect()
        .database()
        .execute_batch(
            "ALTER TABLE users ADD COLUMN added_by_hand TEXT, MODIFY COLUMN nick VARCHAR(80) DEFAULT 'anonymous';
             DROP INDEX posts_title ON posts;
             ALTER TABLE posts DROP FOREIGN KEY posts_user;",
        )
        .unwrap();
    let drifted = on(dir, &live, &["diff"]);
    assert_exit(&drifted, 1);
    insta::assert_snapshot!("drifted", show(&drifted, &live));
}
