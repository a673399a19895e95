//! `--message-format json`: one snapshot per `reason`, each the lines of that
//! reason a real command prints (values that change from run to run
//! redacted), and `docs/json.md` documenting exactly the reasons seen here.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tests::support::repo_root;

use crate::cargo_migrate;

/// A small history in a temporary directory: `a`, then `b` and `c` on two
/// branches from `a`, joined by the merge `m`; all pinned, SQLite beside it.
struct Fixture {
    dir: tempfile::TempDir,
}

const REVISIONS: [(&str, &str); 4] = [
    (
        "a_users.sql",
        "-- revision: a\n-- parents:\n-- message: users\n\n-- migrate:up\nCREATE TABLE users (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE users;\n",
    ),
    (
        "b_email.sql",
        "-- revision: b\n-- parents: a\n-- message: email\n\n-- migrate:up\nALTER TABLE users ADD COLUMN email TEXT;\n\n-- migrate:down\nALTER TABLE users DROP COLUMN email;\n",
    ),
    (
        "c_teams.sql",
        "-- revision: c\n-- parents: a\n-- message: teams\n\n-- migrate:up\nCREATE TABLE teams (id INTEGER PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE teams;\n",
    ),
    ("m_merge.sql", "-- revision: m\n-- parents: b, c\n-- message: merge\n\n-- migrate:up\n\n-- migrate:down\n"),
];

/// The models of the whole history, as `generate` and `check` compare them.
const MODELS: &str =
    "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);\nCREATE TABLE teams (id INTEGER PRIMARY KEY);\n";

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for (name, text) in REVISIONS {
            std::fs::write(dir.path().join("migrations").join(name), text).unwrap();
        }
        let fixture = Fixture { dir };
        let output = fixture.run(&["lock"]);
        assert!(output.status.success(), "{}", crate::transcript(&output));
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn database(&self) -> PathBuf {
        self.path().join("app.sqlite3")
    }

    /// `cargo-migrate migrate ARGS --message-format json` on the fixture.
    fn run(&self, args: &[&str]) -> Output {
        let url = format!("sqlite:{}", self.database().display());
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &url, "--message-format", "json"]);
        cargo_migrate(self.path(), &all)
    }

    /// The same, for a command that takes no database.
    fn offline(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--message-format", "json"]);
        cargo_migrate(self.path(), &all)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }
}

/// The lines of `output` with the given reason, parsed, with what varies
/// redacted, as pretty JSON one object after another.
fn lines(output: &Output, reason: &str, fixture: &Fixture) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut found = Vec::new();
    for line in stdout.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert_eq!(value["format-version"], 1, "{line}");
        if value["reason"] == reason {
            redact(&mut value, &fixture.path().display().to_string());
            found.push(serde_json::to_string_pretty(&value).unwrap());
        }
    }
    assert!(!found.is_empty(), "no `{reason}` line in:\n{}", crate::transcript(output));
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "finished", "the last line is `finished`:\n{stdout}");
    assert_eq!(last["exit-code"], output.status.code().unwrap(), "{stdout}");
    found.join("\n")
}

fn redact(value: &mut Value, dir: &str) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                match key.as_str() {
                    "elapsed-ms" => *field = Value::from("[MS]"),
                    "applied-at" if field.is_string() => *field = Value::from("[TIMESTAMP]"),
                    "applied-by" if field.is_string() => *field = Value::from("[USER@HOST]"),
                    "server-version" => *field = Value::from("[VERSION]"),
                    "created" if field.is_string() => *field = Value::from("[CREATED]"),
                    _ => redact(field, dir),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, dir)),
        Value::String(text) if text.contains(dir) => *text = text.replace(dir, "[DIR]"),
        _ => {}
    }
}

/// Every reason a snapshot below shows; `docs/json.md` documents exactly these.
const REASONS: [&str; 33] = [
    "revision",
    "branch-point",
    "diagnostic",
    "check-finished",
    "lint-finished",
    "revision-created",
    "no-changes",
    "pinned",
    "lock-written",
    "imported",
    "current",
    "status",
    "target-status",
    "target-finished",
    "fleet-finished",
    "revision-applied",
    "revision-reverted",
    "revision-not-executed",
    "waiting-for-lock",
    "lock-taken-over",
    "migration-finished",
    "stamped",
    "resolved",
    "adopted",
    "script",
    "schema-change",
    "diff-finished",
    "revision-verified",
    "verify-failure",
    "verify-finished",
    "file-written",
    "error",
    "finished",
];

#[test]
fn docs_json_md_documents_every_reason() {
    let docs = std::fs::read_to_string(repo_root().join("docs/json.md")).unwrap();
    let documented: Vec<&str> =
        docs.lines().filter_map(|l| l.strip_prefix("### `")).filter_map(|l| l.split('`').next()).collect();
    assert_eq!(documented, REASONS, "docs/json.md has one `### `reason`` heading per reason, in this order");
}

#[test]
fn reason_revision() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.offline(&["show", "m"]), "revision", &fixture));
}

#[test]
fn reason_branch_point() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.offline(&["branches"]), "branch-point", &fixture));
}

#[test]
fn reason_diagnostic() {
    let fixture = Fixture::new();
    fixture.write("migrations/d_draft.sql", "-- revision: d\n-- parents: m\n-- message: draft\n\n-- migrate:up\n");
    insta::assert_snapshot!(lines(&fixture.run(&["check"]), "diagnostic", &fixture));
}

#[test]
fn reason_check_finished() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["check"]), "check-finished", &fixture));
}

#[test]
fn reason_lint_finished() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.offline(&["lint", "--dialect", "sqlite"]), "lint-finished", &fixture));
}

#[test]
fn reason_revision_created() {
    let fixture = Fixture::new();
    fixture.write("schema.sql", &format!("{MODELS}CREATE TABLE tags (name TEXT NOT NULL);\n"));
    let output = fixture.run(&["generate", "add tags", "--rev-id", "g1"]);
    insta::assert_snapshot!(lines(&output, "revision-created", &fixture));
}

#[test]
fn reason_no_changes() {
    let fixture = Fixture::new();
    fixture.write("schema.sql", MODELS);
    insta::assert_snapshot!(lines(&fixture.run(&["generate", "nothing"]), "no-changes", &fixture));
}

#[test]
fn reason_pinned() {
    let fixture = Fixture::new();
    fixture.write("migrations/d_draft.sql", "-- revision: d\n-- parents: m\n-- message: draft\n\n-- migrate:up\n");
    insta::assert_snapshot!(lines(&fixture.run(&["lock"]), "pinned", &fixture));
}

#[test]
fn reason_imported() {
    let fixture = Fixture::new();
    let source = repo_root().join("tests/fixtures/import/dbmate");
    std::fs::create_dir(fixture.path().join("dbmate")).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), fixture.path().join("dbmate").join(entry.file_name())).unwrap();
    }
    let output = fixture.offline(&["import", "--from", "dbmate", "dbmate", "--into", "imported"]);
    insta::assert_snapshot!(lines(&output, "imported", &fixture));
}

#[test]
fn reason_lock_written() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["lock"]), "lock-written", &fixture));
}

#[test]
fn reason_current() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade", "b"]);
    insta::assert_snapshot!(lines(&fixture.run(&["current"]), "current", &fixture));
}

#[test]
fn reason_status() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade", "b"]);
    insta::assert_snapshot!(lines(&fixture.run(&["status"]), "status", &fixture));
}

impl Fixture {
    /// `ARGS --targets` over two SQLite files of the fixture, `one.sqlite3`
    /// and `two.sqlite3`.
    fn fleet(&self, args: &[&str]) -> Output {
        let targets = self.path().join("targets.txt");
        let files =
            ["one", "two"].map(|name| format!("sqlite:{}\n", self.path().join(format!("{name}.sqlite3")).display()));
        std::fs::write(&targets, files.concat()).unwrap();
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--targets", "targets.txt", "--jobs", "1", "--message-format", "json"]);
        cargo_migrate(self.path(), &all)
    }
}

#[test]
fn reason_target_status() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.fleet(&["status"]), "target-status", &fixture));
}

#[test]
fn reason_target_finished() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(redact_elapsed(lines(&fixture.fleet(&["upgrade", "b"]), "target-finished", &fixture)));
}

#[test]
fn reason_fleet_finished() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(redact_elapsed(lines(&fixture.fleet(&["upgrade"]), "fleet-finished", &fixture)));
}

/// Replaces the `elapsed-ms` figures, which vary from run to run.
fn redact_elapsed(text: String) -> String {
    text.lines()
        .map(|line| match line.split_once("\"elapsed-ms\": ") {
            Some((before, _)) => format!("{before}\"elapsed-ms\": [MS],"),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn reason_revision_applied() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["upgrade"]), "revision-applied", &fixture));
}

#[test]
fn reason_revision_reverted() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade"]);
    insta::assert_snapshot!(lines(&fixture.run(&["downgrade", "c"]), "revision-reverted", &fixture));
}

#[test]
fn reason_revision_not_executed() {
    let fixture = Fixture::new();
    fixture.write(
        "migrations/n_index.sql",
        "-- revision: n\n-- parents: m\n-- message: index\n-- transaction: false\n\n-- migrate:up\nCREATE INDEX ix_users_email ON users (email);\n",
    );
    let output = fixture.run(&["upgrade", "--dry-run"]);
    insta::assert_snapshot!(lines(&output, "revision-not-executed", &fixture));
}

#[test]
fn reason_waiting_for_lock() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade", "a"]);
    // Another migrator holds the SQLite file's migration lock.
    let lock = std::fs::File::create(format!("{}-migrate.lock", fixture.database().display())).unwrap();
    lock.lock().unwrap();
    let output = fixture.run(&["upgrade", "--lock-timeout", "1s"]);
    assert_eq!(output.status.code(), Some(4), "{}", crate::transcript(&output));
    insta::assert_snapshot!(lines(&output, "waiting-for-lock", &fixture));
}

#[test]
fn reason_migration_finished() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade", "a"]);
    insta::assert_snapshot!(lines(&fixture.run(&["upgrade"]), "migration-finished", &fixture));
}

#[test]
fn reason_stamped() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["stamp", "b"]), "stamped", &fixture));
}

#[test]
fn reason_resolved() {
    let fixture = Fixture::new();
    fixture.write(
        "migrations/n_half.sql",
        "-- revision: n\n-- parents: m\n-- message: half\n-- transaction: false\n\n-- migrate:up\nCREATE TABLE half (id INTEGER);\nCREATE TABLE half (id INTEGER);\n",
    );
    let output = fixture.run(&["upgrade"]);
    assert_eq!(output.status.code(), Some(101), "{}", crate::transcript(&output));
    insta::assert_snapshot!(lines(&fixture.run(&["resolve", "n", "--applied"]), "resolved", &fixture));
}

#[test]
fn reason_adopted() {
    let fixture = Fixture::new();
    std::fs::remove_dir_all(fixture.path().join("migrations")).unwrap();
    let source = repo_root().join("tests/fixtures/import/dbmate");
    let output = fixture.offline(&["import", "--from", "dbmate", source.to_str().unwrap()]);
    assert!(output.status.success(), "{}", crate::transcript(&output));
    // dbmate's first migration applied and recorded as dbmate records it.
    let db = tests::support::TestDatabase::create("json_adopt");
    let first = std::fs::read_to_string(source.join("20240101120000_create_users.sql")).unwrap();
    let up = first.split("-- migrate:down").next().unwrap();
    let sql = format!(
        "{up}\nCREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);\nINSERT INTO schema_migrations VALUES ('20240101120000');"
    );
    let psql = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-c", &sql])
        .output()
        .unwrap();
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    let output = cargo_migrate(
        fixture.path(),
        &["adopt", "--from", "dbmate", "--dir", "migrations", "--database-url", &db.url, "--message-format", "json"],
    );
    insta::assert_snapshot!(lines(&output, "adopted", &fixture));
}

#[test]
fn reason_script() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["sql", "b:m"]), "script", &fixture));
}

#[test]
fn reason_schema_change() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade"]);
    let db = migrate_runtime::rusqlite::Connection::open(fixture.database()).unwrap();
    db.execute_batch("ALTER TABLE teams ADD COLUMN name TEXT; DROP TABLE users;").unwrap();
    insta::assert_snapshot!(lines(&fixture.run(&["diff"]), "schema-change", &fixture));
}

#[test]
fn reason_diff_finished() {
    let fixture = Fixture::new();
    fixture.run(&["upgrade"]);
    insta::assert_snapshot!(lines(&fixture.run(&["diff"]), "diff-finished", &fixture));
}

#[test]
fn reason_revision_verified() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["verify"]), "revision-verified", &fixture));
}

#[test]
fn reason_verify_failure() {
    let fixture = Fixture::new();
    fixture.write(
        "migrations/n_index.sql",
        "-- revision: n\n-- parents: m\n-- message: index\n\n-- migrate:up\nCREATE INDEX ix_users_email ON users (email);\n\n-- migrate:down\n",
    );
    let output = fixture.run(&["verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", crate::transcript(&output));
    insta::assert_snapshot!(lines(&output, "verify-failure", &fixture));
}

#[test]
fn reason_verify_finished() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["verify"]), "verify-finished", &fixture));
}

#[test]
fn reason_file_written() {
    let fixture = Fixture::new();
    std::fs::write(
        fixture.path().join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    let output = cargo_migrate(fixture.path(), &["init", "--message-format", "json"]);
    insta::assert_snapshot!(lines(&output, "file-written", &fixture));
}

#[test]
fn reason_error() {
    let fixture = Fixture::new();
    insta::assert_snapshot!(lines(&fixture.run(&["upgrade", "nope"]), "error", &fixture));
}

#[test]
fn reason_finished() {
    let fixture = Fixture::new();
    let output = fixture.run(&["check"]);
    let failed = fixture.offline(&["show", "nope"]);
    insta::assert_snapshot!(format!(
        "{}\n{}",
        lines(&output, "finished", &fixture),
        lines(&failed, "finished", &fixture)
    ));
}
