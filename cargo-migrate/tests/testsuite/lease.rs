//! `--lock-strategy lease`: the migration lock as a lease row, as
//! CockroachDB and YugabyteDB need it (their advisory locks do not exclude),
//! tested on PostgreSQL itself: eight processes at once, a holder killed with
//! SIGKILL whose lease expires and is taken over, and a backend that cannot
//! have it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, cargo_migrate, eight_at_once, redacted};

fn upgrade(dir: &std::path::Path, url: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .args(["migrate", "upgrade", "--database-url", url, "--lock-strategy", "lease"])
        .args(extra)
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn postgres_eight_processes_with_a_lease_lock_apply_each_revision_once() {
    let db = TestDatabase::create("lease_eight");
    let applied = eight_at_once(&repo_root(), &["upgrade", "--database-url", &db.url, "--lock-strategy", "lease"]);
    assert_eq!(applied, 7, "each revision applied exactly once across 8 processes");
    let rows = db.query("SELECT count(*) FROM migrate_versions_lock");
    assert_eq!(rows, [[Some("0".to_owned())]], "every lease released");
}

#[test]
fn postgres_a_killed_holders_lease_is_taken_over_once_it_expires() {
    let db = TestDatabase::create("lease_killed");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    // The first revision sleeps while the marker table exists: the holder
    // is killed in it, and the one taking over finds the marker gone.
    let slow = "-- revision: aaaa\n-- parents:\n-- message: slow\n\n-- migrate:up\n\
                DO $$ BEGIN IF to_regclass('slow_marker') IS NOT NULL THEN PERFORM pg_sleep(60); END IF; END $$;\n\
                CREATE TABLE a (id INT);\n";
    std::fs::write(dir.join("a.sql"), slow).unwrap();
    std::fs::write(dir.join("b.sql"), tests::support::revision("bbbb", "aaaa", "CREATE TABLE b (id INT);")).unwrap();
    db.query("CREATE TABLE slow_marker (); SELECT 1");
    let url = db.url.as_str();
    let extra = ["--dir", "migrations", "--lock-lease", "2s"];

    let mut holder = upgrade(project.path(), url, &extra);
    let started = Instant::now();
    let sleeping = "SELECT count(*) FROM pg_stat_activity \
                    WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()";
    while db.query(sleeping) != [[Some("1".to_owned())]] {
        assert!(started.elapsed() < Duration::from_secs(30), "the holder never reached the slow revision");
        std::thread::sleep(Duration::from_millis(50));
    }
    holder.kill().unwrap(); // SIGKILL: no release
    holder.wait().unwrap();
    db.query("DROP TABLE slow_marker; SELECT 1");

    let output = upgrade(project.path(), url, &extra).wait_with_output().unwrap();
    let (_, stderr) = assert_exit(&output, 0);
    // `pid N on HOST (RANDOM)`, waited for with its lease's end, then taken over.
    let waited_for = stderr.split('`').nth(1).unwrap_or_default().to_owned();
    let previous = waited_for.split(" (lease until ").next().unwrap_or_default().to_owned();
    assert!(previous.starts_with("pid ") && waited_for.len() > previous.len(), "{stderr}");
    insta::assert_snapshot!(redacted(
        &output,
        &[(waited_for.as_str(), "[HOLDER] (lease until [TIME])"), (previous.as_str(), "[HOLDER]"), (url, "[URL]")]
    ));
    let rows = db.query("SELECT revision FROM migrate_versions ORDER BY revision");
    assert_eq!(rows, [[Some("aaaa".to_owned())], [Some("bbbb".to_owned())]]);
}

#[test]
fn a_lease_lock_on_sqlite_is_refused() {
    let project = tempfile::tempdir().unwrap();
    let output = cargo_migrate(
        &repo_root(),
        &[
            "upgrade",
            "--lock-strategy",
            "lease",
            "--database-url",
            &format!("sqlite:{}", project.path().join("x.db").display()),
        ],
    );
    insta::assert_snapshot!(redacted(&output, &[]));
}
