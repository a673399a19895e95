//! `adopt` after the real tools: sqlx-cli and diesel_cli apply the first
//! part of tests/fixtures/import/<tool>/ to a fresh PostgreSQL database and
//! write their own version tables; `import`, `adopt` and `upgrade` then take
//! the database over, and the result must be what the tool makes of the whole
//! fixture. The tools are other projects' binaries, so these tests are
//! ignored in a plain run: `cargo xtask test --peers` installs them
//! (pinned, into target/tools) and runs these tests with their paths in
//! `MIGRATE_TEST_SQLX` and `MIGRATE_TEST_DIESEL`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, cargo_migrate, redacted, transcript};

/// How many of the fixture's four migrations the tool applies before `adopt`:
/// the rest (the non-transactional index among them) are `upgrade`'s.
const APPLIED_BY_THE_TOOL: usize = 2;

/// The tool's binary named by `var`; a test that runs without it fails (it
/// never skips silently).
fn tool(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "{var} is not set: this test runs the real {name}. Run `cargo xtask test --peers`, \
             which installs it into target/tools and sets {var}"
        ),
    }
}

/// Runs a tool, which must succeed. It runs in the temporary directory, where
/// no Cargo.toml above tells diesel_cli to write a schema.rs.
#[track_caller]
fn run_tool(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("could not run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?}\n{}", transcript(&output));
}

/// A temporary directory holding the fixture's first `n` migrations (the
/// entries of the tool's layout, which sort by version).
fn first_migrations(fixture: &Path, n: usize) -> tempfile::TempDir {
    let mut names: Vec<String> =
        std::fs::read_dir(fixture).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let mut versions: Vec<&str> = names.iter().map(|name| version_of(name)).collect();
    versions.dedup();
    let keep = &versions[..n];
    let dir = tempfile::tempdir().unwrap();
    for name in names.iter().filter(|name| keep.contains(&version_of(name))) {
        copy(&fixture.join(name), &dir.path().join(name));
    }
    dir
}

/// The version a fixture entry's name starts with (sqlx's `20240101120000`,
/// diesel's `2024-01-01-120000`).
fn version_of(name: &str) -> &str {
    name.split('_').next().unwrap()
}

fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// One step of the transcript: the command and what it printed, with what
/// changes from run to run (the database, the host, times) replaced.
fn step(db: &TestDatabase, args: &[&str], output: &Output) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut replacements = vec![(db.url.as_str(), "[URL]"), (db.name.as_str(), "[DB]")];
    let at_host = format!("@{}", host.trim());
    if !host.trim().is_empty() {
        replacements.push((&at_host, "@[HOST]"));
    }
    let recorded = db.query("SELECT to_regclass('migrate_versions') IS NOT NULL")[0][0].as_deref() == Some("t");
    let applied_at: Vec<String> =
        if recorded { db.query("SELECT applied_at::text FROM migrate_versions") } else { Vec::new() }
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect();
    replacements.extend(applied_at.iter().map(|at| (at.as_str(), "[APPLIED AT]")));
    let text = redacted(output, &replacements);
    let text: Vec<String> = text
        .lines()
        .map(|line| match (line.find("ok (PostgreSQL"), line.strip_prefix("tls:")) {
            (Some(at), _) => format!("{}ok ([VERSION])", &line[..at]),
            // Whether the server offers TLS is the machine's, not the test's.
            (_, Some(_)) => "tls:           [TLS]".to_owned(),
            _ => line.to_owned(),
        })
        .collect();
    format!("$ cargo migrate {}\n{}\n", args.join(" "), text.join("\n"))
}

/// The fixture of `tool`: the tool applies its first migrations, cargo-migrate
/// imports all of it, adopts the database and upgrades it; then the schema
/// equals what the tool makes of the whole fixture on another database, the
/// tool's table is as the tool left it, and the transcript of `adopt`,
/// `status`, `upgrade`, `status` and `current -v` (adopted rows, then applied
/// ones) is the snapshot's.
fn adopt_after_the_tool(tool_name: &str, table: &str, apply: impl Fn(&Path, &TestDatabase)) -> String {
    let fixture = repo_root().join("tests/fixtures/import").join(tool_name);
    let first = first_migrations(&fixture, APPLIED_BY_THE_TOOL);
    let db = TestDatabase::create(&format!("peer_{tool_name}"));
    apply(first.path(), &db);
    let tool_rows = format!("SELECT version FROM {table} ORDER BY version");
    assert_eq!(db.query(&tool_rows).len(), APPLIED_BY_THE_TOOL, "the tool recorded what it applied");

    let project = tempfile::tempdir().unwrap();
    let fixture_arg = fixture.to_str().unwrap();
    let (_, stderr) = assert_exit(
        &cargo_migrate(project.path(), &["import", "--from", tool_name, fixture_arg, "--dir", "migrations"]),
        0,
    );
    assert!(stderr.contains("Imported 4 revisions"), "{stderr}");

    let mut transcript = String::new();
    let mut migrate = |args: &[&str], code: i32| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        let output = cargo_migrate(project.path(), &all);
        assert_exit(&output, code);
        transcript.push_str(&step(&db, args, &output));
    };
    migrate(&["adopt", "--from", tool_name], 0);
    migrate(&["status"], 0);
    migrate(&["upgrade"], 0);
    migrate(&["status"], 0);
    migrate(&["current", "-v"], 0);
    migrate(&["check"], 0);

    let everything = TestDatabase::create(&format!("peer_{tool_name}_all"));
    apply(&fixture, &everything);
    let tool_table = db.query(&tool_rows);
    assert_eq!(tool_table.len(), APPLIED_BY_THE_TOOL, "{table} is left as the tool wrote it: {tool_table:?}");
    let ours = db.schema_dump_excluding(&[table, "migrate_versions"]);
    for object in ["CREATE TABLE public.audit", "CREATE INDEX users_email", "FUNCTION public.user_count()"] {
        assert!(ours.contains(object), "{object} is in the dump: {ours}");
    }
    assert!(!ours.contains(table) && !ours.contains("migrate_versions"), "{ours}");
    assert_eq!(
        ours,
        everything.schema_dump_excluding(&[table]),
        "{tool_name}: adopt + upgrade differs from {tool_name} applying the whole fixture"
    );
    transcript
}

#[test]
#[ignore = "needs sqlx-cli and diesel_cli: run `cargo xtask test --peers`"]
fn postgres_sqlx_cli_then_adopt_and_upgrade_equals_sqlx_cli() {
    let sqlx = tool("MIGRATE_TEST_SQLX", "sqlx-cli");
    let transcript = adopt_after_the_tool("sqlx", "_sqlx_migrations", |dir, db| {
        run_tool(
            Command::new(&sqlx)
                .args(["migrate", "run", "--no-dotenv", "--source"])
                .arg(dir)
                .args(["--database-url", &db.url])
                .current_dir(std::env::temp_dir()),
        )
    });
    insta::assert_snapshot!(transcript);
}

#[test]
#[ignore = "needs sqlx-cli and diesel_cli: run `cargo xtask test --peers`"]
fn postgres_diesel_cli_then_adopt_and_upgrade_equals_diesel_cli() {
    let diesel = tool("MIGRATE_TEST_DIESEL", "diesel_cli");
    let transcript = adopt_after_the_tool("diesel", "__diesel_schema_migrations", |dir, db| {
        run_tool(
            Command::new(&diesel)
                .args(["migration", "run", "--migration-dir"])
                .arg(dir)
                .args(["--database-url", &db.url])
                .current_dir(std::env::temp_dir())
                .env_remove("DATABASE_URL"),
        )
    });
    insta::assert_snapshot!(transcript);
}
