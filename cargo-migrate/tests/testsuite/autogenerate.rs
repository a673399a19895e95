//! `generate`, `check` against schema.sql and `diff`, through the binary, on
//! SQLite and on the machine's PostgreSQL (scratch databases on the server,
//! dropped afterwards).

use std::path::Path;
use std::process::Command;

use tests::support::TestDatabase;

use crate::assert_exit;

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(args)
        .args(["--dir", "migrations"])
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// `cargo migrate ARGS --database-url URL` in `dir`.
fn on(dir: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--database-url", url]);
    run(dir, &all)
}

/// Scratch databases left by the process `pid`.
fn scratch_databases(db: &TestDatabase, pid: u32) -> usize {
    db.query(&format!("SELECT count(*) FROM pg_database WHERE datname LIKE 'cargo_migrate_scratch_{pid}_%'"))[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// The workflow of the user's guide: change the models, generate, upgrade;
/// `check` fails while the models are ahead of the history; `diff` finds a
/// column added by hand.
fn workflow(url: &str, postgres: Option<&TestDatabase>) {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let go = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database-url", url]);
        run(dir, &all)
    };
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(320) NOT NULL UNIQUE);\n",
    )
    .unwrap();
    let (_, stderr) = assert_exit(&go(&["check"]), 1);
    assert!(
        stderr.contains("schema.sql: the models differ from what the history produces: new table users"),
        "{stderr}"
    );

    let (stdout, stderr) = assert_exit(&go(&["generate", "create users", "--rev-id", "u1"]), 0);
    assert!(stderr.contains("Detected new table users"), "{stderr}");
    let file = std::fs::read_to_string(dir.join(stdout.trim())).unwrap();
    assert!(file.contains("CREATE TABLE \"users\"") && file.contains("DROP TABLE \"users\""), "{file}");
    let (_, stderr) = assert_exit(&go(&["generate", "nothing new"]), 0);
    assert!(stderr.contains("no changes"), "{stderr}");

    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(320) NOT NULL UNIQUE);\n\
         CREATE TABLE user_profile (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE, bio TEXT);\n",
    )
    .unwrap();
    assert_exit(&go(&["new", "--autogenerate", "add user profile table", "--rev-id", "u2"]), 0);
    assert_exit(&run(dir, &["lock"]), 0);
    assert_exit(&go(&["upgrade"]), 0);
    assert_exit(&go(&["check"]), 0);
    let (_, stderr) = assert_exit(&go(&["diff"]), 0);
    assert!(stderr.contains("is exactly what the history produces at u2"), "{stderr}");

    match postgres {
        Some(db) => db.query("ALTER TABLE users ADD COLUMN added_by_hand TEXT"),
        None => {
            let path = url.strip_prefix("sqlite:").unwrap();
            let connection = migrate_runtime::rusqlite::Connection::open(dir.join(path)).unwrap();
            connection.execute_batch("ALTER TABLE users ADD COLUMN added_by_hand TEXT").unwrap();
            Vec::new()
        }
    };
    let (stdout, _) = assert_exit(&go(&["diff"]), 1);
    assert_eq!(stdout, "new column users.added_by_hand (text)\n");
    assert_exit(&go(&["downgrade", "base"]), 0);
}

#[test]
fn sqlite_generate_check_and_diff() {
    workflow("sqlite:live.db", None);
}

#[test]
fn postgres_generate_check_and_diff() {
    let db = TestDatabase::create("autogen_cli");
    workflow(&db.url, Some(&db));
}

#[test]
fn models_with_an_error_name_the_line() {
    let project = tempfile::tempdir().unwrap();
    assert_exit(&run(project.path(), &["init"]), 0);
    std::fs::write(
        project.path().join("schema.sql"),
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\n\nCREATE TABLE b (id INTEGR PRIMARY KEY,);\n",
    )
    .unwrap();
    let (_, stderr) = assert_exit(&run(project.path(), &["generate", "x"]), 2);
    assert!(stderr.contains("schema.sql:3:"), "{stderr}");
    assert_eq!(std::fs::read_dir(project.path().join("migrations")).unwrap().count(), 2, "nothing written");
}

#[test]
fn postgres_scratch_databases_are_dropped_after_success_error_and_ctrl_c() {
    let db = TestDatabase::create("autogen_cleanup");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    let generate = || {
        Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
            .args(["migrate", "generate", "x", "--dir", "migrations", "--database-url", &db.url])
            .current_dir(dir)
            .env("CARGO_TERM_COLOR", "never")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    std::fs::write(dir.join("schema.sql"), "CREATE TABLE a (id INTEGER PRIMARY KEY);\n").unwrap();
    let child = generate();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(scratch_databases(&db, pid), 0, "after success");

    std::fs::write(dir.join("schema.sql"), "CREATE TABLE a (id INTEGR PRIMARY KEY);\n").unwrap();
    let child = generate();
    let pid = child.id();
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(2));
    assert_eq!(scratch_databases(&db, pid), 0, "after an error in the models");

    std::fs::write(dir.join("schema.sql"), "CREATE TABLE a (id INTEGER PRIMARY KEY);\nSELECT pg_sleep(30);\n").unwrap();
    let child = generate();
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // The models load (and sleep) in the second scratch database; wait until it exists.
    while scratch_databases(&db, pid) < 1 {
        assert!(std::time::Instant::now() < deadline, "generate never created its scratch databases");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500)); // well into pg_sleep
    let sent = Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    // The server may take a moment to finish the forced drop of a busy database.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scratch_databases(&db, pid) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(scratch_databases(&db, pid), 0, "after Ctrl-C");
}

/// `pg_dump --schema-only` of an existing database, unedited, as the models
/// (it empties `search_path` and starts and ends with psql's `\restrict`):
/// `check` sees the tables, `generate` + `upgrade` converge, and a second
/// `generate` writes nothing.
#[test]
fn pg_dump_schema_only_output_works_as_the_models() {
    let existing = TestDatabase::create("dumped");
    existing
        .connect()
        .database()
        .execute_batch(
            "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE); \
             CREATE TABLE posts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, author integer REFERENCES users (id), \
             title varchar(150) NOT NULL, slug text GENERATED ALWAYS AS (lower(title)) STORED); \
             ALTER TABLE posts ADD CONSTRAINT title_len CHECK (char_length(title) <= 150) NOT VALID;",
        )
        .unwrap();
    let dump = Command::new("pg_dump").args(["--schema-only", "--no-owner", &existing.url]).output().unwrap();
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let target = TestDatabase::create("from_dump");
    let go = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--database-url", &target.url]);
        run(dir, &all)
    };
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(dir.join("schema.sql"), &dump.stdout).unwrap();
    let (_, stderr) = assert_exit(&go(&["check", "--allow-drafts"]), 1);
    assert!(stderr.contains("new table users") && stderr.contains("new table posts"), "{stderr}");
    assert_exit(&go(&["generate", "from the dump", "--rev-id", "d1"]), 0);
    assert_exit(&go(&["upgrade"]), 0);
    let (_, stderr) = assert_exit(&go(&["check", "--allow-drafts"]), 0);
    assert!(stderr.contains("Checked 1 revision"), "{stderr}");
    let (stdout, stderr) = assert_exit(&go(&["generate", "again"]), 0);
    assert_eq!(stdout, "");
    assert!(stderr.contains("no changes"), "{stderr}");
    assert_exit(&go(&["downgrade", "base"]), 0);
    assert_eq!(target.tables(), ["migrate_versions"]);
}

/// A check and a partial index PostgreSQL prints in a form it parses back
/// into another (`IN (...)` on a varchar column) converge: after `generate` and
/// `upgrade`, `check` passes and a second `generate` writes nothing.
#[test]
fn a_check_postgres_reprints_differently_converges() {
    let target = TestDatabase::create("settle");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let go = |args: &[&str]| on(dir, &target.url, args);
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE prefs (id INTEGER PRIMARY KEY, theme VARCHAR(10) NOT NULL CHECK (theme IN ('light', 'dark', 'system')));\n\
         CREATE INDEX prefs_dark ON prefs (id) WHERE theme IN ('dark', 'system');\n",
    )
    .unwrap();
    assert_exit(&go(&["generate", "prefs", "--rev-id", "p1"]), 0);
    assert_exit(&go(&["upgrade"]), 0);
    let (_, stderr) = assert_exit(&go(&["check", "--allow-drafts"]), 0);
    assert!(stderr.contains("Checked 1 revision"), "{stderr}");
    let (stdout, stderr) = assert_exit(&go(&["generate", "again"]), 0);
    assert_eq!(stdout, "");
    assert!(stderr.contains("no changes"), "{stderr}");
    let (_, stderr) = assert_exit(&go(&["diff"]), 0);
    assert!(stderr.contains("Matches"), "{stderr}");
}

/// `generate --no-transaction` writes a `transaction: false` revision whose
/// indexes on tables that exist are built and dropped CONCURRENTLY, which
/// only runs outside a transaction; it applies and reverts.
#[test]
fn a_revision_outside_a_transaction_builds_indexes_concurrently() {
    let target = TestDatabase::create("concurrently");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let go = |args: &[&str]| on(dir, &target.url, args);
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(dir.join("schema.sql"), "CREATE TABLE posts (id INTEGER PRIMARY KEY, title text);\n").unwrap();
    assert_exit(&go(&["generate", "posts", "--rev-id", "p1"]), 0);
    assert_exit(&go(&["upgrade"]), 0);
    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, title text);\nCREATE INDEX posts_title ON posts (title);\n",
    )
    .unwrap();
    assert_exit(&go(&["generate", "index titles", "--rev-id", "p2", "--no-transaction"]), 0);
    let written = std::fs::read_to_string(dir.join("migrations/p2_index_titles.sql")).unwrap();
    let body: Vec<&str> = written.lines().filter(|l| !l.starts_with("-- created:")).collect();
    assert_eq!(
        body,
        [
            "-- revision: p2",
            "-- parents: p1",
            "-- message: index titles",
            "-- transaction: false",
            "",
            "-- migrate:up",
            "CREATE INDEX CONCURRENTLY posts_title ON posts USING btree (title);",
            "",
            "-- migrate:down",
            "DROP INDEX CONCURRENTLY \"posts_title\";",
        ]
    );
    assert_exit(&go(&["upgrade"]), 0);
    let (_, stderr) = assert_exit(&go(&["check", "--allow-drafts"]), 0);
    assert!(stderr.contains("Checked 2 revisions"), "{stderr}");
    assert_exit(&go(&["downgrade", "-1"]), 0);
    assert_eq!(
        target.query("SELECT count(*) FROM pg_indexes WHERE indexname = 'posts_title'"),
        [[Some("0".to_owned())]]
    );
}

/// `schemas = ["billing"]` in the package's configuration: `generate`
/// writes the billing schema's objects, qualified; after `upgrade`, `check`
/// passes and a second `generate` writes nothing.
#[test]
fn a_configured_second_schema_is_generated_and_checked() {
    let target = TestDatabase::create("schemas");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"billing\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.migrate]\nschemas = [\"billing\"]\n",
    )
    .unwrap();
    let go = |args: &[&str]| on(dir, &target.url, args);
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(
        dir.join("schema.sql"),
        "CREATE TABLE users (id serial PRIMARY KEY);\nCREATE SCHEMA billing;\n\
         CREATE TABLE billing.invoices (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users (id));\n",
    )
    .unwrap();
    assert_exit(&go(&["generate", "billing", "--rev-id", "b1"]), 0);
    let written = std::fs::read_to_string(dir.join("migrations/b1_billing.sql")).unwrap();
    assert!(written.contains("CREATE SCHEMA \"billing\";\n"), "{written}");
    assert!(written.contains("CREATE TABLE \"billing\".\"invoices\" ("), "{written}");
    assert_exit(&go(&["upgrade"]), 0);
    assert_eq!(target.query("SELECT count(*) FROM billing.invoices"), [[Some("0".to_owned())]]);
    let (_, stderr) = assert_exit(&go(&["check", "--allow-drafts"]), 0);
    assert!(stderr.contains("Checked 1 revision"), "{stderr}");
    let (_, stderr) = assert_exit(&go(&["generate", "again"]), 0);
    assert!(stderr.contains("no changes"), "{stderr}");
}
