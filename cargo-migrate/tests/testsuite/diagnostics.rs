//! Diagnostics rendered as rustc does: the message, the file's lines with a
//! caret span under what it points at, and the help, for each kind of
//! problem with a file and a line.

use std::path::Path;

use crate::{assert_exit, cargo_migrate, redacted, transcript};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const USERS: &str = "-- revision: a1\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INT);\n\n-- migrate:down\nDROP TABLE users;\n";

#[test]
fn history_problems_point_at_the_key_value_or_id() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "migrations/a1.sql", USERS);
    write(
        dir.path(),
        "migrations/b2.sql",
        "-- revision: b2\n-- parnets: a1\n-- parents: a1, zz9\n-- message: posts\n-- transaction: maybe\n\n-- migrate:up\nSELECT 1;\n",
    );
    write(
        dir.path(),
        "migrations/c3.sql",
        "-- revision: c3\n-- parents: a1, x9\n-- message: tags\n\n-- migrate:up\nSELECT 1;\n",
    );
    let output = cargo_migrate(dir.path(), &["--dir", "migrations", "check", "--no-models", "--allow-drafts"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 1
    --- stdout
    --- stderr
    warning: revision `a1` is a draft: it is not pinned in migrate.lock
     --> migrations/a1.sql:1:14
      |
    1 | -- revision: a1
      |              ^^
      |
      = help: run `cargo migrate lock` to pin it once it is final

    error: unknown header key `parnets`
     --> migrations/b2.sql:2:4
      |
    2 | -- parnets: a1
      |    ^^^^^^^
      |
      = help: did you mean `parents`?

    error: `transaction: maybe` must be `true` or `false`
     --> migrations/b2.sql:5:17
      |
    5 | -- transaction: maybe
      |                 ^^^^^
      |
      = help: write `-- transaction: false` or remove the line

    warning: revision `c3` is a draft: it is not pinned in migrate.lock
     --> migrations/c3.sql:1:14
      |
    1 | -- revision: c3
      |              ^^
      |
      = help: run `cargo migrate lock` to pin it once it is final

    error: revision `c3` names parent `x9`, which no revision file defines
     --> migrations/c3.sql:2:17
      |
    2 | -- parents: a1, x9
      |                 ^^
      |
      = help: fix the `parents` line (see `cargo migrate heads`), or restore the missing revision file

    error: check failed with 3 problems: 2 revisions in migrations, 1 head, 0 pinned
    ");
}

#[test]
fn a_failing_statement_points_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "migrations/a1.sql", USERS);
    write(
        dir.path(),
        "migrations/b2.sql",
        "-- revision: b2\n-- parents: a1\n-- message: posts\n\n-- migrate:up\nCREATE TABLE posts (id INT);\n    INSERT INTO missing VALUES (1);\n",
    );
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let output = cargo_migrate(dir.path(), &["--dir", "migrations", "upgrade", "-q", "--database-url", &url]);
    insta::assert_snapshot!(redacted(&output, &[]), @r"
    exit: 101
    --- stdout
    --- stderr
    error: revision `b2` failed: no such table: missing
     --> migrations/b2.sql:7:5
      |
    7 |     INSERT INTO missing VALUES (1);
      |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: nothing of this revision was applied; fix it and run the upgrade again
    ");
}

#[test]
fn an_error_in_the_models_points_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "migrations/a1.sql", USERS);
    write(
        dir.path(),
        "schema.sql",
        "CREATE TABLE users (id INT);\n/* posts come later\nCREATE TABLE posts (id INT);\n",
    );
    let url = format!("sqlite:{}", dir.path().join("app.db").display());
    let output = cargo_migrate(dir.path(), &["--dir", "migrations", "generate", "posts", "--database-url", &url]);
    insta::assert_snapshot!(redacted(&output, &[]), @r"
    exit: 2
    --- stdout
    --- stderr
    error: this `/*` comment is never closed with `*/`
     --> schema.sql:2:1
      |
    2 | /* posts come later
      | ^^^^^^^^^^^^^^^^^^^
      |
      = help: close it, or remove it
    ");
}

#[test]
fn json_carries_the_span_and_colours_follow_cargo_term_color() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "migrations/a1.sql", &USERS.replace("-- parents:", "-- parents:\n-- parnets: a1"));
    let output = cargo_migrate(dir.path(), &["--dir", "migrations", "check", "--message-format", "json"]);
    let (stdout, stderr) = assert_exit(&output, 1);
    let diagnostic: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        diagnostic["span"],
        serde_json::json!({"byte-start": 31, "byte-end": 38, "line-start": 3, "column-start": 4, "line-end": 3, "column-end": 11})
    );
    assert!(!stderr.contains('\u{1b}'), "no colours with CARGO_TERM_COLOR=never: {stderr}");
    let coloured = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .args(["migrate", "--dir", "migrations", "check"])
        .current_dir(dir.path())
        .env("CARGO_TERM_COLOR", "always")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&coloured.stderr);
    assert!(stderr.contains("\u{1b}[") && stderr.contains("parnets"), "colours with CARGO_TERM_COLOR=always: {stderr}");
}
