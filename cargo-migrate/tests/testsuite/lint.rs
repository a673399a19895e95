//! `cargo migrate lint` and the lint half of `check`: a fixture per rule
//! class, with and without the revision's `allow` line.

use std::path::Path;
use std::process::Output;

use crate::{assert_exit, cargo_migrate, transcript};

/// A package whose `[package.metadata.migrate]` is `config`, with its revisions in `migrations/`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(config: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let manifest = format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[package.metadata.migrate]\n{config}"
        );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        Project { dir }
    }

    /// PostgreSQL, without squawk's rules that want `SET lock_timeout` and
    /// `SET statement_timeout` before every statement that locks (on by
    /// default, they would double most findings here).
    fn postgres() -> Project {
        Project::new(
            "dialect = \"postgres\"\n\n[package.metadata.migrate.lint]\n\
             allow = [\"require-lock-timeout\", \"require-statement-timeout\"]\n",
        )
    }

    /// A revision `id` after `parent`; `header` adds header lines (`transaction`, `allow`).
    fn revision(&self, id: &str, parent: &str, header: &str, up: &str, down: Option<&str>) -> &Project {
        let down = down.map(|d| format!("\n-- migrate:down\n{d}\n")).unwrap_or_default();
        let text =
            format!("-- revision: {id}\n-- parents: {parent}\n-- message: {id}\n{header}\n-- migrate:up\n{up}\n{down}");
        std::fs::write(self.dir.path().join(format!("migrations/{id}.sql")), text).unwrap();
        self
    }

    fn write(&self, path: &str, text: &str) -> &Project {
        std::fs::write(self.dir.path().join(path), text).unwrap();
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        cargo_migrate(self.path(), args)
    }

    fn lock(&self) -> &Project {
        assert_exit(&self.run(&["lock"]), 0);
        self
    }

    /// Each diagnostic of `args` (with `--message-format json`) as
    /// `severity rule line:column` (a lint finding) or `severity line: message`.
    fn findings(&self, args: &[&str]) -> Vec<String> {
        let mut all = args.to_vec();
        all.extend(["--message-format", "json"]);
        let output = self.run(&all);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|m| m["reason"] == "diagnostic")
            .map(|m| {
                let severity = m["severity"].as_str().unwrap();
                let file = m["path"].as_str().unwrap_or("").rsplit('/').next().unwrap().to_owned();
                match (m["rule"].as_str(), &m["span"]) {
                    (Some(rule), span) => {
                        format!("{severity} {rule} {file}:{}:{}", span["line-start"], span["column-start"])
                    }
                    (None, _) => format!("{severity} {file}:{} {}", m["line"], m["message"].as_str().unwrap()),
                }
            })
            .collect()
    }

    fn lint(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["lint"];
        all.extend(args);
        self.findings(&all)
    }
}

const USERS: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL, name TEXT);";
const RELEASED: &str = "version = 1\n\n[tags]\n\"v0.1.0\" = [\"a1\"]\n";

/// `users` created by `a1`, which release v0.1.0 has.
fn released_users() -> Project {
    let project = Project::postgres();
    project.revision("a1", "", "", USERS, Some("DROP TABLE users;")).write("migrations/releases.toml", RELEASED);
    project
}

#[test]
fn concurrently_in_a_transactional_revision_is_an_error_and_not_without_one() {
    let project = released_users();
    let index = "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_email ON users (email);";
    project.revision("b2", "a1", "", index, Some("DROP INDEX IF EXISTS ix_users_email;"));
    assert_eq!(project.lint(&["b2"]), ["error concurrently-in-transaction b2.sql:6:14"]);
    // squawk's name for the index case is ours too.
    let allow = "-- allow: ban-concurrent-index-creation-in-transaction because the runner commits first\n";
    project.revision("b2", "a1", allow, index, Some("DROP INDEX IF EXISTS ix_users_email;"));
    assert_eq!(project.lint(&["b2"]), Vec::<String>::new());
    project.revision("b2", "a1", "", index, Some("DROP INDEX IF EXISTS ix_users_email;"));
    // Pinned, it is still an error: PostgreSQL refuses it.
    project.lock();
    assert_eq!(project.lint(&["b2"]), ["error concurrently-in-transaction b2.sql:6:14"]);
    let index = "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_users_name ON users (name);";
    project.revision("c3", "b2", "-- transaction: false\n", index, Some("DROP INDEX IF EXISTS ix_users_name;"));
    assert_eq!(project.lint(&["c3"]), Vec::<String>::new());
    // squawk's alternative to a plain index is CONCURRENTLY: never for a transactional revision.
    project.revision("d4", "c3", "", "CREATE INDEX IF NOT EXISTS ix_users_id ON users (id, name);", Some(""));
    let output = project.run(&["lint", "d4"]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(
        stderr.contains("= help: build the index with `CREATE INDEX CONCURRENTLY` in a revision of its own whose header says `-- transaction: false`"),
        "{stderr}"
    );
    assert!(!stderr.contains("Use `concurrently`"), "{stderr}");
}

#[test]
fn a_lock_on_a_released_table_is_flagged_and_on_a_table_of_the_same_revision_not() {
    let project = released_users();
    let index = "CREATE INDEX ix_users_email ON users (email);";
    project.revision("b2", "a1", "", index, Some("DROP INDEX ix_users_email;"));
    project.revision(
        "c3",
        "b2",
        "",
        "CREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL);\nCREATE INDEX ix_posts_user ON posts (user_id);\n\
         ALTER TABLE posts ADD CONSTRAINT fk_posts_user FOREIGN KEY (user_id) REFERENCES users (id);",
        Some("DROP TABLE posts;"),
    );
    // A table an earlier revision created that no release has yet: no production rows either.
    project.revision(
        "d4",
        "c3",
        "",
        "CREATE INDEX ix_posts_id ON posts (id, user_id);",
        Some("DROP INDEX ix_posts_id;"),
    );
    assert_eq!(project.lint(&[]), ["error lock-on-released-table b2.sql:6:1"]);
    // Allowed for the revision, with a reason.
    let allow = "-- allow: lock-on-released-table because users has 40 rows\n";
    project.revision("b2", "a1", allow, index, Some("DROP INDEX ix_users_email;"));
    assert_eq!(project.lint(&[]), Vec::<String>::new());
    let (_, stderr) = assert_exit(&project.run(&["lint"]), 0);
    assert!(
        stderr.contains("Linted 4 revisions as PostgreSQL: 0 errors, 0 warnings, 1 allowed by `allow` lines"),
        "{stderr}"
    );
}

#[test]
fn without_releases_toml_pinned_revisions_are_the_released_ones() {
    let project = Project::postgres();
    let set_not_null = "ALTER TABLE users ALTER COLUMN name SET NOT NULL;";
    let down = "ALTER TABLE users ALTER COLUMN name DROP NOT NULL;";
    project.revision("a1", "", "", USERS, Some("DROP TABLE users;"));
    project.revision("b2", "a1", "", set_not_null, Some(down));
    assert_eq!(project.lint(&[]), Vec::<String>::new(), "a1 is a draft: no production rows");
    std::fs::remove_file(project.path().join("migrations/b2.sql")).unwrap();
    project.lock();
    project.revision("b2", "a1", "", set_not_null, Some(down));
    assert_eq!(project.lint(&[]), ["error lock-on-released-table b2.sql:6:19"]);
}

#[test]
fn a_destructive_change_the_down_section_cannot_undo() {
    let project = released_users();
    let drop = "ALTER TABLE users DROP COLUMN name;";
    let allow_clients = "-- allow: ban-drop-column because no release reads it since v0.1.0\n";
    project.revision("b2", "a1", allow_clients, drop, None);
    assert_eq!(project.lint(&["b2"]), ["error irreversible-data-loss b2.sql:7:19"]);
    let (_, stderr) = assert_exit(&project.run(&["lint", "b2"]), 1);
    assert!(
        stderr.contains("the revision has no down section: once it is applied, there is no way back but a backup"),
        "{stderr}"
    );
    // A down section that puts the column back, but not its values.
    project.revision("b2", "a1", allow_clients, drop, Some("ALTER TABLE users ADD COLUMN name TEXT;"));
    assert_eq!(project.lint(&["b2"]), ["error irreversible-data-loss b2.sql:7:19"]);
    let (_, stderr) = assert_exit(&project.run(&["lint", "b2"]), 1);
    assert!(stderr.contains("the down section can put back the structure, but not the data"), "{stderr}");
    // A down section that writes the values back from a copy.
    let keep = "CREATE TABLE users_name_backup AS SELECT id, name FROM users;\nALTER TABLE users DROP COLUMN name;";
    let restore = "ALTER TABLE users ADD COLUMN name TEXT;\nUPDATE users SET name = b.name FROM users_name_backup b WHERE b.id = users.id;\nDROP TABLE users_name_backup;";
    project.revision("b2", "a1", allow_clients, keep, Some(restore));
    assert_eq!(project.lint(&["b2"]), Vec::<String>::new());
    // Or the revision says the data is meant to go.
    let allow = format!("{allow_clients}-- allow: irreversible-data-loss because the names live in the CRM\n");
    project.revision("b2", "a1", &allow, drop, None);
    assert_eq!(project.lint(&["b2"]), Vec::<String>::new());
    // A type change and a dropped table.
    project.revision(
        "b2",
        "a1",
        "-- allow: changing-column-type because users is small\n-- allow: lock-on-released-table because users is small\n",
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(100);",
        Some("ALTER TABLE users ALTER COLUMN email TYPE text;"),
    );
    assert_eq!(
        project.lint(&["b2"]),
        ["error irreversible-data-loss b2.sql:8:19", "error prefer-text-field b2.sql:8:43"]
    );
    project.revision("b2", "a1", "-- allow: ban-drop-table because it moved\n", "DROP TABLE users;", Some(USERS));
    assert_eq!(project.lint(&["b2"]), ["error irreversible-data-loss b2.sql:7:1"]);
}

#[test]
fn several_statements_without_a_transaction() {
    let project = released_users();
    let up = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS ix_a ON users (email);\n\
              CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_b ON users (name);";
    let down = "DROP INDEX CONCURRENTLY IF EXISTS ix_a;\nDROP INDEX CONCURRENTLY IF EXISTS ix_b;";
    project.revision("b2", "a1", "-- transaction: false\n", up, Some(down));
    // `SET` changes the session only, so one statement is not enough to warn.
    assert_eq!(project.lint(&["b2"]), ["error several-statements-without-transaction b2.sql:9:1"]);
    let allow =
        "-- transaction: false\n-- allow: several-statements-without-transaction because both use IF NOT EXISTS\n";
    project.revision("b2", "a1", allow, up, Some(down));
    assert_eq!(project.lint(&["b2"]), Vec::<String>::new());
    project.revision("b2", "a1", "-- transaction: false\n", &up[..up.rfind('\n').unwrap()], Some(down));
    assert_eq!(project.lint(&["b2"]), Vec::<String>::new());
}

#[test]
fn sqlite_alter_table_forms_sqlite_lacks() {
    let project = Project::new("dialect = \"sqlite\"\n");
    project.revision(
        "a1",
        "",
        "",
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, email TEXT, name TEXT);",
        Some("DROP TABLE users;"),
    );
    let up = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n\
              ALTER TABLE users ADD CONSTRAINT uq_email UNIQUE (email);\n\
              ALTER TABLE users DROP CONSTRAINT uq_email;\n\
              ALTER TABLE users ADD COLUMN created_at TEXT NOT NULL;\n\
              ALTER TABLE users ADD COLUMN seen_at TEXT DEFAULT CURRENT_TIMESTAMP;\n\
              ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;\n\
              ALTER TABLE users RENAME COLUMN name TO full_name;";
    project.revision("b2", "a1", "", up, Some(""));
    assert_eq!(
        project.lint(&[]),
        [
            "error sqlite-unsupported-alter b2.sql:6:19",
            "error sqlite-unsupported-alter b2.sql:7:19",
            "error sqlite-unsupported-alter b2.sql:8:19",
            "error sqlite-unsupported-alter b2.sql:9:19",
            "error sqlite-unsupported-alter b2.sql:10:19",
        ]
    );
    let (_, stderr) = assert_exit(&project.run(&["lint"]), 1);
    assert!(
        stderr.contains(
            "error[sqlite-unsupported-alter]: SQLite's ALTER TABLE has no ALTER COLUMN: the statement fails on SQLite"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("error: lint failed: 2 revisions as SQLite: 5 errors, 0 warnings"), "{stderr}");
    // squawk's PostgreSQL rules are not SQLite's: none of them ran.
    assert!(!stderr.contains("prefer-"), "{stderr}");
    project.revision(
        "b2",
        "a1",
        "-- allow: sqlite-unsupported-alter because this history also runs on PostgreSQL\n",
        up,
        Some(""),
    );
    assert_eq!(project.lint(&[]), Vec::<String>::new());
    // `--dialect` overrides the configuration.
    assert!(project.lint(&["--dialect", "postgres"]).iter().all(|f| !f.contains("sqlite-unsupported-alter")));
}

#[test]
fn an_allow_line_needs_a_reason_and_a_known_rule() {
    let project = released_users();
    project.revision("b2", "a1", "-- allow: ban-drop-column\n", "ALTER TABLE users DROP COLUMN name;", Some(""));
    let output = project.run(&["lint"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 1
    --- stdout
    --- stderr
    error: `allow: ban-drop-column` gives no reason
     --> migrations/b2.sql:4:11
      |
    4 | -- allow: ban-drop-column
      |           ^^^^^^^^^^^^^^^
      |
      = help: say why the rule does not apply to this revision: `-- allow: ban-drop-column because <reason>`; reviewers read the reason

    error: lint failed: 1 revision as PostgreSQL: 1 error, 0 warnings
      help: fix each finding, or, where a rule does not apply, say why in the revision's header: `-- allow: RULE because REASON`; findings in drafts are errors, in pinned revisions warnings
    ");
    project.revision("b2", "a1", "-- allow: ban-drop-colum because it was never read\n", "SELECT 1;", Some(""));
    let output = project.run(&["lint", "b2"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 1
    --- stdout
    --- stderr
    error: unknown lint rule `ban-drop-colum`
     --> migrations/b2.sql:4:11
      |
    4 | -- allow: ban-drop-colum because it was never read
      |           ^^^^^^^^^^^^^^
      |
      = help: did you mean `ban-drop-column`?

    error: lint failed: 1 revision as PostgreSQL: 1 error, 0 warnings
      help: fix each finding, or, where a rule does not apply, say why in the revision's header: `-- allow: RULE because REASON`; findings in drafts are errors, in pinned revisions warnings
    ");
}

#[test]
fn check_makes_findings_in_drafts_errors_and_in_pinned_revisions_warnings() {
    let project = released_users();
    let allow = "-- allow: require-lock-timeout because deploys run alone\n-- allow: require-statement-timeout because deploys run alone\n";
    project.revision(
        "b2",
        "a1",
        allow,
        "CREATE INDEX ix_users_email ON users (email);",
        Some("DROP INDEX ix_users_email;"),
    );
    let check = ["check", "--no-models", "--allow-drafts"];
    assert_eq!(
        project.findings(&check),
        [
            "warning a1.sql:1 revision `a1` is a draft: it is not pinned in migrate.lock",
            "warning b2.sql:1 revision `b2` is a draft: it is not pinned in migrate.lock",
            "error lock-on-released-table b2.sql:8:1",
        ]
    );
    assert_exit(&project.run(&check), 1);
    project.lock();
    assert_eq!(project.findings(&check), ["warning lock-on-released-table b2.sql:8:1"]);
    let (_, stderr) = assert_exit(&project.run(&check), 0);
    assert!(stderr.contains("warning[lock-on-released-table]"), "{stderr}");
    assert_eq!(project.lint(&[]), ["warning lock-on-released-table b2.sql:8:1"]);
    // Without a dialect, check does not lint.
    let plain = Project::new("");
    plain.revision("a1", "", "", USERS, None).revision("b2", "a1", "", "DROP TABLE users;", None);
    assert_eq!(plain.findings(&check).len(), 2, "{:?}", plain.findings(&check));
}

#[test]
fn configuration_turns_rules_off_promotes_them_and_checks_their_names() {
    let project = Project::new(
        "dialect = \"postgres\"\n\n[package.metadata.migrate.lint]\nallow = [\"require-lock-timeout\", \"require-statement-timeout\"]\n\
         deny = [\"lock-on-released-table\", \"ban-add-column\"]\nwarn = [\"ban-drop-column\"]\npostgres-version = \"16\"\n",
    );
    project.revision("a1", "", "", USERS, Some("DROP TABLE users;")).write("migrations/releases.toml", RELEASED);
    project.revision(
        "b2",
        "a1",
        "",
        "CREATE INDEX ix_users_email ON users (email);",
        Some("DROP INDEX ix_users_email;"),
    );
    project.revision(
        "c3",
        "b2",
        "-- allow: irreversible-data-loss because it is a cache\n",
        "ALTER TABLE users ADD COLUMN nickname TEXT;\nALTER TABLE users DROP COLUMN name;",
        None,
    );
    project.lock();
    assert_eq!(
        project.lint(&[]),
        [
            // Promoted: an error although b2 is pinned.
            "error lock-on-released-table b2.sql:6:1",
            // An opt-in squawk rule that `deny` turns on.
            "error ban-add-column c3.sql:7:19",
            "warning ban-drop-column c3.sql:8:19",
        ]
    );
    let project =
        Project::new("dialect = \"postgres\"\n\n[package.metadata.migrate.lint]\nallow = [\"ban-drop-colunm\"]\n");
    project.revision("a1", "", "", USERS, None);
    let output = project.run(&["lint"]);
    let (_, stderr) = assert_exit(&output, 1);
    assert!(
        stderr.starts_with(
            "error: Cargo.toml: unknown lint rule `ban-drop-colunm`\n  help: did you mean `ban-drop-column`?"
        ),
        "{stderr}"
    );
    let project =
        Project::new("dialect = \"postgres\"\n\n[package.metadata.migrate.lint]\npostgres-version = \"sixteen\"\n");
    project.revision("a1", "", "", USERS, None);
    let (_, stderr) = assert_exit(&project.run(&["lint"]), 1);
    assert!(
        stderr.contains(
            "`postgres-version` in [package.metadata.migrate.lint] must be a PostgreSQL version, like 15 or \"16.2\""
        ),
        "{stderr}"
    );
}

#[test]
fn a_finding_is_rendered_with_its_statement_why_and_alternative() {
    let project = released_users();
    project.revision(
        "b2",
        "a1",
        "-- allow: require-lock-timeout because deploys run alone\n-- allow: require-statement-timeout because deploys run alone\n",
        "ALTER TABLE users\n    ADD CONSTRAINT fk_users_self FOREIGN KEY (id) REFERENCES users (id);",
        Some("ALTER TABLE users DROP CONSTRAINT fk_users_self;"),
    );
    let output = project.run(&["lint", "b2"]);
    insta::assert_snapshot!(transcript(&output), @r"
    exit: 1
    --- stdout
    --- stderr
    error[lock-on-released-table]: adding a foreign key without `NOT VALID` checks every row of `users` under a SHARE ROW EXCLUSIVE lock: every write waits; `users` was created by revision `a1`, which release v0.1.0 has, so it may hold many rows in production
     --> migrations/b2.sql:9:5
      |
    8 | ALTER TABLE users
      | ----------------- in this statement
    9 |     ADD CONSTRAINT fk_users_self FOREIGN KEY (id) REFERENCES users (id);
      |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      |
      = help: add it with `NOT VALID` (only new rows are checked), then `VALIDATE CONSTRAINT` in a later revision, which lets reads and writes go on

    error: lint failed: 1 revision as PostgreSQL: 1 error, 0 warnings
      help: fix each finding, or, where a rule does not apply, say why in the revision's header: `-- allow: RULE because REASON`; findings in drafts are errors, in pinned revisions warnings
    ");
}

#[test]
fn list_rules_names_ours_first() {
    let project = Project::postgres();
    let (stdout, _) = assert_exit(&project.run(&["lint", "--list-rules"]), 0);
    let names: Vec<&str> = stdout.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(
        names[..5],
        [
            "concurrently-in-transaction",
            "irreversible-data-loss",
            "lock-on-released-table",
            "several-statements-without-transaction",
            "sqlite-unsupported-alter"
        ]
    );
    assert!(names.contains(&"ban-drop-column") && !names.contains(&"ban-concurrent-index-creation-in-transaction"));
}

#[test]
fn show_and_json_list_the_allow_lines() {
    let project = released_users();
    let allow = "-- allow: ban-drop-column because no release reads it\n-- allow: irreversible-data-loss because it is a cache\n";
    project.revision("b2", "a1", allow, "ALTER TABLE users DROP COLUMN name;", None);
    let (stdout, _) = assert_exit(&project.run(&["show", "b2"]), 0);
    assert!(
        stdout.contains(
            "Allows: ban-drop-column because no release reads it\nAllows: irreversible-data-loss because it is a cache\n"
        ),
        "{stdout}"
    );
    let (stdout, _) = assert_exit(&project.run(&["show", "b2", "--message-format", "json"]), 0);
    let revision: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        revision["allow"],
        serde_json::json!([
            {"rule": "ban-drop-column", "reason": "no release reads it"},
            {"rule": "irreversible-data-loss", "reason": "it is a cache"}
        ])
    );
}
