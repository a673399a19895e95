//! An application that embeds its history with migrate-build and applies it
//! at startup with the README's own snippet (`migrate_runtime::connect` on a
//! `DatabaseUrl`): the same version table as the CLI, a refusal when an
//! applied revision's file changed, and one when the database is ahead,
//! each with help that names the `RunOptions` field.

use tests::support::{FixtureCrate, repo_root, revision, text};

/// The README's "Migrating at startup" snippet, as written there.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = &readme[readme.find("## Migrating at startup").expect("the section")..];
    let start = section.find("```rust\n").expect("a rust block") + "```rust\n".len();
    section[start..start + section[start..].find("```").unwrap()].to_owned()
}

const MAIN: &str = r#"
fn main() {
    let path = std::env::args().nth(1).expect("a database path");
    if let Err(error) = migrate(&format!("sqlite:{path}")) {
        eprintln!("error: {error}");
        if let Some(help) = error.downcast_ref::<migrate_runtime::Error>().and_then(|e| e.help()) {
            eprintln!("help: {help}");
        }
        std::process::exit(1);
    }
}
"#;

#[test]
fn application_applies_its_embedded_history_at_startup_with_the_readme_snippet() {
    let fixture = FixtureCrate::with_dependencies(
        "fixture_runtime",
        "migrate-runtime = { path = \"{repo}/migrate-runtime\", default-features = false, features = [\"sqlite\"] }",
    );
    fixture.write("src/main.rs", &format!("{}{MAIN}", readme_snippet()));
    fixture.write("migrations/a.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.write("migrations/b.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    let db = fixture.path().join("app.db");
    let run = || {
        let output = fixture.cargo(&["run", "--quiet", "--", db.to_str().unwrap()]);
        format!("exit: {}\n{}", output.status.code().unwrap_or(-1), text(&output).1)
    };

    assert_eq!(run(), "exit: 0\napplied 2 revision(s): a, b\n");
    assert_eq!(run(), "exit: 0\napplied 0 revision(s): \n", "a second start finds nothing to do");
    let connection = migrate_runtime::rusqlite::Connection::open(&db).unwrap();
    let count: i64 = connection.query_row("SELECT count(*) FROM migrate_versions", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 2, "the CLI's version table");

    fixture.write("migrations/b.sql", &revision("b", "a", "CREATE TABLE b (id BIGINT);"));
    let drift = run();
    let drift = drift.replace(&fixture.path().display().to_string(), "[DIR]");
    let checksums: Vec<&str> = drift.split("sha256:").skip(1).map(|s| &s[..64]).collect();
    let drift = checksums.iter().fold(drift.clone(), |text, sum| text.replace(sum, "[SUM]"));
    insta::assert_snapshot!(drift, @r"
    exit: 1
    error: migrations/b.sql: revision `b` was applied with sha256:[SUM] but its file now has sha256:[SUM]
    help: an applied revision must not change: restore the file, or set `RunOptions::allow_modified` if the change is deliberate and harmless
    ");

    // An older build (without `b`) against the database a newer one migrated.
    fixture.remove("migrations/b.sql");
    insta::assert_snapshot!(run(), @r"
    exit: 1
    error: the database has applied a revision that this history does not have: b
    help: the database is ahead of this build: deploy the build that has them, or set `RunOptions::allow_newer` to run against revisions applied after everything this history has (as when rolling an application back)
    ");
}
