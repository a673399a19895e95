//! Inside GitHub Actions (`GITHUB_STEP_SUMMARY`, `GITHUB_ACTIONS=true`):
//! the Markdown job summary each command appends, and the `::error`
//! annotations of problems with a file and line. One test per case, each
//! asserting the whole summary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::redact_times;

const REVISIONS: [(&str, &str); 2] = [
    (
        "a_users.sql",
        "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE users;\n",
    ),
    (
        "b_email.sql",
        "-- revision: b\n-- parents: a\n-- message: add email | name\n\n-- migrate:up\nALTER TABLE users ADD COLUMN email TEXT;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN email;\n",
    ),
];

/// A pinned two-revision history and a SQLite database, run as a workflow step would.
struct Step {
    dir: tempfile::TempDir,
}

impl Step {
    fn new() -> Step {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, text) in REVISIONS {
            std::fs::write(dir.path().join("migrations").join(name), text).unwrap();
        }
        let step = Step { dir };
        assert!(step.run(&["lock"]).status.success());
        std::fs::remove_file(step.summary_path()).ok();
        step
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn summary_path(&self) -> PathBuf {
        self.path().join("step_summary.md")
    }

    fn run(&self, args: &[&str]) -> Output {
        let url = format!("sqlite:{}", self.path().join("app.sqlite3").display());
        Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
            .arg("migrate")
            .args(args)
            .args(["--dir", "migrations", "--database-url", &url])
            .current_dir(self.path())
            .env("CARGO_TERM_COLOR", "never")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", self.summary_path())
            .env("MIGRATE_ENVIRONMENT", "production")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    }

    /// The summary so far, with the temporary directory and times redacted.
    fn summary(&self) -> String {
        let text = std::fs::read_to_string(self.summary_path()).unwrap_or_default();
        redact(&text, self.path())
    }
}

fn redact(text: &str, dir: &Path) -> String {
    redact_times(&text.replace(&dir.display().to_string(), "[DIR]"))
}

#[test]
fn status_summary_lists_the_pending_revisions() {
    let step = Step::new();
    assert!(step.run(&["upgrade", "a"]).status.success());
    std::fs::remove_file(step.summary_path()).unwrap();
    assert!(step.run(&["status"]).status.success());
    insta::assert_snapshot!(step.summary().replace(&sqlite_version(), "[SQLITE]"), @r"
    ### cargo migrate status

    | | |
    |---|---|
    | database | `sqlite:[DIR]/app.sqlite3` (environment `production`) |
    | server | [SQLITE] |
    | tls | - |
    | current | `a` |
    | pending | 1 |
    | drifted | 0 |
    | failed | 0 |

    | pending | message | file |
    |---|---|---|
    | `b` | add email \| name | `migrations/b_email.sql` |
    ");
}

fn sqlite_version() -> String {
    let db = migrate_runtime::rusqlite::Connection::open_in_memory().unwrap();
    let version: String = db.query_row("SELECT 'SQLite ' || sqlite_version()", [], |r| r.get(0)).unwrap();
    version
}

#[test]
fn upgrade_summary_lists_what_ran_with_before_and_after() {
    let step = Step::new();
    assert!(step.run(&["upgrade"]).status.success());
    insta::assert_snapshot!(step.summary(), @r"
    ### cargo migrate upgrade

    **upgrade head** ✅ succeeded

    | | |
    |---|---|
    | database | `sqlite:[DIR]/app.sqlite3` (environment `production`) |
    | before | `base` |
    | after | `b` |
    | time | [TIME] |

    | applied | message | time |
    |---|---|---|
    | `a` | users | [TIME] |
    | `b` | add email \| name | [TIME] |
    ");
}

#[test]
fn dry_run_summary_says_nothing_was_committed() {
    let step = Step::new();
    assert!(step.run(&["upgrade", "--dry-run"]).status.success());
    insta::assert_snapshot!(step.summary(), @r"
    ### cargo migrate upgrade

    **upgrade head** ✅ dry run: executed and rolled back, nothing committed

    | | |
    |---|---|
    | database | `sqlite:[DIR]/app.sqlite3` (environment `production`) |
    | before | `base` |
    | after | `base` |
    | time | [TIME] |

    | applied | message | time |
    |---|---|---|
    | `a` | users | [TIME] |
    | `b` | add email \| name | [TIME] |
    ");
}

#[test]
fn downgrade_summary_lists_what_was_reverted() {
    let step = Step::new();
    assert!(step.run(&["upgrade"]).status.success());
    std::fs::remove_file(step.summary_path()).unwrap();
    assert!(step.run(&["downgrade", "-1"]).status.success());
    insta::assert_snapshot!(step.summary(), @r"
    ### cargo migrate downgrade

    **downgrade -1** ✅ succeeded

    | | |
    |---|---|
    | database | `sqlite:[DIR]/app.sqlite3` (environment `production`) |
    | before | `b` |
    | after | `a` |
    | time | [TIME] |

    | reverted | message | time |
    |---|---|---|
    | `b` | add email \| name | [TIME] |
    ");
}

#[test]
fn a_failing_upgrade_summary_names_the_revision_line_error_and_the_rollback() {
    let step = Step::new();
    std::fs::write(
        step.path().join("migrations/c_broken.sql"),
        "-- revision: c\n-- parents: b\n-- message: broken\n\n-- migrate:up\nCREATE TABLE teams (id INTEGER);\nCREATE TABLE teams (id INTEGER);\n",
    )
    .unwrap();
    let output = step.run(&["upgrade"]);
    assert_eq!(output.status.code(), Some(101), "{}", crate::transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        annotations,
        ["::error file=migrations/c_broken.sql,line=7::revision `c` failed: table teams already exists"]
    );
    insta::assert_snapshot!(step.summary(), @r#"
    ### cargo migrate upgrade

    **upgrade head** ❌ failed

    | | |
    |---|---|
    | database | `sqlite:[DIR]/app.sqlite3` (environment `production`) |
    | before | `base` |
    | after | `b` |
    | time | [TIME] |

    **Error:** migrations/c_broken.sql:7: revision `c` failed: table teams already exists

    **What to do:** nothing of this revision was applied; if the database already has what it creates (made by hand or by another tool), check with `cargo migrate diff` that its schema matches the history, then record the revision without running it: `cargo migrate stamp c`; otherwise fix the revision

    To roll back what this run applied before the failure:

    ```sh
    cargo migrate --dir migrations downgrade base
    ```
    "#);
}

#[test]
fn sql_summary_holds_the_script() {
    let step = Step::new();
    assert!(step.run(&["sql", "a:b"]).status.success());
    insta::assert_snapshot!(step.summary(), @r#"
    ### cargo migrate upgrade --sql a:b

    SQLite script, 10 lines:

    ```sql
    -- Generated by cargo-migrate: upgrade of 1 revision(s) for SQLite.
    -- Apply with: sqlite3 -bail DATABASE < THIS_FILE

    CREATE TABLE IF NOT EXISTS "migrate_versions" ( "revision" varchar(64) NOT NULL PRIMARY KEY, "checksum" varchar(80) NOT NULL, "message" text NOT NULL, "state" varchar(16) NOT NULL, "applied_at" timestamp_text NOT NULL DEFAULT CURRENT_TIMESTAMP, "execution_ms" bigint, "applied_by" text, "error" text, "statements_done" bigint );

    -- Applying b: add email | name (migrations/b_email.sql)
    BEGIN;
    ALTER TABLE users ADD COLUMN email TEXT;
    INSERT INTO "migrate_versions" ("revision", "checksum", "message", "state", "execution_ms", "applied_by", "error") VALUES ('b', 'sha256:267b1aa5dfce2fa6bd8c6bc33a1bbd65a37cea993c8f8f504f74118da5cb037f', 'add email | name', 'applied', NULL, 'offline script', NULL);
    COMMIT;
    ```
    "#);
}

#[test]
fn check_summary_and_annotations_name_file_and_line() {
    let step = Step::new();
    std::fs::write(
        step.path().join("migrations/d_draft.sql"),
        "-- revision: d\n-- parents: b\n-- message: draft\n\n-- migrate:up\n",
    )
    .unwrap();
    let output = step.run(&["check"]);
    assert_eq!(output.status.code(), Some(1), "{}", crate::transcript(&output));
    let stderr = redact(&String::from_utf8_lossy(&output.stderr), step.path());
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    insta::assert_snapshot!(annotations.join("\n"), @r"
    ::error file=migrations/d_draft.sql,line=1,col=14,endColumn=15::revision `d` is a draft: it is not pinned in migrate.lock%0Ahelp: run `cargo migrate lock` to pin it once it is final
    ::error file=migrations/a_users.sql::revision `a` is not applied to sqlite:[DIR]/app.sqlite3%0Ahelp: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back)
    ::error file=migrations/b_email.sql::revision `b` is not applied to sqlite:[DIR]/app.sqlite3%0Ahelp: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back)
    ::error file=migrations/d_draft.sql::revision `d` is not applied to sqlite:[DIR]/app.sqlite3%0Ahelp: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back)
    ");
    insta::assert_snapshot!(step.summary(), @r#"
    ### cargo migrate check

    **Check failed**: 3 revisions in migrations, 1 head, 2 pinned; 4 errors, 0 warnings.

    Database: `sqlite:[DIR]/app.sqlite3` (environment `production`)

    | | where | problem |
    |---|---|---|
    | ❌ | `migrations/d_draft.sql:1` | revision `d` is a draft: it is not pinned in migrate.lock<br>help: run `cargo migrate lock` to pin it once it is final |
    | ❌ | `migrations/a_users.sql` | revision `a` is not applied to sqlite:[DIR]/app.sqlite3<br>help: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back) |
    | ❌ | `migrations/b_email.sql` | revision `b` is not applied to sqlite:[DIR]/app.sqlite3<br>help: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back) |
    | ❌ | `migrations/d_draft.sql` | revision `d` is not applied to sqlite:[DIR]/app.sqlite3<br>help: run `cargo migrate upgrade` (`--dry-run` rehearses it first, except on MySQL, where schema changes cannot roll back) |

    run `cargo migrate lock` to pin the 1 draft and commit migrations/migrate.lock with it; `cargo migrate check --allow-drafts` accepts drafts for local use
    "#);
}

#[test]
fn more_than_ten_problems_are_annotated_ten_times_then_counted() {
    let step = Step::new();
    for i in 0..12 {
        std::fs::write(
            step.path().join(format!("migrations/x{i:02}.sql")),
            format!("-- revision: x{i:02}\n-- parents: b\n-- message: draft {i}\n\n-- migrate:up\n"),
        )
        .unwrap();
    }
    let output = step.run(&["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(annotations.len(), 11, "{stderr}");
    assert!(annotations[..10].iter().all(|l| l.starts_with("::error file=migrations/")), "{stderr}");
    assert!(annotations[10].starts_with("::error::"), "{stderr}");
    assert!(annotations[10].ends_with(" more errors not annotated; the log lists them all"), "{stderr}");
}

#[test]
fn outside_github_actions_nothing_is_written_or_annotated() {
    let step = Step::new();
    std::fs::write(
        step.path().join("migrations/d_draft.sql"),
        "-- revision: d\n-- parents: b\n-- message: draft\n\n-- migrate:up\n",
    )
    .unwrap();
    let url = format!("sqlite:{}", step.path().join("app.sqlite3").display());
    let output = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .args(["migrate", "check", "--dir", "migrations", "--database-url", &url])
        .current_dir(step.path())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("::error"));
    assert!(!step.summary_path().exists());
}

#[test]
fn a_summary_stays_under_githubs_limit() {
    let step = Step::new();
    let rows: String = (0..40_000).map(|i| format!("INSERT INTO users (id) VALUES ({i});\n")).collect();
    std::fs::write(
        step.path().join("migrations/c_rows.sql"),
        format!("-- revision: c\n-- parents: b\n-- message: rows\n\n-- migrate:up\n{rows}"),
    )
    .unwrap();
    // Earlier steps of the job already wrote 600 KB.
    std::fs::write(step.summary_path(), "x".repeat(600 * 1024)).unwrap();
    let output = step.run(&["sql", "b:c"]);
    assert!(output.status.success(), "{}", crate::transcript(&output));
    assert!(output.stdout.len() > 1024 * 1024, "the script itself is whole on stdout");
    let summary = std::fs::read_to_string(step.summary_path()).unwrap();
    assert!(summary.len() < 1024 * 1024, "{} bytes", summary.len());
    assert!(summary.contains("more bytes not shown; the full text is in the job's log or artifact."));
    let note = summary.rfind("more bytes not shown").unwrap();
    assert!(
        summary[..note].trim_end().trim_end_matches(|c: char| c.is_ascii_digit()).ends_with("\n```\n\n*"),
        "the block is closed before the note"
    );
    assert!(!summary.contains("The summary was cut"), "the block was cut to fit, not the summary");
}
