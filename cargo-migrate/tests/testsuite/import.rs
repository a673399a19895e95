//! `import --from TOOL`: the fixture histories of tests/fixtures/import/<tool>/
//! imported, upgraded on a fresh PostgreSQL database and compared with the
//! source files applied by psql in the tool's order, the way the tool sends
//! them; then downgraded to base.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, cargo_migrate, redacted};

fn fixture(tool: &str) -> PathBuf {
    repo_root().join("tests/fixtures/import").join(tool)
}

/// One migration of a fixture as the tool applies it: its up SQL, whether
/// the tool wraps it in a transaction, and whether it sends the file as one
/// query string (golang-migrate) rather than statement by statement.
struct Step {
    sql: String,
    transaction: bool,
    one_query: bool,
}

/// A version as the tools order them: numbers part by part.
fn order(version: &str) -> Vec<u64> {
    version.split(['.', '_']).map(|p| p.parse::<u64>().unwrap()).collect()
}

/// The fixture's migrations in the tool's order, read here independently of
/// the importer: versions compared as numbers.
fn steps(tool: &str) -> Vec<Step> {
    let dir = fixture(tool);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let mut steps: Vec<(Vec<u64>, Step)> = Vec::new();
    names.sort();
    for name in names {
        let step = match tool {
            "sqlx" | "golang-migrate" | "dbmate" | "goose" => {
                if name.ends_with(".down.sql") {
                    continue;
                }
                let text = read(&name);
                let version = order(name.split('_').next().unwrap());
                let step = match tool {
                    "sqlx" => match text.strip_prefix("-- no-transaction\n") {
                        Some(rest) => Step { sql: rest.to_owned(), transaction: false, one_query: false },
                        None => Step { sql: text, transaction: true, one_query: false },
                    },
                    "golang-migrate" => Step { sql: text, transaction: false, one_query: true },
                    "dbmate" => {
                        let up = text.split("-- migrate:down").next().unwrap();
                        Step { transaction: !up.contains("transaction:false"), sql: up.to_owned(), one_query: false }
                    }
                    _ => {
                        let up = text.split("-- +goose Down").next().unwrap();
                        Step { transaction: !up.contains("NO TRANSACTION"), sql: up.to_owned(), one_query: false }
                    }
                };
                (version, step)
            }
            "diesel" => {
                let version = order(&name.split('_').next().unwrap().replace('-', ""));
                let metadata = std::fs::read_to_string(dir.join(&name).join("metadata.toml")).unwrap_or_default();
                let step = Step {
                    sql: read(&format!("{name}/up.sql")),
                    transaction: !metadata.contains("run_in_transaction = false"),
                    one_query: false,
                };
                (version, step)
            }
            "refinery" => {
                let text = read(&name);
                let version = order(name[1..].split("__").next().unwrap());
                (
                    version,
                    Step { transaction: !text.contains("-- refinery:noTransaction"), sql: text, one_query: false },
                )
            }
            "flyway" => {
                if !name.starts_with('V') || !name.ends_with(".sql") {
                    continue;
                }
                let conf = std::fs::read_to_string(dir.join(format!("{name}.conf"))).unwrap_or_default();
                let version = order(name[1..].split("__").next().unwrap());
                let step = Step {
                    sql: read(&name),
                    transaction: !conf.contains("executeInTransaction=false"),
                    one_query: false,
                };
                (version, step)
            }
            _ => unreachable!(),
        };
        steps.push(step);
    }
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    steps.into_iter().map(|(_, step)| step).collect()
}

fn psql(db: &TestDatabase, step: &Step) {
    let mut command = Command::new("psql");
    command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url]);
    if step.one_query {
        command.args(["-c", &step.sql]);
    } else if step.transaction {
        command.arg("--single-transaction");
    }
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("psql");
    if !step.one_query {
        child.stdin.take().unwrap().write_all(step.sql.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "psql: {}\n{}", String::from_utf8_lossy(&output.stderr), step.sql);
}

/// The schema of `public` as information_schema and the catalogs tell it,
/// cargo-migrate's own tables aside: columns with types, defaults and
/// nullability, indexes with their definitions, functions.
fn schema(db: &TestDatabase) -> Vec<Vec<Option<String>>> {
    db.query(
        "SELECT 'column', table_name || '.' || column_name, data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'migrate%' \
         UNION ALL SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'migrate%' \
         UNION ALL SELECT 'function', routine_name, data_type FROM information_schema.routines WHERE routine_schema = 'public' \
         ORDER BY 1, 2",
    )
}

/// What the fixture's last migration (`audit`) has for a down migration.
#[derive(PartialEq)]
enum Downs {
    /// Every migration but the last has one.
    AllButTheLast,
    /// Every one; the last's is empty (diesel: a no-op revert).
    AllTheLastEmpty,
    /// None (refinery has no down migrations).
    None,
}

fn import_then_upgrade_equals_the_tool(tool: &str, downs: Downs) {
    let project = tempfile::tempdir().unwrap();
    let source = fixture(tool);
    let (_, stderr) = assert_exit(
        &cargo_migrate(project.path(), &["import", "--from", tool, source.to_str().unwrap(), "--dir", "migrations"]),
        0,
    );
    assert!(stderr.contains("Imported 4 revisions"), "{stderr}");
    assert_eq!(
        stderr.contains("no down migration: the revision is irreversible"),
        downs != Downs::AllTheLastEmpty,
        "{stderr}"
    );
    let revisions: Vec<String> = std::fs::read_dir(project.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    assert_eq!(revisions.len(), 4, "{revisions:?}");
    let index = revisions.iter().find(|n| n.contains("index_email")).unwrap();
    let text = std::fs::read_to_string(project.path().join("migrations").join(index)).unwrap();
    assert!(text.contains("-- transaction: false\n") && text.contains("-- imported-from: "), "{text}");
    let id = index.split('_').next().unwrap();
    let id = if tool == "flyway" { "1_2" } else { id };
    let (stdout, _) = assert_exit(&cargo_migrate(project.path(), &["show", id, "--dir", "migrations"]), 0);
    assert!(stdout.contains(&format!("Imported from: {tool} ")), "{stdout}");
    let (stdout, _) = assert_exit(
        &cargo_migrate(project.path(), &["show", id, "--dir", "migrations", "--message-format", "json"]),
        0,
    );
    assert!(stdout.contains(&format!("\"imported-from\":\"{tool} ")), "{stdout}");
    // Pinned: `check` finds no drafts.
    assert_exit(&cargo_migrate(project.path(), &["check", "--dir", "migrations"]), 0);

    let imported = TestDatabase::create("import_ours");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &imported.url]);
        cargo_migrate(project.path(), &all)
    };
    assert_exit(&run(&["upgrade"]), 0);

    let oracle = TestDatabase::create("import_tool");
    for step in steps(tool) {
        psql(&oracle, &step);
    }
    let ours = schema(&imported);
    assert!(ours.len() > 5, "{ours:?}");
    assert_eq!(ours, schema(&oracle), "{tool}: import + upgrade differs from the tool's files applied by psql");

    if downs == Downs::AllTheLastEmpty {
        assert_exit(&run(&["downgrade", "base"]), 0);
        // Reverting `audit` did nothing, as diesel's empty down.sql does.
        let left: Vec<_> = schema(&imported).into_iter().filter_map(|row| row[1].clone()).collect();
        assert_eq!(left, ["audit.at", "audit.what"]);
        return;
    }
    // The last revision has no down section: `downgrade base` stops short of it.
    let (_, stderr) = assert_exit(&run(&["downgrade", "base"]), 101);
    assert!(stderr.contains("it cannot be reverted"), "{stderr}");
    if downs == Downs::None {
        return;
    }
    // Below it, every revision reverts.
    let below = index.split('_').next().unwrap();
    let below = if tool == "flyway" { "1_2" } else { below };
    let down = TestDatabase::create("import_down");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &down.url]);
        cargo_migrate(project.path(), &all)
    };
    assert_exit(&run(&["upgrade", below]), 0);
    assert!(!schema(&down).is_empty());
    assert_exit(&run(&["downgrade", "base"]), 0);
    assert_eq!(schema(&down), Vec::<Vec<Option<String>>>::new());
}

#[test]
fn postgres_import_sqlx_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("sqlx", Downs::AllButTheLast);
}

#[test]
fn postgres_import_golang_migrate_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("golang-migrate", Downs::AllButTheLast);
}

#[test]
fn postgres_import_dbmate_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("dbmate", Downs::AllButTheLast);
}

#[test]
fn postgres_import_goose_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("goose", Downs::AllButTheLast);
}

#[test]
fn postgres_import_diesel_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("diesel", Downs::AllTheLastEmpty);
}

#[test]
fn postgres_import_refinery_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("refinery", Downs::None);
}

#[test]
fn postgres_import_flyway_then_upgrade_equals_the_tool() {
    import_then_upgrade_equals_the_tool("flyway", Downs::AllButTheLast);
}

#[test]
fn import_refuses_flyway_repeatable_migrations_naming_the_file() {
    let project = tempfile::tempdir().unwrap();
    let source = project.path().join("flyway");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("V1__a.sql"), "SELECT 1;\n").unwrap();
    std::fs::write(source.join("R__views.sql"), "CREATE OR REPLACE VIEW v AS SELECT 1;\n").unwrap();
    let output = cargo_migrate(project.path(), &["import", "--from", "flyway", "flyway", "--dir", "migrations"]);
    let (_, stderr) = assert_exit(&output, 2);
    assert!(stderr.contains("`R__views.sql` is a repeatable migration (`R__`)"), "{stderr}");
    assert!(!project.path().join("migrations").exists());
}

#[test]
fn import_refuses_a_target_that_holds_revisions() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.sql"), tests::support::revision("a", "", "SELECT 1;")).unwrap();
    let source = fixture("sqlx");
    let output =
        cargo_migrate(project.path(), &["import", "--from", "sqlx", source.to_str().unwrap(), "--dir", "migrations"]);
    let (_, stderr) = assert_exit(&output, 4);
    assert!(stderr.contains("migrations is not empty (it holds migrations/a.sql)"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // `--into` a new directory works.
    let output = cargo_migrate(
        project.path(),
        &["import", "--from", "sqlx", source.to_str().unwrap(), "--dir", "migrations", "--into", "imported"],
    );
    assert_exit(&output, 0);
    assert!(project.path().join("imported/migrate.lock").is_file());
}

#[test]
fn import_into_a_directory_needs_no_cargo_project() {
    let outside = tempfile::tempdir().unwrap();
    let source = fixture("sqlx");
    let output =
        cargo_migrate(outside.path(), &["import", "--from", "sqlx", source.to_str().unwrap(), "--into", "out"]);
    let (_, stderr) = assert_exit(&output, 0);
    assert!(stderr.contains("Imported 4 revisions from sqlx into out, pinned in out/migrate.lock"), "{stderr}");
    assert_exit(&cargo_migrate(outside.path(), &["check", "--dir", "out"]), 0);
}

#[test]
fn import_report() {
    let project = tempfile::tempdir().unwrap();
    let source = fixture("goose");
    let output =
        cargo_migrate(project.path(), &["import", "--from", "goose", source.to_str().unwrap(), "--dir", "migrations"]);
    insta::assert_snapshot!(redacted(&output, &[(source.to_str().unwrap(), "[SOURCE]")]));
}

// `adopt --from TOOL`: a database where the tool applied part of the fixture
// (its files applied with psql, its table written the way the tool writes it:
// see migrate-runtime/src/adopt.rs for the sources).

/// The fixture of `tool` imported into a new project's `migrations`.
fn imported(tool: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let source = fixture(tool);
    let output =
        cargo_migrate(project.path(), &["import", "--from", tool, source.to_str().unwrap(), "--dir", "migrations"]);
    assert_exit(&output, 0);
    project
}

/// A database with the first `applied` migrations of the fixture applied by
/// psql, then `table` (the tool's bookkeeping) run.
fn migrated_by(tool: &str, applied: usize, table: &str) -> TestDatabase {
    let db = TestDatabase::create("adopt");
    for step in steps(tool).iter().take(applied) {
        psql(&db, step);
    }
    psql(&db, &Step { sql: table.to_owned(), transaction: true, one_query: false });
    db
}

fn run_on(project: &tempfile::TempDir, db: &TestDatabase, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations", "--database-url", &db.url]);
    cargo_migrate(project.path(), &all)
}

/// Our version table's rows: revision, state, and whether `applied_by` names the tool.
fn recorded(db: &TestDatabase, tool: &str) -> Vec<(String, String, bool)> {
    let exists = db.query("SELECT to_regclass('migrate_versions') IS NOT NULL");
    if exists[0][0].as_deref() != Some("t") {
        return Vec::new();
    }
    db.query("SELECT revision, state, applied_by FROM migrate_versions ORDER BY applied_at, revision")
        .into_iter()
        .map(|row| {
            let by = row[2].clone().unwrap_or_default();
            (row[0].clone().unwrap(), row[1].clone().unwrap(), by.ends_with(&format!("(adopted from {tool})")))
        })
        .collect()
}

/// `schema` without the tool's table.
fn schema_without(db: &TestDatabase, table: &str) -> Vec<Vec<Option<String>>> {
    schema(db)
        .into_iter()
        .filter(|row| !row[1].as_deref().unwrap_or_default().starts_with(&format!("{table}.")))
        .filter(|row| !row[1].as_deref().unwrap_or_default().starts_with(&format!("{table}_")))
        .collect()
}

const SQLX_TABLE: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, \
    execution_time BIGINT NOT NULL);\n";
const GOLANG_TABLE: &str =
    "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);\n";
const DBMATE_TABLE: &str = "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);\n";

fn sqlx_rows(versions: &[&str]) -> String {
    let rows: Vec<String> = versions.iter().map(|v| format!("({v}, 'm', true, '\\x00', 1)")).collect();
    format!(
        "{SQLX_TABLE}INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES {};\n",
        rows.join(", ")
    )
}

/// Adopting `applied` migrations records exactly those revisions; `upgrade`
/// then applies the rest and gives what all the tool's files give.
fn adopt_then_upgrade(tool: &str, applied: usize, table: &str, peer: &str) {
    let project = imported(tool);
    let db = migrated_by(tool, applied, table);
    let peer_rows = db.query(&format!("SELECT * FROM {peer}"));
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", tool]), 0);
    let noun = if applied == 1 { "revision" } else { "revisions" };
    assert!(stderr.contains(&format!("Adopted {applied} {noun} from {peer}")), "{stderr}");
    let rows = recorded(&db, tool);
    assert_eq!(rows.len(), applied, "{rows:?}");
    assert!(rows.iter().all(|(_, state, adopted)| state == "adopted" && *adopted), "{rows:?}");
    // check sees them as applied: only the rest is pending.
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["check"]), 1);
    assert_eq!(stderr.matches("is not applied to").count(), 4 - applied, "{stderr}");
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["upgrade"]), 0);
    assert!(!stderr.contains("create users"), "nothing applied twice: {stderr}");
    assert_eq!(recorded(&db, tool).len(), 4);
    assert_exit(&run_on(&project, &db, &["check"]), 0);
    // Adopting again, after the upgrade: nothing to record, nothing compared.
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", tool]), 0);
    assert!(stderr.contains("nothing to record"), "{stderr}");
    assert_eq!(recorded(&db, tool).len(), 4);

    let oracle = TestDatabase::create("adopt_tool");
    for step in steps(tool) {
        psql(&oracle, &step);
    }
    assert_eq!(schema_without(&db, peer), schema(&oracle), "{tool}: adopt + upgrade differs from the tool's files");
    assert_eq!(db.query(&format!("SELECT * FROM {peer}")), peer_rows, "the tool's table is left as it is");
}

#[test]
fn postgres_adopt_sqlx_then_upgrade_continues() {
    adopt_then_upgrade("sqlx", 2, &sqlx_rows(&["20240101120000", "20240102120000"]), "_sqlx_migrations");
}

#[test]
fn postgres_adopt_golang_migrate_then_upgrade_continues() {
    // One row: the latest version (9, the third migration); everything below it is applied.
    let table = format!("{GOLANG_TABLE}INSERT INTO schema_migrations VALUES (9, false);");
    adopt_then_upgrade("golang-migrate", 3, &table, "schema_migrations");
}

#[test]
fn postgres_adopt_dbmate_then_upgrade_continues() {
    let table = format!("{DBMATE_TABLE}INSERT INTO schema_migrations VALUES ('20240101120000');");
    adopt_then_upgrade("dbmate", 1, &table, "schema_migrations");
}

#[test]
fn postgres_adopt_refuses_a_dirty_golang_migrate_table() {
    let project = imported("golang-migrate");
    let db =
        migrated_by("golang-migrate", 2, &format!("{GOLANG_TABLE}INSERT INTO schema_migrations VALUES (2, true);"));
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", "golang-migrate"]), 4);
    assert!(stderr.contains("golang-migrate records version 2 as dirty in schema_migrations"), "{stderr}");
    assert_eq!(recorded(&db, "golang-migrate"), []);
}

#[test]
fn postgres_adopt_refuses_a_migration_the_import_lacks() {
    let project = imported("sqlx");
    let db = migrated_by("sqlx", 1, &sqlx_rows(&["20240101120000", "20231231000000"]));
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", "sqlx"]), 4);
    assert!(
        stderr.contains("sqlx records a version applied that the imported history lacks: 20231231000000"),
        "{stderr}"
    );
    assert_eq!(recorded(&db, "sqlx"), []);
}

#[test]
fn postgres_adopt_refuses_drift_unless_accepted() {
    let project = imported("sqlx");
    let table =
        format!("{}ALTER TABLE users ADD COLUMN by_hand INT;", sqlx_rows(&["20240101120000", "20240102120000"]));
    let db = migrated_by("sqlx", 2, &table);
    let output = run_on(&project, &db, &["adopt", "--from", "sqlx"]);
    let (stdout, stderr) = assert_exit(&output, 4);
    assert!(stdout.contains("by_hand"), "the difference is listed: {stdout}");
    assert!(stderr.contains("differs from what the history produces at 20240102120000: 1 difference"), "{stderr}");
    assert_eq!(recorded(&db, "sqlx"), []);
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", "sqlx", "--accept-drift"]), 0);
    assert!(stderr.contains("recording anyway (--accept-drift)"), "{stderr}");
    assert_eq!(recorded(&db, "sqlx").len(), 2);
}

#[test]
fn postgres_adopt_dry_run_records_nothing() {
    let project = imported("sqlx");
    let db = migrated_by("sqlx", 2, &sqlx_rows(&["20240101120000", "20240102120000"]));
    let output = run_on(&project, &db, &["adopt", "--from", "sqlx", "--dry-run"]);
    assert_exit(&output, 0);
    assert_eq!(recorded(&db, "sqlx"), []);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
    // In JSON, stdout holds only JSON lines: the ids are in the `adopted` message.
    let output = run_on(&project, &db, &["adopt", "--from", "sqlx", "--dry-run", "--message-format", "json"]);
    let (stdout, _) = assert_exit(&output, 0);
    assert!(stdout.lines().all(|line| line.starts_with('{')), "{stdout}");
    assert!(stdout.contains("\"dry-run\":true") && stdout.contains("\"recorded\":[]"), "{stdout}");
    assert_eq!(recorded(&db, "sqlx"), []);
    let output = run_on(&project, &db, &["adopt", "--from", "sqlx"]);
    assert_exit(&output, 0);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
}

#[test]
fn postgres_adopt_goose_then_upgrade_continues() {
    // goose's first row is its own version 0; a down writes an is_applied = false row.
    let table = "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, is_applied boolean NOT NULL, \
        tstamp timestamp NULL DEFAULT now(), PRIMARY KEY (id));\n\
        INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false);";
    // (The third was applied and reverted: its latest row wins, and psql applies only the first two.)
    adopt_then_upgrade("goose", 2, table, "goose_db_version");
}

#[test]
fn postgres_adopt_diesel_then_upgrade_continues() {
    let table = "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
        run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n\
        INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101120000'), ('20240102120000');";
    adopt_then_upgrade("diesel", 2, table, "__diesel_schema_migrations");
}

#[test]
fn postgres_adopt_refinery_then_upgrade_continues() {
    let table = "CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, name VARCHAR(255), \
        applied_on VARCHAR(255), checksum VARCHAR(255));\n\
        INSERT INTO refinery_schema_history VALUES (1, 'create_users', '2024-01-01T12:00:00Z', '1'), \
        (2, 'add_name_and_count', '2024-01-02T12:00:00Z', '2'), (9, 'index_email', '2024-01-03T12:00:00Z', '3');";
    adopt_then_upgrade("refinery", 3, table, "refinery_schema_history");
}

#[test]
fn postgres_adopt_flyway_then_upgrade_continues() {
    let table = "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), \
        description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, \
        installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL, \
        success BOOLEAN NOT NULL);\n\
        CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);\n\
        INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, \
        execution_time, success) VALUES (1, '1', 'create users', 'SQL', 'V1__create_users.sql', 1, 'me', 1, true), \
        (2, '1.1', 'add name and count', 'SQL', 'V1_1__add_name_and_count.sql', 2, 'me', 1, true);";
    adopt_then_upgrade("flyway", 2, table, "flyway_schema_history");
}

#[test]
fn postgres_adopt_refuses_a_gap_and_a_missing_table() {
    let project = imported("dbmate");
    let table = format!("{DBMATE_TABLE}INSERT INTO schema_migrations VALUES ('20240101120000'), ('20240103120000');");
    let db = migrated_by("dbmate", 1, &table);
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", "dbmate"]), 4);
    assert!(stderr.contains("but not 20240102120000 itself"), "{stderr}");
    assert_eq!(recorded(&db, "dbmate"), []);
    let (_, stderr) = assert_exit(&run_on(&project, &db, &["adopt", "--from", "goose"]), 4);
    assert!(stderr.contains("this database has no goose_db_version table"), "{stderr}");
}
