//! Files as they come: byte-order marks, odd directory entries, and writes
//! that never leave a half-written or temporary file behind.

use std::path::Path;

use crate::{assert_exit, cargo_migrate};

const BOM: &str = "\u{feff}";

/// `cargo-migrate migrate ARGS --dir migrations` in `dir`.
fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations"]);
    cargo_migrate(dir, &all)
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn init_keeps_a_bom_in_cargo_toml() {
    let project = tempfile::tempdir().unwrap();
    let manifest = project.path().join("Cargo.toml");
    std::fs::write(&manifest, format!("{BOM}[package]\nname = \"bom\" # kept\nversion = \"0.1.0\"\n")).unwrap();
    assert_exit(&cargo_migrate(project.path(), &["init"]), 0);
    assert_eq!(
        read(&manifest),
        format!(
            "{BOM}[package]\nname = \"bom\" # kept\nversion = \"0.1.0\"\n\n[package.metadata.migrate]\ndir = \"migrations\"\n"
        )
    );
}

#[test]
fn revisions_lock_and_template_with_a_bom_are_read() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    let migrations = dir.join("migrations");
    std::fs::write(
        migrations.join("a.sql"),
        format!(
            "{BOM}-- revision: a\r\n-- parents:\r\n-- message: saved by Notepad\r\n\r\n-- migrate:up\r\nSELECT 1;\r\n"
        ),
    )
    .unwrap();
    std::fs::write(migrations.join("template.sql"), format!("{BOM}{}", read(migrations.join("template.sql")))).unwrap();
    assert_exit(&run(dir, &["lock"]), 0);
    std::fs::write(migrations.join("migrate.lock"), format!("{BOM}{}", read(migrations.join("migrate.lock")))).unwrap();

    let (stdout, _) = assert_exit(&run(dir, &["new", "next", "--rev-id", "b", "--branch-label", "main"]), 0);
    let created = read(dir.join(stdout.trim()));
    assert!(created.starts_with("-- revision: b\n-- parents: a\n-- message: next\n-- created: "), "{created}");
    assert!(created.contains("\n-- branch-labels: main\n\n-- migrate:up\n"), "{created}");
    assert_exit(&run(dir, &["lock"]), 0);
    let (_, stderr) = assert_exit(&run(dir, &["check"]), 0);
    assert_eq!(stderr, "     Checked 2 revisions in migrations, 1 head, 2 pinned\n");
}

/// PostgreSQL rejects a BOM in SQL (SQLite happens to read it as whitespace).
#[test]
fn postgres_models_with_a_bom_load() {
    let db = tests::support::TestDatabase::create("files_bom");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    std::fs::write(dir.join("schema.sql"), format!("{BOM}CREATE TABLE a (id INTEGER PRIMARY KEY);\n")).unwrap();
    let (stdout, stderr) =
        assert_exit(&run(dir, &["generate", "create a", "--rev-id", "a1", "--database-url", &db.url]), 0);
    assert_eq!(stdout, "migrations/a1_create_a.sql\n");
    assert_eq!(
        stderr,
        "    Detected new table a\n     Created migrations/a1_create_a.sql (create a)\n\
         note: the revision is a draft: edit it freely, then pin it with `cargo migrate lock`\n"
    );
}

#[test]
fn check_says_a_lock_file_that_is_a_directory_is_one() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    let lock = dir.join("migrations/migrate.lock");
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let (_, stderr) = assert_exit(&run(dir, &["check"]), 1);
    assert_eq!(
        stderr,
        "error: migrations/migrate.lock: this is a directory, not a file\n  \
         help: revision files (`*.sql`) and migrate.lock must be files or links to files: rename or remove this one\n\
         error: check failed with 1 problem: 0 revisions in migrations, 0 heads, 0 pinned\n"
    );
    // `lock` refuses too, and leaves nothing behind.
    assert_exit(&run(dir, &["lock"]), 1);
    assert_eq!(entries(&dir.join("migrations")), ["migrate.lock", "template.sql"]);
}

#[test]
fn init_says_a_migrations_directory_that_is_a_file_is_one() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("migrations"), "").unwrap();
    let (_, stderr) = assert_exit(&run(project.path(), &["init"]), 2);
    assert_eq!(
        stderr,
        "error: migrations: the migrations directory is a file, not a directory\n  \
         help: point `dir = \"...\"` in [package.metadata.migrate] (or `--dir`) at the directory that holds the \
         revision files, or move the file away and run `cargo migrate init`\n"
    );
}

/// The names in a directory, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn lock_keeps_the_lock_files_mode_and_leaves_no_temporary_file() {
    use std::os::unix::fs::PermissionsExt;
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    let migrations = dir.join("migrations");
    std::fs::write(migrations.join("a.sql"), "-- revision: a\n-- parents:\n-- message: m\n\n-- migrate:up\n").unwrap();
    let lock = migrations.join("migrate.lock");
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o444)).unwrap();
    let (_, stderr) = assert_exit(&run(dir, &["lock"]), 0);
    assert_eq!(stderr, "      Pinned 1 revision in migrations/migrate.lock\n");
    assert_eq!(std::fs::metadata(&lock).unwrap().permissions().mode() & 0o777, 0o444);
    assert!(read(&lock).contains("\na = \"sha256:"));
    assert_eq!(entries(&migrations), ["a.sql", "migrate.lock", "template.sql"]);
}

#[test]
fn new_never_replaces_an_existing_file() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    assert_exit(&run(dir, &["init"]), 0);
    let existing = dir.join("migrations/aaa_x.sql");
    let text = "-- revision: zzz\n-- parents:\n-- message: x\n\n-- migrate:up\nSELECT 1;\n";
    std::fs::write(&existing, text).unwrap();
    let (stdout, stderr) = assert_exit(&run(dir, &["new", "x", "--rev-id", "aaa"]), 101);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: migrations/aaa_x.sql already exists; it was left as it is\n  \
         help: choose another `--rev-id` or message, or move the file away\n"
    );
    assert_eq!(read(&existing), text);
    assert_eq!(entries(&dir.join("migrations")), ["aaa_x.sql", "migrate.lock", "template.sql"]);
}
