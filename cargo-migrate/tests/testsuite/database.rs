//! The database commands against the machine's real PostgreSQL (each test in
//! a database it creates and drops) and against SQLite files.

use std::path::Path;
use std::process::Command;

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, cargo_migrate, eight_at_once};

/// `cargo-migrate migrate ARGS` on the example history, against `url`.
fn on_example(url: &str, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--database-url", url]);
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(&all)
        .current_dir(repo_root())
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

fn versions(db: &TestDatabase) -> Vec<String> {
    db.query("SELECT revision FROM migrate_versions ORDER BY revision")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect()
}

#[test]
fn postgres_example_history_through_branch_and_merge_with_every_target_form() {
    let db = TestDatabase::create("targets");
    let url = &db.url;
    let (_, stderr) = assert_exit(&on_example(url, &["upgrade", "9e3f"]), 0);
    assert!(
        stderr.contains("Applying 4d1c8e2a9b07 create users") && stderr.contains("Applying 9e3f5a71c2d8"),
        "{stderr}"
    );
    let (_, stderr) = assert_exit(&on_example(url, &["upgrade", "+1"]), 2);
    assert!(stderr.contains("reaches branch point `9e3f5a71c2d8`"), "{stderr}");
    assert_exit(&on_example(url, &["upgrade", "9e3f5a71c2d8+1"]), 2);
    assert_exit(&on_example(url, &["upgrade", "b7a20c4e6f13"]), 0);
    assert_exit(&on_example(url, &["upgrade", "heads"]), 0);
    let (stdout, _) = assert_exit(&on_example(url, &["current"]), 0);
    assert_eq!(stdout, "0a9d4e6b2c31 (head), add startup tagline\n");
    assert_eq!(db.tables(), ["migrate_versions", "startups", "user_preferences", "user_profile", "users"]);

    assert_exit(&on_example(url, &["downgrade", "-1"]), 0);
    let (stdout, _) = assert_exit(&on_example(url, &["current"]), 0);
    assert_eq!(stdout, "f60d2c8b1e47, backfill profile display names\n");
    let (_, stderr) = assert_exit(&on_example(url, &["downgrade", "c58e1d9f0a64"]), 0);
    assert!(stderr.contains("Reverting e12b7f3a8c95") && !stderr.contains("Reverting c58e1d9f0a64"), "{stderr}");
    let (stdout, _) = assert_exit(&on_example(url, &["current"]), 0);
    assert_eq!(stdout, "b7a20c4e6f13, add user profile table\nc58e1d9f0a64, add user preferences table\n");
    let (_, stderr) = assert_exit(&on_example(url, &["upgrade", "+1"]), 2);
    assert!(stderr.contains("starts from several revisions"), "{stderr}");
    assert_exit(&on_example(url, &["upgrade", "e12b7f3a8c95+1"]), 0);
    assert_eq!(versions(&db).len(), 6);
    assert_exit(&on_example(url, &["downgrade", "base"]), 0);
    assert_eq!(db.tables(), ["migrate_versions"]);
    assert!(versions(&db).is_empty());
}

#[test]
fn postgres_stamp_check_and_status() {
    let db = TestDatabase::create("stamp");
    let url = &db.url;
    let (_, stderr) = assert_exit(&on_example(url, &["check"]), 1);
    assert!(stderr.contains("revision `4d1c8e2a9b07` is not applied to postgres://"), "{stderr}");
    let (_, stderr) = assert_exit(&on_example(url, &["stamp", "e12b7f3a8c95"]), 0);
    assert!(stderr.contains("recorded 5, removed 0; nothing was executed"), "{stderr}");
    assert_eq!(db.tables(), ["migrate_versions"], "stamp runs nothing");
    let (stdout, _) = assert_exit(&on_example(url, &["status"]), 0);
    assert!(
        stdout.contains("current:       e12b7f3a8c95") && stdout.contains("pending:       2 revisions"),
        "{stdout}"
    );
    assert_exit(&on_example(url, &["stamp", "head", "--purge"]), 0);
    assert_eq!(versions(&db).len(), 7);
    assert_exit(&on_example(url, &["check"]), 0);
    db.query("UPDATE migrate_versions SET checksum = 'sha256:0' WHERE revision = '4d1c8e2a9b07'");
    let (_, stderr) = assert_exit(&on_example(url, &["check"]), 1);
    assert!(stderr.contains("revision `4d1c8e2a9b07` was applied to"), "{stderr}");
    let (_, stderr) = assert_exit(&on_example(url, &["upgrade"]), 4);
    assert!(stderr.contains("was applied with sha256:0 but its file now has sha256:"), "{stderr}");
    assert!(stderr.contains("--allow-modified"), "{stderr}");
}

#[test]
fn postgres_offline_script_applied_with_psql_equals_online_upgrade() {
    let online = TestDatabase::create("online");
    let offline = TestDatabase::create("offline");
    assert_exit(&on_example(&online.url, &["upgrade"]), 0);
    let (script, _) = assert_exit(&on_example(&offline.url, &["upgrade", "--sql"]), 0);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &script).unwrap();
    let psql = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &offline.url, "-f"])
        .arg(file.path())
        .output()
        .expect("psql is installed");
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    assert_eq!(offline.schema_dump(), online.schema_dump(), "same schema");
    let rows = |db: &TestDatabase| db.query("SELECT revision, checksum, state FROM migrate_versions ORDER BY revision");
    assert_eq!(rows(&offline), rows(&online), "same version table");
    // Partial ranges: a FROM:TO script applies on top.
    let (partial, _) = assert_exit(&on_example(&offline.url, &["sql", "9e3f:e12b", "--dialect", "postgres"]), 0);
    assert!(partial.contains("-- Applying b7a20c4e6f13") && !partial.contains("-- Applying 4d1c8e2a9b07"), "{partial}");
    let (down, _) = assert_exit(&on_example(&offline.url, &["downgrade", "--sql", "head:-1"]), 0);
    assert!(down.contains("-- Reverting 0a9d4e6b2c31") && down.contains("DELETE FROM"), "{down}");
}

#[test]
fn postgres_dry_run_executes_and_leaves_nothing() {
    let db = TestDatabase::create("dryrun");
    let (_, stderr) = assert_exit(&on_example(&db.url, &["upgrade", "--dry-run"]), 0);
    assert!(stderr.contains("executed 7 revisions") && stderr.contains("nothing was committed"), "{stderr}");
    assert!(db.tables().is_empty(), "{:?}", db.tables());
}

fn write_history(dir: &Path, revisions: &[(&str, &str)]) {
    std::fs::create_dir_all(dir.join("migrations")).unwrap();
    for (name, text) in revisions {
        std::fs::write(dir.join("migrations").join(name), text).unwrap();
    }
}

const GOOD: &str = "-- revision: aaaa\n-- parents:\n-- message: a\n\n-- migrate:up\nCREATE TABLE a (id INT);\n\n-- migrate:down\nDROP TABLE a;\n";
const BAD: &str = "-- revision: bbbb\n-- parents: aaaa\n-- message: b\n\n-- migrate:up\nCREATE TABLE b (id INT);\nINSERT INTO missing VALUES (1);\n";

#[test]
fn postgres_failing_revision_leaves_the_database_as_before_it_and_names_the_line() {
    let db = TestDatabase::create("failing");
    let project = tempfile::tempdir().unwrap();
    write_history(project.path(), &[("a.sql", GOOD), ("b.sql", BAD)]);
    let (_, stderr) = assert_exit(
        &cargo_migrate(project.path(), &["upgrade", "--dir", "migrations", "--database-url", &db.url]),
        101,
    );
    assert!(
        stderr
            .contains("error: revision `bbbb` failed: relation \"missing\" does not exist\n --> migrations/b.sql:7:1"),
        "{stderr}"
    );
    assert_eq!(db.tables(), ["a", "migrate_versions"]);
    assert_eq!(versions(&db), ["aaaa"]);
}

#[test]
fn postgres_failed_no_transaction_revision_blocks_until_resolved() {
    let db = TestDatabase::create("notx");
    let project = tempfile::tempdir().unwrap();
    let concurrently = "-- revision: cccc\n-- parents: aaaa\n-- message: index\n-- transaction: false\n\n-- migrate:up\n\
                        CREATE INDEX CONCURRENTLY ix_a ON a (id);\nCREATE INDEX CONCURRENTLY ix_a ON a (id);\n";
    write_history(project.path(), &[("a.sql", GOOD), ("c.sql", concurrently)]);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        cargo_migrate(project.path(), &all)
    };
    let (_, stderr) = assert_exit(&run(&["upgrade"]), 101);
    assert!(stderr.contains("revision `cccc` failed") && stderr.contains(" --> migrations/c.sql:8:1"), "{stderr}");
    assert!(stderr.contains("cargo migrate resolve cccc --applied"), "{stderr}");
    assert_eq!(db.query("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_a'")[0][0].as_deref(), Some("1"));
    let (stdout, _) = assert_exit(&run(&["status"]), 0);
    assert!(stdout.contains("failed:") && stdout.contains("cccc line 8:"), "{stdout}");
    let (_, stderr) = assert_exit(&run(&["upgrade"]), 4);
    assert!(
        stderr.contains("revision `cccc` is marked failed (1 statement(s) finished before the failure)"),
        "{stderr}"
    );
    assert!(stderr.contains("it failed part-way in an earlier run"), "{stderr}");
    assert_exit(&run(&["check"]), 1);
    assert_exit(&run(&["resolve", "cccc", "--applied"]), 0);
    assert_exit(&run(&["upgrade"]), 0);
    assert_eq!(versions(&db), ["aaaa", "cccc"]);
}

#[test]
fn eight_processes_upgrading_at_once_apply_each_revision_once() {
    let db = TestDatabase::create("concurrent");
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite:{}", sqlite_dir.path().join("shared.db").display());
    for url in [db.url.as_str(), sqlite_url.as_str()] {
        let applied = eight_at_once(&repo_root(), &["upgrade", "--database-url", url]);
        assert_eq!(applied, 7, "{url}: each revision applied exactly once across 8 processes");
    }
    assert_eq!(versions(&db).len(), 7);
}

#[test]
fn tls_with_sslmode_require_and_no_password_in_output() {
    let db = TestDatabase::create("tls");
    let url = format!("{}?sslmode=require", db.url.replacen("postgres@", "postgres:hunter2@", 1));
    let parsed = migrate_runtime::DatabaseUrl::parse(&url).unwrap();
    let mut connection = migrate_runtime::connect(&parsed).unwrap();
    let ssl = connection.database().query_text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").unwrap();
    assert_eq!(ssl[0][0].as_deref(), Some("t"), "the connection uses TLS");
    let (stdout, stderr) = assert_exit(&on_example(&url, &["upgrade"]), 0);
    assert!(!format!("{stdout}{stderr}").contains("hunter2"));
    let (stdout, _) = assert_exit(&on_example(&url, &["status"]), 0);
    assert!(stdout.contains("postgres:****@") && stdout.contains("connection:    ok"), "{stdout}");
    let unreachable = "postgres://postgres:hunter2@127.0.0.1:1/nowhere";
    let (stdout, stderr) = assert_exit(&on_example(unreachable, &["status"]), 3);
    assert!(stderr.contains("could not connect to PostgreSQL at 127.0.0.1:1/nowhere as postgres"), "{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("hunter2"));
    let (_, stderr) = assert_exit(
        &on_example(
            "postgres://u:hunter2@ep-quiet-hill-123456-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require",
            &["upgrade"],
        ),
        2,
    );
    assert!(stderr.contains("replace the host with ep-quiet-hill-123456.us-east-2.aws.neon.tech"), "{stderr}");
    assert!(!stderr.contains("hunter2"));
}

#[test]
fn url_sources_and_the_sqlite_default() {
    let project = tempfile::tempdir().unwrap();
    write_history(project.path(), &[("a.sql", GOOD)]);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"));
        command.arg("migrate").args(args).args(["--dir", "migrations"]).current_dir(project.path());
        command.env_remove("DATABASE_URL").env("CARGO_TERM_COLOR", "never");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let (stdout, _) = assert_exit(&run(&["status"], &[]), 0);
    assert!(stdout.contains("database:      sqlite:target/cargo-migrate/dev.sqlite3 (from the default"), "{stdout}");
    assert_exit(&run(&["upgrade"], &[]), 0);
    assert!(project.path().join("target/cargo-migrate/dev.sqlite3").is_file());

    std::fs::write(project.path().join(".env"), "# local settings\nDATABASE_URL=sqlite:from-dotenv.db\n").unwrap();
    let (stdout, _) = assert_exit(&run(&["status"], &[]), 0);
    assert!(stdout.contains("sqlite:from-dotenv.db (from DATABASE_URL in .env)"), "{stdout}");
    let (stdout, _) = assert_exit(&run(&["status"], &[("DATABASE_URL", "sqlite:from-env.db")]), 0);
    assert!(stdout.contains("sqlite:from-env.db (from the environment variable DATABASE_URL)"), "{stdout}");
    let (stdout, _) =
        assert_exit(&run(&["status", "--database-url", "sqlite:from-flag.db"], &[("DATABASE_URL", "sqlite:x.db")]), 0);
    assert!(stdout.contains("sqlite:from-flag.db (from --database-url)"), "{stdout}");
    let (_, stderr) = assert_exit(&run(&["status", "--database-url", "oracle://x"], &[]), 2);
    assert!(stderr.contains("unknown scheme `oracle`"), "{stderr}");
}
