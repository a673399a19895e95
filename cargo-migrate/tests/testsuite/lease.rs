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

/// A project whose first revision (`aaaa`) runs `slow` before creating a
/// table, then `bbbb`.
fn slow_project(slow: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let first = format!(
        "-- revision: aaaa\n-- parents:\n-- message: slow\n\n-- migrate:up\n{slow}\nCREATE TABLE a (id INT);\n"
    );
    std::fs::write(dir.join("a.sql"), first).unwrap();
    std::fs::write(dir.join("b.sql"), tests::support::revision("bbbb", "aaaa", "CREATE TABLE b (id INT);")).unwrap();
    project
}

/// Waits until another session is running a statement containing `text`.
fn wait_for_running(db: &TestDatabase, text: &str) {
    let started = Instant::now();
    let running = format!(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE query LIKE '%{text}%' AND state = 'active' AND pid <> pg_backend_pid()"
    );
    while db.query(&running) != [[Some("1".to_owned())]] {
        assert!(started.elapsed() < Duration::from_secs(30), "the holder never reached `{text}`");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // The first revision sleeps while the marker table exists: the holder
    // is killed in it, and the one taking over finds the marker gone.
    let project = slow_project(
        "DO $$ BEGIN IF to_regclass('slow_marker') IS NOT NULL THEN PERFORM pg_sleep(60); END IF; END $$;",
    );
    db.query("CREATE TABLE slow_marker (); SELECT 1");
    let url = db.url.as_str();
    let extra = ["--dir", "migrations", "--lock-lease", "2s"];

    let mut holder = upgrade(project.path(), url, &extra);
    wait_for_running(&db, "pg_sleep(60)");
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

#[test]
fn postgres_a_revision_longer_than_the_lease_keeps_it() {
    let db = TestDatabase::create("lease_heartbeat");
    // Four seconds against a one-second lease: only the heartbeat keeps it.
    let project = slow_project("SELECT pg_sleep(4);");
    let url = db.url.as_str();
    let extra = ["--dir", "migrations", "--lock-lease", "1s"];

    let holder = upgrade(project.path(), url, &extra);
    wait_for_running(&db, "pg_sleep(4)");
    // Well past the lease, while the revision still runs.
    std::thread::sleep(Duration::from_secs(2));
    let waiter = upgrade(project.path(), url, &extra).wait_with_output().unwrap();
    let holder = holder.wait_with_output().unwrap();
    assert_exit(&holder, 0);
    let (_, stderr) = assert_exit(&waiter, 0);
    // It waited for the holder, never took the lock over, and found nothing left to do.
    let waited_for = stderr.split('`').nth(1).unwrap_or_default().to_owned();
    assert!(waited_for.starts_with("pid "), "{stderr}");
    insta::assert_snapshot!(redacted(
        &waiter,
        &[(waited_for.as_str(), "[HOLDER] (lease until [TIME])"), (url, "[URL]")]
    ));
    let rows = db.query("SELECT revision FROM migrate_versions ORDER BY revision");
    assert_eq!(rows, [[Some("aaaa".to_owned())], [Some("bbbb".to_owned())]]);
}
