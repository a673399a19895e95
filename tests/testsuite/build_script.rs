//! `cargo build` accepts a valid history, refuses each kind of broken one
//! with an error naming the file, and re-runs the build script when a
//! revision file is added, edited or deleted.

use tests::support::{FixtureCrate, revision, text};

fn assert_builds(fixture: &FixtureCrate) -> (String, String) {
    let output = fixture.cargo(&["run", "--quiet"]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "cargo run failed:\n{stderr}");
    (stdout, stderr)
}

fn assert_build_fails(fixture: &FixtureCrate, expected_errors: &[&str]) {
    let output = fixture.cargo(&["build"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success(), "the build should fail:\n{stderr}");
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    for expected in expected_errors {
        let line = format!("error: {}@0.1.0: {expected}", fixture.name());
        assert!(stderr.lines().any(|l| l.starts_with(&line)), "missing `{line}` in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "no panic or backtrace:\n{stderr}");
}

#[test]
fn valid_history_builds_and_embeds_every_revision() {
    let fixture = FixtureCrate::new("fixture_valid");
    fixture.write("migrations/a_base.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.write("migrations/b_left.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    fixture.write("migrations/nested/c_right.sql", &revision("c", "a", "CREATE TABLE c (id INT);"));
    fixture.write("migrations/m_merge.sql", &revision("m", "b, c", ""));
    fixture.pin_all();
    let (stdout, stderr) = assert_builds(&fixture);
    assert_eq!(
        stdout,
        "a pinned=true up=CREATE TABLE a (id INT);\nb pinned=true up=CREATE TABLE b (id INT);\n\
         c pinned=true up=CREATE TABLE c (id INT);\nm pinned=true up=\n"
    );
    assert!(!stderr.contains("warning"), "a pinned history builds silently:\n{stderr}");
}

#[test]
fn draft_revision_builds_with_a_warning() {
    let fixture = FixtureCrate::new("fixture_draft");
    fixture.write("migrations/a.sql", &revision("a", "", "SELECT 1;"));
    let output = fixture.cargo(&["build"]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: fixture_draft@0.1.0: migrations/a.sql:1: revision `a` is a draft: it is not pinned in migrate.lock (help: run `cargo migrate lock` to pin it once it is final)"
        ),
        "{stderr}"
    );
}

/// Each broken history fails the build with an error naming the file.
#[test]
fn broken_histories_fail_the_build_naming_the_file() {
    let fixture = FixtureCrate::new("fixture_broken");
    let base = revision("a", "", "CREATE TABLE a (id INT);");

    // Duplicate id: both files are named.
    fixture.write("migrations/a.sql", &base);
    fixture.write("migrations/b.sql", &revision("a", "", "SELECT 2;"));
    assert_build_fails(
        &fixture,
        &[
            "migrations/a.sql:1: revision id `a` is also defined in migrations/b.sql",
            "migrations/b.sql:1: revision id `a` is also defined in migrations/a.sql (help: give one of the two files a new id",
        ],
    );

    // Missing parent.
    fixture.clear_migrations();
    fixture.write("migrations/a.sql", &base);
    fixture.write("migrations/b.sql", &revision("b", "zz", "SELECT 2;"));
    assert_build_fails(
        &fixture,
        &[
            "migrations/b.sql:2: revision `b` names parent `zz`, which no revision file defines (help: fix the `parents` line",
        ],
    );

    // Cycle, printed in full.
    fixture.clear_migrations();
    fixture.write("migrations/a.sql", &base);
    fixture.write("migrations/b.sql", &revision("b", "a, d", ""));
    fixture.write("migrations/c.sql", &revision("c", "b", ""));
    fixture.write("migrations/d.sql", &revision("d", "c", ""));
    assert_build_fails(&fixture, &["migrations/b.sql:2: the revisions form a cycle: b -> d -> c -> b"]);

    // Two heads: both named, with the fix.
    fixture.clear_migrations();
    fixture.write("migrations/a.sql", &base);
    fixture.write("migrations/b.sql", &revision("b", "a", ""));
    fixture.write("migrations/c.sql", &revision("c", "a", ""));
    assert_build_fails(
        &fixture,
        &[
            "migrations/b.sql:1: the history has 2 heads: b (migrations/b.sql), c (migrations/c.sql) (help: run `cargo migrate merge",
        ],
    );

    // Malformed header: every problem, each with its line.
    fixture.clear_migrations();
    fixture.write("migrations/a.sql", "-- revision: a\n-- parnets:\n-- message: m\n\nSELECT 1;\n");
    assert_build_fails(
        &fixture,
        &[
            "migrations/a.sql:2: unknown header key `parnets` (help: did you mean `parents`?)",
            "migrations/a.sql:3: missing required header key `parents`",
            "migrations/a.sql: no `-- migrate:up` section",
        ],
    );

    // A pinned revision edited.
    fixture.clear_migrations();
    fixture.write("migrations/a.sql", &base);
    fixture.write("migrations/b.sql", &revision("b", "a", "SELECT 2;"));
    fixture.pin_all();
    assert_builds(&fixture);
    fixture.write("migrations/b.sql", &revision("b", "a", "SELECT 3;"));
    assert_build_fails(&fixture, &["migrations/b.sql:1: pinned revision `b` was edited: migrate.lock has sha256:"]);
    let (_, stderr) = text(&fixture.cargo(&["build"]));
    assert!(stderr.contains("cargo migrate lock --update b"), "the fix is named:\n{stderr}");

    // A pinned revision deleted.
    fixture.write("migrations/b.sql", &revision("b", "a", "SELECT 2;"));
    assert_builds(&fixture);
    fixture.remove("migrations/b.sql");
    assert_build_fails(&fixture, &["migrations/migrate.lock:7: pinned revision `b` has no file any more"]);
}

fn build_script_ran(fixture: &FixtureCrate) -> bool {
    let output = fixture.cargo(&["build", "-v"]);
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    stderr.lines().any(|l| l.contains("Running") && l.contains("build-script-build"))
}

#[test]
fn build_script_reruns_when_revisions_change_and_only_then() {
    let fixture = FixtureCrate::new("fixture_rerun");
    fixture.write("migrations/a.sql", &revision("a", "", "SELECT 1;"));
    assert!(build_script_ran(&fixture), "first build runs the build script");
    assert!(!build_script_ran(&fixture), "nothing changed: the build script must not run again");

    fixture.write("migrations/b.sql", &revision("b", "a", "SELECT 2;"));
    assert!(build_script_ran(&fixture), "adding a revision re-runs the build script");
    let (stdout, _) = assert_builds(&fixture);
    assert_eq!(stdout, "a pinned=false up=SELECT 1;\nb pinned=false up=SELECT 2;\n");

    std::thread::sleep(std::time::Duration::from_millis(20));
    fixture.write("migrations/b.sql", &revision("b", "a", "SELECT 3;"));
    assert!(build_script_ran(&fixture), "editing a revision re-runs the build script");
    let (stdout, _) = assert_builds(&fixture);
    assert!(stdout.ends_with("b pinned=false up=SELECT 3;\n"), "{stdout}");

    fixture.write("migrations/sub/c.sql", &revision("c", "b", "SELECT 4;"));
    assert!(build_script_ran(&fixture), "a revision in a nested directory re-runs the build script");

    fixture.remove("migrations/sub/c.sql");
    assert!(build_script_ran(&fixture), "deleting a revision re-runs the build script");
    let (stdout, _) = assert_builds(&fixture);
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn revision_id_longer_than_the_version_table_column_fails_the_build() {
    let fixture = FixtureCrate::new("fixture_long_id");
    let long = "a".repeat(migrate_history::MAX_REVISION_ID_LEN + 1);
    fixture.write("migrations/a.sql", &revision(&long, "", "SELECT 1;"));
    assert_build_fails(
        &fixture,
        &[&format!(
            "migrations/a.sql:1: revision id `{long}` is 65 characters long, more than the 64 a version table holds \
             (help: shorten it to at most 64 characters (migrate_history::MAX_REVISION_ID_LEN), and the `parents` and \
             `depends-on` lines that name it)"
        )],
    );
}

#[test]
fn a_lock_file_with_git_conflict_markers_fails_with_the_sentence_the_cli_prints() {
    let fixture = FixtureCrate::new("fixture_lock_conflict");
    fixture.write("migrations/a.sql", &revision("a", "", "SELECT 1;"));
    fixture.pin_all();
    let lock = std::fs::read_to_string(fixture.path().join("migrations/migrate.lock")).unwrap();
    let (top, entry) = lock.split_at(lock.find("a = ").unwrap());
    fixture.write("migrations/migrate.lock", &format!("{top}<<<<<<< HEAD\n{entry}=======\n{entry}>>>>>>> other\n"));
    assert_build_fails(
        &fixture,
        &["migrations/migrate.lock:6: migrate.lock has a git merge conflict: both sides' entries are independent; \
           `cargo migrate lock --resolve` keeps both (help: "],
    );
}

/// A squashed history: the replaced revisions under `squashed/<baseline>/`
/// are embedded with the baseline, in upgrade order; losing one fails the
/// build, as does a replaced revision left unpinned.
#[test]
fn a_squashed_history_embeds_the_replaced_revisions_and_refuses_a_lost_one() {
    let fixture = FixtureCrate::new("fixture_squashed");
    fixture.write("migrations/squashed/z/a_base.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.write("migrations/squashed/z/b_next.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    fixture.write(
        "migrations/z_baseline.sql",
        "-- revision: z\n-- parents:\n-- message: baseline\n-- replaces: a, b\n\n-- migrate:up\nCREATE TABLE a (id INT); CREATE TABLE b (id INT);\n",
    );
    fixture.write("migrations/c_after.sql", &revision("c", "b", "CREATE TABLE c (id INT);"));
    fixture.pin_all();
    let (stdout, _) = assert_builds(&fixture);
    let embedded: Vec<&str> = stdout.lines().map(|line| line.split(" up=").next().unwrap_or_default()).collect();
    assert_eq!(embedded, ["a pinned=true", "b pinned=true", "z pinned=true", "c pinned=true"]);

    fixture.remove("migrations/squashed/z/b_next.sql");
    assert_build_fails(
        &fixture,
        &[
            "migrations/z_baseline.sql:4: baseline `z` replaces `b`, which no revision file defines",
            "migrations/c_after.sql:2: revision `c` names parent `b`, which no revision file defines",
        ],
    );
    fixture.write("migrations/squashed/z/b_next.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    fixture.write("migrations/a_base.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.remove("migrations/squashed/z/a_base.sql");
    assert_build_fails(
        &fixture,
        &["migrations/z_baseline.sql:4: revision `a`, replaced by baseline `z`, is not under `squashed/z/`"],
    );
}
