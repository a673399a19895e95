//! `import --from alembic` and `adopt --from alembic` against real Alembic:
//! the project in tests/fixtures/import/alembic (SQLAlchemy models, a branch
//! and a merge, `depends_on`, a data migration with `op.execute`, one with
//! `op.get_bind()` that cannot render offline, `op.get_bind().commit()`
//! before a concurrent index, `autocommit_block()`, a downgrade that raises)
//! applied by Alembic on one database and by cargo-migrate on another,
//! compared with `pg_dump --schema-only`.
//!
//! Alembic runs from a virtual environment under `target/tools/`, created
//! on first use with pip (PyPI must be reachable), or from
//! `MIGRATE_TEST_ALEMBIC_PYTHON`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tests::support::{TestDatabase, repo_root};

use crate::{assert_exit, cargo_migrate, redacted};

const PACKAGES: [&str; 2] = ["alembic==1.20.1", "psycopg[binary]==3.2.13"];

/// The revision that cannot render offline, and the SQL a human writes for it.
const NEEDS_SQL: &str = "8192a3b4c5d6";
const WRITTEN: &str = "UPDATE users SET name = split_part(email, '@', 1) WHERE name IS NULL;\n\
                       ALTER TABLE users ALTER COLUMN name SET NOT NULL;\n";

/// The revision below the irreversible one's children: as far down as both
/// tools can go.
const LOWEST_REVERSIBLE: &str = "2b3c4d5e6f70";

/// Python with Alembic and psycopg, once for all the tests of this process.
fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(install).clone()
}

fn install() -> PathBuf {
    if let Some(python) = std::env::var_os("MIGRATE_TEST_ALEMBIC_PYTHON") {
        return python.into();
    }
    let venv = repo_root().join("target/tools/alembic-venv");
    let python = venv.join("bin/python");
    let ready =
        Command::new(&python).args(["-c", "import alembic, psycopg"]).output().is_ok_and(|o| o.status.success());
    if !ready {
        if !python.exists() {
            let created = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
            assert!(
                created.is_ok_and(|s| s.success()),
                "could not create {}: install python3 with venv",
                venv.display()
            );
        }
        let installed = Command::new(venv.join("bin/pip")).args(["install", "--quiet"]).args(PACKAGES).status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "could not `pip install {}` into {}: PyPI must be reachable, or set MIGRATE_TEST_ALEMBIC_PYTHON to a python that has them",
            PACKAGES.join(" "),
            venv.display()
        );
    }
    python
}

fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/import/alembic")
}

/// Alembic's own command on `db` (env.py reads `DATABASE_URL`).
fn alembic(db: &TestDatabase, args: &[&str]) {
    let url = db.url.replacen("postgres://", "postgresql+psycopg://", 1);
    let output = Command::new(python())
        .args(["-m", "alembic", "-c"])
        .arg(fixture().join("alembic.ini"))
        .args(args)
        .current_dir(fixture())
        .env("DATABASE_URL", url)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run alembic");
    assert!(output.status.success(), "alembic {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A project with the fixture imported into `migrations/`.
fn imported() -> (tempfile::TempDir, Output) {
    imported_with(&[])
}

/// [`imported`], with more arguments for `import`.
fn imported_with(extra: &[&str]) -> (tempfile::TempDir, Output) {
    let project = tempfile::tempdir().unwrap();
    let output = import(project.path(), &fixture(), &python(), extra);
    (project, output)
}

/// `import --from alembic SOURCE --python PYTHON --dir migrations` in `project`.
fn import(project: &Path, source: &Path, python: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["import", "--from", "alembic", source.to_str().unwrap(), "--python", python.to_str().unwrap()];
    args.extend(["--dir", "migrations"]);
    args.extend(extra);
    cargo_migrate(project, &args)
}

/// The needs-sql revision written the way a human would: its SQL in the up
/// section, `needs-sql` gone, the file pinned.
fn write_the_missing_sql(project: &Path) {
    let dir = project.join("migrations");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.starts_with(NEEDS_SQL))
        .unwrap();
    let text = std::fs::read_to_string(dir.join(&name)).unwrap();
    let todo = "-- TODO: the SQL of upgrade() (see the comment above the up section)\n";
    assert!(text.contains(todo) && text.contains("-- needs-sql: up\n"), "{text}");
    let written = text.replace(todo, WRITTEN).replace("-- needs-sql: up\n", "");
    std::fs::write(dir.join(&name), written).unwrap();
    assert_exit(&cargo_migrate(project, &["lock", "--dir", "migrations"]), 0);
}

fn ours(project: &Path, db: &TestDatabase, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations", "--database-url", &db.url]);
    cargo_migrate(project, &all)
}

/// The schema without either tool's version table.
fn dump(db: &TestDatabase) -> String {
    db.schema_dump_excluding(&["alembic_version", "migrate_versions"])
}

#[test]
fn import_alembic_reports_every_script() {
    let (_project, output) = imported();
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn import_alembic_writes_a_revision_that_cannot_render_as_needing_sql() {
    let (project, output) = imported();
    assert_exit(&output, 0);
    let dir = project.path().join("migrations");
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let files: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with(NEEDS_SQL) || n.starts_with("5e6f") || n.starts_with("3c4d") || n.starts_with("7081"))
        .map(|n| format!("=== {n}\n{}", std::fs::read_to_string(dir.join(n)).unwrap()))
        .collect();
    insta::assert_snapshot!(files.join("\n"));
    // Everything but it is pinned.
    let lock = std::fs::read_to_string(dir.join("migrate.lock")).unwrap();
    assert_eq!(lock.matches("sha256:").count(), 8, "{lock}");
    assert!(!lock.contains(NEEDS_SQL), "{lock}");
    let output = cargo_migrate(project.path(), &["show", NEEDS_SQL, "--dir", "migrations"]);
    insta::assert_snapshot!(
        "import_alembic_writes_a_revision_that_cannot_render_as_needing_sql__show",
        redacted(&output, &[])
    );
    let (stdout, _) = assert_exit(
        &cargo_migrate(project.path(), &["show", NEEDS_SQL, "--dir", "migrations", "--message-format", "json"]),
        0,
    );
    assert!(stdout.contains(r#""imported-from":"alembic 8192a3b4c5d6","needs-sql":["up"]"#), "{stdout}");
}

#[test]
fn postgres_upgrade_of_an_imported_alembic_history_stops_before_a_revision_needing_sql() {
    let (project, output) = imported();
    assert_exit(&output, 0);
    let db = TestDatabase::create("alembic_stop");
    let output = ours(project.path(), &db, &["upgrade"]);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
    let (stdout, _) = assert_exit(&ours(project.path(), &db, &["current"]), 0);
    assert!(stdout.contains("708192a3b4c5"), "what came before it is applied: {stdout}");
}

#[test]
fn postgres_import_alembic_then_upgrade_equals_alembic() {
    let alembic_db = TestDatabase::create("alembic_a");
    alembic(&alembic_db, &["upgrade", "heads"]);
    let (project, output) = imported();
    assert_exit(&output, 0);
    write_the_missing_sql(project.path());
    let db = TestDatabase::create("alembic_b");
    assert_exit(&ours(project.path(), &db, &["upgrade"]), 0);
    let theirs = dump(&alembic_db);
    assert!(theirs.contains("ix_invoices_user_id") && theirs.contains("fk_users_default_invoice"), "{theirs}");
    assert_eq!(dump(&db), theirs, "import + upgrade differs from alembic upgrade heads");
    let rows = "SELECT name FROM invoice_statuses ORDER BY name";
    assert_eq!(db.query(rows), alembic_db.query(rows), "op.execute's rows");
}

#[test]
fn postgres_downgrade_of_an_imported_alembic_history_matches_alembics() {
    let alembic_db = TestDatabase::create("alembic_down_a");
    alembic(&alembic_db, &["upgrade", "heads"]);
    alembic(&alembic_db, &["downgrade", LOWEST_REVERSIBLE]);
    let (project, output) = imported();
    assert_exit(&output, 0);
    write_the_missing_sql(project.path());
    let db = TestDatabase::create("alembic_down_b");
    assert_exit(&ours(project.path(), &db, &["upgrade"]), 0);
    assert_exit(&ours(project.path(), &db, &["downgrade", LOWEST_REVERSIBLE]), 0);
    assert_eq!(dump(&db), dump(&alembic_db), "downgrade differs from alembic downgrade {LOWEST_REVERSIBLE}");
    // The revision whose downgrade raises on purpose is irreversible, as in Alembic.
    let (_, stderr) = assert_exit(&ours(project.path(), &db, &["downgrade", "base"]), 101);
    assert!(stderr.contains("it cannot be reverted"), "{stderr}");
}

#[test]
fn postgres_adopt_alembic_at_a_merge_then_upgrade_continues() {
    let db = TestDatabase::create("alembic_adopt_merge");
    alembic(&db, &["upgrade", "5e6f708192a3"]);
    let (project, output) = imported();
    assert_exit(&output, 0);
    write_the_missing_sql(project.path());
    let output = ours(project.path(), &db, &["adopt", "--from", "alembic"]);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
    let output = ours(project.path(), &db, &["upgrade"]);
    insta::assert_snapshot!(
        "postgres_adopt_alembic_at_a_merge_then_upgrade_continues__upgrade",
        redacted(&output, &[(db.url.as_str(), "[URL]")])
    );
    let alembic_db = TestDatabase::create("alembic_adopt_merge_a");
    alembic(&alembic_db, &["upgrade", "heads"]);
    assert_eq!(dump(&db), dump(&alembic_db), "adopt + upgrade differs from alembic upgrade heads");
    let rows = "SELECT version_num FROM alembic_version";
    assert_eq!(db.query(rows), [[Some("5e6f708192a3".to_owned())]], "Alembic's table is left as it was");
}

#[test]
fn postgres_adopt_alembic_at_its_heads_applies_nothing_twice() {
    let db = TestDatabase::create("alembic_adopt_heads");
    alembic(&db, &["upgrade", "heads"]);
    let (project, output) = imported();
    assert_exit(&output, 0);
    write_the_missing_sql(project.path());
    assert_exit(&ours(project.path(), &db, &["adopt", "--from", "alembic"]), 0);
    let output = ours(project.path(), &db, &["upgrade"]);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
}

#[test]
fn postgres_adopt_alembic_refuses_a_history_whose_sql_is_still_to_be_written() {
    let db = TestDatabase::create("alembic_adopt_unwritten");
    alembic(&db, &["upgrade", "heads"]);
    let (project, output) = imported();
    assert_exit(&output, 0);
    let output = ours(project.path(), &db, &["adopt", "--from", "alembic"]);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
    assert!(db.query("SELECT 1 FROM pg_tables WHERE tablename = 'migrate_versions'").is_empty(), "nothing recorded");
}

#[test]
fn import_alembic_refuses_sql_rendered_for_another_dialect() {
    let project = tempfile::tempdir().unwrap();
    let python = python();
    let source = fixture();
    // env.py takes its URL from DATABASE_URL, which points at SQLite here.
    let output = Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .args(["migrate", "import", "--from", "alembic", source.to_str().unwrap(), "--python"])
        .arg(&python)
        .args(["--dir", "migrations", "--dialect", "postgres"])
        .current_dir(project.path())
        .env("CARGO_TERM_COLOR", "never")
        .env("DATABASE_URL", "sqlite:///app.db")
        .output()
        .unwrap();
    insta::assert_snapshot!(redacted(&output, &[]));
    assert!(!project.path().join("migrations").exists(), "nothing written");
}

#[test]
fn import_alembic_with_a_python_without_alembic_says_what_to_do() {
    let project = tempfile::tempdir().unwrap();
    let venv = project.path().join("bare");
    let created = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).status();
    assert!(created.is_ok_and(|s| s.success()));
    let python = venv.join("bin/python");
    let output = import(project.path(), &fixture(), &python, &[]);
    insta::assert_snapshot!(redacted(&output, &[(python.to_str().unwrap(), "[PYTHON]")]));
}

/// A one-revision Alembic project in `dir` whose env.py's offline part is
/// `offline` (with `context` and `config` in scope).
fn tiny_project(dir: &Path, offline: &str) {
    std::fs::create_dir_all(dir.join("migrations/versions")).unwrap();
    std::fs::write(
        dir.join("alembic.ini"),
        "[alembic]\nscript_location = %(here)s/migrations\nsqlalchemy.url = sqlite://\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("migrations/env.py"),
        format!("from alembic import context\nconfig = context.config\n{offline}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("migrations/versions/a1_create_t.py"),
        "\"\"\"create t\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\nrevision = 'a1'\ndown_revision = None\n\
         branch_labels = None\ndepends_on = None\n\ndef upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer, primary_key=True))\n\n\
         def downgrade():\n    op.drop_table('t')\n",
    )
    .unwrap();
}

fn import_tiny(project: &Path, source: &Path) -> Output {
    import(project, source, &python(), &["--dialect", "sqlite"])
}

#[test]
fn import_alembic_refuses_an_env_py_that_migrates_several_databases() {
    let project = tempfile::tempdir().unwrap();
    let source = project.path().join("alembic");
    tiny_project(
        &source,
        "for url in ['sqlite://', 'sqlite://']:\n    context.configure(url=url)\n    with context.begin_transaction():\n        context.run_migrations()",
    );
    let output = import_tiny(project.path(), &source);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn import_alembic_warns_that_adopt_reads_only_alembic_version() {
    let project = tempfile::tempdir().unwrap();
    let source = project.path().join("alembic");
    tiny_project(
        &source,
        "context.configure(url=config.get_main_option('sqlalchemy.url'), version_table='schema_versions')\nwith context.begin_transaction():\n    context.run_migrations()",
    );
    let output = import_tiny(project.path(), &source);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn mariadb_import_alembic_for_mysql_then_upgrade_stops_before_the_revision_needing_sql() {
    let (project, output) = imported_with(&["--dialect", "mysql"]);
    assert_exit(&output, 0);
    let users = std::fs::read_to_string(project.path().join("migrations/1a2b3c4d5e6f_create_users.sql")).unwrap();
    assert!(users.contains("id INTEGER NOT NULL AUTO_INCREMENT"), "rendered for MySQL: {users}");
    let db = tests::support::TestMysql::create("alembic_mysql");
    let output = cargo_migrate(project.path(), &["upgrade", "--dir", "migrations", "--database-url", &db.url]);
    insta::assert_snapshot!(redacted(&output, &[(db.url.as_str(), "[URL]")]));
}

#[test]
fn import_alembic_masks_a_password_in_what_env_py_raised() {
    let project = tempfile::tempdir().unwrap();
    let source = project.path().join("alembic");
    tiny_project(&source, "raise RuntimeError('could not reach postgresql://app:hunter2@db.internal/app')");
    let output = import_tiny(project.path(), &source);
    let (_, stderr) = assert_exit(&output, 101);
    assert!(stderr.contains("postgresql://app:****@db.internal/app"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
