//! Release tags (`migrations/releases.toml`) as targets of the database
//! commands, on a copy of the example history and a SQLite file.

use std::path::Path;
use std::process::Output;

use tests::support::repo_root;

use crate::{assert_exit, cargo_migrate, redacted};

const RELEASES: &str = "version = 1\n\n[tags]\n\"v0.1.0\" = [\"e12b7f3a8c95\"]\n\"v0.2.0\" = [\"0a9d4e6b2c31\"]\n";

/// The example history in a temporary project, tagged `v0.1.0` at the
/// merge and `v0.2.0` at the head.
fn tagged_example(releases: &str) -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let migrations = project.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for entry in std::fs::read_dir(repo_root().join("migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
    }
    std::fs::write(migrations.join("releases.toml"), releases).unwrap();
    project
}

/// `cargo migrate ARGS --dir migrations` on the project's SQLite file `app.db`.
fn run(project: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--dir", "migrations", "--database-url", "sqlite:app.db"]);
    cargo_migrate(project, &all)
}

#[test]
fn downgrade_to_a_tag_reverts_what_came_after_that_release() {
    let project = tagged_example(RELEASES);
    assert_exit(&run(project.path(), &["upgrade", "v0.2.0"]), 0);
    let output = run(project.path(), &["downgrade", "v0.1.0"]);
    insta::assert_snapshot!(redacted(&output, &[]));
    let (current, _) = assert_exit(&run(project.path(), &["current"]), 0);
    assert_eq!(current, "e12b7f3a8c95, merge profile and preferences\n");
}

#[test]
fn upgrade_to_a_tag_without_its_v() {
    let project = tagged_example(RELEASES);
    assert_exit(&run(project.path(), &["upgrade", "0.1.0"]), 0);
    let (current, _) = assert_exit(&run(project.path(), &["current"]), 0);
    assert_eq!(current, "e12b7f3a8c95, merge profile and preferences\n");
}

#[test]
fn sql_from_tag_to_tag_is_the_incremental_script() {
    let project = tagged_example(RELEASES);
    let output = cargo_migrate(project.path(), &["sql", "v0.1.0:v0.2.0", "--dir", "migrations", "--dialect", "sqlite"]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn an_unknown_tag_lists_the_tags() {
    let project = tagged_example(RELEASES);
    let output = run(project.path(), &["downgrade", "v0.3.0"]);
    insta::assert_snapshot!(redacted(&output, &[]));
}

#[test]
fn check_refuses_a_tag_naming_a_missing_revision() {
    let project =
        tagged_example("version = 1\n\n[tags]\n\"v0.1.0\" = [\"e12b7f3a8c95\"]\n\"v0.2.0\" = [\"0a9d4e6b2c99\"]\n");
    let output = cargo_migrate(project.path(), &["check", "--dir", "migrations"]);
    insta::assert_snapshot!(redacted(&output, &[]));
}
