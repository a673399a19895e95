//! A team on several branches (issue #16): the lock file merges without a
//! fight (`.gitattributes` asks git for a union merge, the reader takes any
//! order), a conflicted one is recognised and `lock --resolve` repairs it;
//! drafts in `check`; `lock --update` asks the configured database first.
//! The git tests run a real `git merge` and real `cargo build`s.

use std::path::Path;
use std::process::{Command, Output};

use migrate_history::Checksum;
use tests::support::{FixtureCrate, TestDatabase, revision, text};

use crate::{assert_exit, cargo_migrate, transcript};

const TOP: &str = "# Checksums of released revisions, written by `cargo migrate lock`.\n\
# A build fails when a pinned revision's file changes. Do not edit by hand.\n\
version = 1\n\n[revisions]\n";

/// A `--dir db` project with revisions `a` <- `b`, and its lock file's text.
fn project(lock: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("db")).unwrap();
    std::fs::write(dir.path().join("db/a.sql"), revision("a", "", "CREATE TABLE a (id INT);")).unwrap();
    std::fs::write(dir.path().join("db/b.sql"), revision("b", "a", "CREATE TABLE b (id INT);")).unwrap();
    std::fs::write(dir.path().join("db/migrate.lock"), lock).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> Output {
    cargo_migrate(dir, &[args, &["--dir", "db"]].concat())
}

fn pin(id: &str, up: &str, parents: &str) -> String {
    format!("{id} = \"{}\"\n", Checksum::of(&revision(id, parents, up)))
}

fn pin_a() -> String {
    pin("a", "CREATE TABLE a (id INT);", "")
}

fn pin_b() -> String {
    pin("b", "CREATE TABLE b (id INT);", "a")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn lock_adds_the_union_merge_line_where_missing() {
    let dir = project(&format!("{TOP}{}{}", pin_a(), pin_b()));
    std::fs::write(dir.path().join(".gitattributes"), "*.png binary").unwrap();
    let output = run(dir.path(), &["lock"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 0
    --- stdout
    --- stderr
           Fresh db/migrate.lock is up to date
           Added `db/migrate.lock merge=union` to .gitattributes: git keeps both branches' pins when merging
    "#);
    assert_eq!(read(dir.path(), ".gitattributes"), "*.png binary\ndb/migrate.lock merge=union\n");
    // Once there, it is left alone.
    let output = run(dir.path(), &["lock"]);
    assert_exit(&output, 0);
    assert_eq!(read(dir.path(), ".gitattributes"), "*.png binary\ndb/migrate.lock merge=union\n");
}

#[test]
fn entries_out_of_order_and_repeated_are_read_and_lock_sorts_them() {
    // What git's union merge writes when both branches pinned `b`.
    let dir = project(&format!("{TOP}{}{}{}", pin_b(), pin_a(), pin_b()));
    assert_exit(&run(dir.path(), &["check"]), 0);
    let output = run(dir.path(), &["lock"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 0
    --- stdout
    --- stderr
           Added `db/migrate.lock merge=union` to .gitattributes: git keeps both branches' pins when merging
    "#);
    assert_eq!(read(dir.path(), "db/migrate.lock"), format!("{TOP}{}{}", pin_a(), pin_b()));
}

/// Both sides of a conflict as git writes it, after `a`.
fn conflicted(ours: &str, theirs: &str) -> String {
    format!("{TOP}{}<<<<<<< HEAD\n{ours}=======\n{theirs}>>>>>>> right\n", pin_a())
}

#[test]
fn a_conflicted_lock_file_is_named_as_such_by_check() {
    let dir = project(&conflicted(&pin_b(), &pin("c", "SELECT 1;", "a")));
    std::fs::write(dir.path().join("db/c.sql"), revision("c", "a", "SELECT 1;")).unwrap();
    let output = run(dir.path(), &["check"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: the history has 2 heads: b (db/b.sql), c (db/c.sql)
     --> db/b.sql:1:14
      |
    1 | -- revision: b
      |              ^
      |
      = help: run `cargo migrate merge -m "merge heads"` to join them, or set `allow-multiple-heads = true` in `[package.metadata.migrate]` if the branches are meant to stay apart

    error: migrate.lock has a git merge conflict: both sides' entries are independent; `cargo migrate lock --resolve` keeps both
     --> db/migrate.lock:7:1
      |
    7 | <<<<<<< HEAD
      | ^^^^^^^^^^^^
      |
      = help: commit the resolved file; with `migrate.lock merge=union` in .gitattributes (`cargo migrate init` and `lock` add it) git keeps both sides on its own

    error: check failed with 2 problems: 3 revisions in db, 2 heads, 3 pinned
    "#);
}

#[test]
fn lock_refuses_a_conflicted_lock_file_and_lock_resolve_keeps_both_sides() {
    let dir = project(&conflicted(&pin_b(), &pin("c", "SELECT 1;", "a")));
    std::fs::write(dir.path().join("db/c.sql"), revision("c", "a", "SELECT 1;")).unwrap();
    let (_, stderr) = assert_exit(&run(dir.path(), &["lock"]), 1);
    assert!(
        stderr.contains("error: migrate.lock has a git merge conflict") && stderr.contains(" --> db/migrate.lock:7:1"),
        "{stderr}"
    );
    let output = run(dir.path(), &["lock", "--resolve"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 0
    --- stdout
    --- stderr
           Added `db/migrate.lock merge=union` to .gitattributes: git keeps both branches' pins when merging
        Resolved db/migrate.lock: kept both sides, 3 pinned revisions
    "#);
    assert_eq!(
        read(dir.path(), "db/migrate.lock"),
        format!("{TOP}{}{}{}", pin_a(), pin_b(), pin("c", "SELECT 1;", "a"))
    );
}

#[test]
fn lock_resolve_refuses_when_both_sides_pin_one_revision_differently() {
    let dir = project(&conflicted(&pin_b(), &pin("b", "CREATE TABLE b (id BIGINT);", "a")));
    let before = read(dir.path(), "db/migrate.lock");
    let output = run(dir.path(), &["lock", "--resolve"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: revision `b` is pinned twice with different checksums (also on line 8)
      --> db/migrate.lock:10:1
       |
    10 | b = "sha256:bd295816442ded3845fa441a0c27cdfd7bd813fbf79e731ae43e79c20b6a82c1"
       | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
       |
       = help: two branches pinned different versions of `b`: keep the line whose checksum matches the file you keep (`cargo migrate show b` prints it), remove the other, then run `cargo migrate lock`

    error: both sides pin `b` with different checksums; nothing was changed
    "#);
    assert_eq!(read(dir.path(), "db/migrate.lock"), before);
}

#[test]
fn check_names_the_command_for_drafts_and_allow_drafts_accepts_them() {
    let dir = project(&format!("{TOP}{}", pin_a()));
    let output = run(dir.path(), &["check"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 1
    --- stdout
    --- stderr
    error: revision `b` is a draft: it is not pinned in migrate.lock
     --> db/b.sql:1:14
      |
    1 | -- revision: b
      |              ^
      |
      = help: run `cargo migrate lock` to pin it once it is final

    error: check failed with 1 problem: 2 revisions in db, 1 head, 1 pinned
      help: run `cargo migrate lock` to pin the 1 draft and commit db/migrate.lock with it; `cargo migrate check --allow-drafts` accepts drafts for local use
    ");
    let output = run(dir.path(), &["check", "--allow-drafts"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 0
    --- stdout
    --- stderr
    warning: revision `b` is a draft: it is not pinned in migrate.lock
     --> db/b.sql:1:14
      |
    1 | -- revision: b
      |              ^
      |
      = help: run `cargo migrate lock` to pin it once it is final

         Checked 2 revisions in db, 1 head, 1 pinned
    ");
}

/// `b` is pinned, then edited.
fn edited_project(db: &TestDatabase, applied: bool) -> tempfile::TempDir {
    let dir = project(&format!("{TOP}{}{}", pin_a(), pin_b()));
    if applied {
        assert_exit(&run(dir.path(), &["upgrade", "--database-url", &db.url]), 0);
    } else {
        assert_exit(&run(dir.path(), &["upgrade", "a", "--database-url", &db.url]), 0);
    }
    std::fs::write(dir.path().join("db/b.sql"), revision("b", "a", "CREATE TABLE b (id BIGINT);")).unwrap();
    dir
}

fn redact(output: &Output, db: &TestDatabase) -> String {
    transcript(output).replace(&db.server_prefix(), "postgres://postgres@127.0.0.1:5432/").replace(&db.name, "[DB]")
}

#[test]
fn lock_update_refuses_a_revision_the_configured_database_applied() {
    let db = TestDatabase::create("repin_applied");
    let dir = edited_project(&db, true);
    let before = read(dir.path(), "db/migrate.lock");
    let output = run(dir.path(), &["lock", "--update", "b", "--database-url", &db.url]);
    insta::assert_snapshot!(redact(&output, &db), @r#"
    exit: 1
    --- stdout
    --- stderr
    error: revision `b` is applied to postgres://postgres@127.0.0.1:5432/[DB]: re-pinning it would hide that it ran the old text
      help: put the change in a new revision (`cargo migrate new`) and revert the edit; if that database is yours to throw away, `cargo migrate lock --update b --force`
    "#);
    assert_eq!(read(dir.path(), "db/migrate.lock"), before);
    let output = run(dir.path(), &["lock", "--update", "b", "--force", "--database-url", &db.url]);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(stderr.starts_with(&format!("warning: re-pinning `b` although {}", db.server_prefix())), "{stderr}");
}

#[test]
fn an_edited_revision_the_database_has_not_applied_may_be_re_pinned() {
    let db = TestDatabase::create("repin_pending");
    let dir = edited_project(&db, false);
    let output = run(dir.path(), &["check", "--database-url", &db.url]);
    let new = Checksum::of(&revision("b", "a", "CREATE TABLE b (id BIGINT);")).to_string();
    let old = Checksum::of(&revision("b", "a", "CREATE TABLE b (id INT);")).to_string();
    insta::assert_snapshot!(redact(&output, &db).replace(&new, "[NEW]").replace(&old, "[OLD]"), @r"
    exit: 1
    --- stdout
    --- stderr
    error: pinned revision `b` was edited: migrate.lock has [OLD], the file now has [NEW]
     --> db/b.sql:1:14
      |
    1 | -- revision: b
      |              ^
      |
      = help: postgres://postgres@127.0.0.1:5432/[DB] has not applied it, so re-pinning it is safe: `cargo migrate lock --update b`

    error: check failed with 1 problem: 2 revisions in db, 1 head, 2 pinned
    ");
    let output = run(dir.path(), &["lock", "--update", "b", "--database-url", &db.url]);
    assert_exit(&output, 0);
    assert_exit(&run(dir.path(), &["check"]), 0);
}

/// `git ARGS` in `dir`, with no global or system configuration.
fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git")
}

#[track_caller]
fn git_ok(dir: &Path, args: &[&str]) {
    let output = git(dir, args);
    assert!(output.status.success(), "git {args:?}: {}", transcript(&output));
}

/// A fixture crate with a history `a0`, committed on `main` with user
/// settings of its own.
fn repository(name: &str, gitattributes: bool) -> FixtureCrate {
    let fixture = FixtureCrate::new(name);
    let dir = fixture.path();
    assert_exit(&cargo_migrate(dir, &["init"]), 0);
    assert_exit(&cargo_migrate(dir, &["new", "create users", "--rev-id", "a0"]), 0);
    assert_exit(&cargo_migrate(dir, &["lock"]), 0);
    if !gitattributes {
        // A project set up before `init` wrote .gitattributes.
        fixture.remove(".gitattributes");
    }
    fixture.write(".gitignore", "/target\nCargo.lock\n");
    git_ok(dir, &["init", "-q", "-b", "main"]);
    git_ok(dir, &["config", "user.name", "Test User"]);
    git_ok(dir, &["config", "user.email", "test@example.com"]);
    git_ok(dir, &["config", "commit.gpgsign", "false"]);
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", "base"]);
    fixture
}

/// A branch from `main` adding revision `id` and pinning it (with `lock`,
/// or as an older cargo-migrate did, without touching .gitattributes).
fn branch(fixture: &FixtureCrate, name: &str, id: &str, with_lock: bool) {
    let dir = fixture.path();
    git_ok(dir, &["checkout", "-q", "-b", name, "main"]);
    assert_exit(&cargo_migrate(dir, &["new", name, "--rev-id", id]), 0);
    if with_lock {
        assert_exit(&cargo_migrate(dir, &["lock"]), 0);
    } else {
        fixture.pin_all();
    }
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "-m", name]);
}

/// The `error:` lines of a failed `cargo build`.
fn build_errors(fixture: &FixtureCrate) -> String {
    let output = fixture.cargo(&["build"]);
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(101), "{stderr}");
    stderr.lines().filter(|l| l.starts_with("error")).collect::<Vec<_>>().join("\n")
}

#[track_caller]
fn assert_build_passes(fixture: &FixtureCrate) {
    let output = fixture.cargo(&["build"]);
    assert!(output.status.success(), "{}", transcript(&output));
}

/// After the merge: two heads; `merge` + `lock` + `check` + `cargo build` pass.
fn merge_heads_and_build(fixture: &FixtureCrate) {
    let dir = fixture.path();
    assert_eq!(
        build_errors(fixture).replace(fixture.name(), "[NAME]"),
        "error: [NAME]@0.1.0: migrations/l1_left.sql:1: the history has 2 heads: l1 (migrations/l1_left.sql), \
         r1 (migrations/r1_right.sql) (help: run `cargo migrate merge -m \"merge heads\"` to join them, or set \
         `allow-multiple-heads = true` in `[package.metadata.migrate]` if the branches are meant to stay apart)\n\
         error: build script logged errors"
    );
    assert_exit(&cargo_migrate(dir, &["merge", "-m", "merge heads", "--rev-id", "m1"]), 0);
    assert_exit(&cargo_migrate(dir, &["lock"]), 0);
    assert_exit(&cargo_migrate(dir, &["check"]), 0);
    assert_build_passes(fixture);
}

#[test]
fn two_branches_that_each_pin_a_revision_merge_without_a_conflict() {
    let fixture = repository("team_union_merge", true);
    let dir = fixture.path();
    assert_eq!(read(dir, ".gitattributes"), "migrations/migrate.lock merge=union\n");
    branch(&fixture, "left", "l1", true);
    branch(&fixture, "right", "r1", true);
    git_ok(dir, &["checkout", "-q", "left"]);
    let merged = git(dir, &["merge", "--no-edit", "right"]);
    assert!(merged.status.success(), "git merge: {}", transcript(&merged));
    assert!(!read(dir, "migrations/migrate.lock").contains("<<<<<<<"));
    merge_heads_and_build(&fixture);
}

#[test]
fn an_older_lock_file_conflicts_and_lock_resolve_repairs_it() {
    let fixture = repository("team_conflict_merge", false);
    let dir = fixture.path();
    branch(&fixture, "left", "l1", false);
    branch(&fixture, "right", "r1", false);
    git_ok(dir, &["checkout", "-q", "left"]);
    let merged = git(dir, &["merge", "--no-edit", "right"]);
    assert_eq!(merged.status.code(), Some(1), "git merge should conflict: {}", transcript(&merged));
    // The build script names it with the same sentence.
    insta::assert_snapshot!(build_errors(&fixture).replace(fixture.name(), "[NAME]"), @r#"
    error: [NAME]@0.1.0: migrations/l1_left.sql:1: the history has 2 heads: l1 (migrations/l1_left.sql), r1 (migrations/r1_right.sql) (help: run `cargo migrate merge -m "merge heads"` to join them, or set `allow-multiple-heads = true` in `[package.metadata.migrate]` if the branches are meant to stay apart)
    error: [NAME]@0.1.0: migrations/migrate.lock:7: migrate.lock has a git merge conflict: both sides' entries are independent; `cargo migrate lock --resolve` keeps both (help: commit the resolved file; with `migrate.lock merge=union` in .gitattributes (`cargo migrate init` and `lock` add it) git keeps both sides on its own)
    error: build script logged errors
    "#);
    let output = cargo_migrate(dir, &["lock", "--resolve"]);
    insta::assert_snapshot!(transcript(&output), @r#"
    exit: 0
    --- stdout
    --- stderr
           Added `migrations/migrate.lock merge=union` to .gitattributes: git keeps both branches' pins when merging
        Resolved migrations/migrate.lock: kept both sides, 3 pinned revisions
    "#);
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "--no-edit"]);
    merge_heads_and_build(&fixture);
}

#[test]
fn an_edited_revision_the_database_recorded_as_failed_may_be_re_pinned() {
    let db = TestDatabase::create("repin_failed");
    let broken = "-- revision: b\n-- parents: a\n-- message: revision b\n-- transaction: false\n\n-- migrate:up\nCREATE TABLE b (id INT);\nSELECT no_such_function();\n";
    let dir = project(&format!("{TOP}{}{}", pin_a(), format_args!("b = \"{}\"\n", Checksum::of(broken))));
    std::fs::write(dir.path().join("db/b.sql"), broken).unwrap();
    assert_exit(&run(dir.path(), &["upgrade", "--database-url", &db.url]), 101);
    let fixed = broken.replace("SELECT no_such_function();\n", "");
    std::fs::write(dir.path().join("db/b.sql"), &fixed).unwrap();
    let output = run(dir.path(), &["check", "--database-url", &db.url]);
    let redacted = redact(&output, &db)
        .replace(&Checksum::of(broken).to_string(), "[OLD]")
        .replace(&Checksum::of(&fixed).to_string(), "[NEW]");
    insta::assert_snapshot!(redacted, @r"
    exit: 1
    --- stdout
    --- stderr
    error: pinned revision `b` was edited: migrate.lock has [OLD], the file now has [NEW]
     --> db/b.sql:1:14
      |
    1 | -- revision: b
      |              ^
      |
      = help: postgres://postgres@127.0.0.1:5432/[DB] recorded it as failed, so re-pinning it is safe: `cargo migrate lock --update b`

    error: check failed with 1 problem: 2 revisions in db, 1 head, 2 pinned
    ");
    let output = run(dir.path(), &["lock", "--update", "b", "--database-url", &db.url]);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(stderr.contains("Re-pinned b"), "{stderr}");
}

#[test]
fn lock_update_says_when_the_configured_database_does_not_answer() {
    let dir = project(&format!("{TOP}{}{}", pin_a(), pin_b()));
    std::fs::write(dir.path().join("db/b.sql"), revision("b", "a", "CREATE TABLE b (id BIGINT);")).unwrap();
    let url = "postgres://postgres@127.0.0.1:1/nowhere";
    let output = run(dir.path(), &["lock", "--update", "b", "--database-url", url]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 0
    --- stdout
    --- stderr
    warning: re-pinning `b` without knowing whether the configured database applied it: postgres://postgres@127.0.0.1:1/nowhere (from --database-url): could not connect to PostgreSQL at 127.0.0.1:1/nowhere as postgres: error connecting to server: Connection refused (os error 111)
       Re-pinned b (743d72ef9e24 -> bd295816442d)
           Added `db/migrate.lock merge=union` to .gitattributes: git keeps both branches' pins when merging
    ");
}
