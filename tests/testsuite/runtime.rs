//! An application that embeds its history with migrate-build and applies it
//! at startup with the README's own snippet (`migrate_runtime::connect` on a
//! `DatabaseUrl`): the same version table as the CLI, a refusal when an
//! applied revision's file changed, and one when the database is ahead,
//! each with help that names the `RunOptions` field.

use tests::support::{FixtureCrate, repo_root, revision, text};

/// The first Rust block of the README's section `heading`, as written there.
fn readme_snippet(heading: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = &readme[readme.find(heading).expect("the section")..];
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
    fixture.write("src/main.rs", &format!("{}{MAIN}", readme_snippet("## Migrating at startup")));
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

/// A tokio application: the migration runs in a spawned task (so its future
/// must be `Send`) inside `#[tokio::main]`, where `postgres::Client` would panic.
const TOKIO_MAIN: &str = r#"
#[tokio::main]
async fn main() {
    let url = std::env::args().nth(1).expect("a database URL");
    let task = tokio::spawn(async move { migrate(&url).await });
    if let Err(error) = task.await.expect("the task ran") {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}
"#;

#[test]
fn a_tokio_application_applies_its_history_with_the_readme_snippet() {
    let database = tests::support::TestDatabase::create("tokio_app");
    let fixture = FixtureCrate::with_dependencies(
        "fixture_tokio",
        "migrate-runtime = { path = \"{repo}/migrate-runtime\", default-features = false, features = [\"tokio-postgres\"] }\n\
         tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }",
    );
    fixture.write("src/main.rs", &format!("{}{TOKIO_MAIN}", readme_snippet("### On tokio")));
    fixture.write("migrations/a.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.write("migrations/b.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    let run = |url: &str| {
        let output = fixture.cargo(&["run", "--quiet", "--", url]);
        format!("exit: {}\n{}", output.status.code().unwrap_or(-1), text(&output).1)
    };
    let tls = format!("{}?sslmode=require", database.url);
    assert_eq!(run(&tls), "exit: 0\napplied 2 revision(s): a, b\n");
    assert_eq!(run(&tls), "exit: 0\napplied 0 revision(s): \n", "a second start finds nothing to do");
    let rows = database.query("SELECT revision, state FROM migrate_versions ORDER BY revision");
    let rows: Vec<String> = rows.into_iter().map(|r| format!("{} {}", cell(&r, 0), cell(&r, 1))).collect();
    assert_eq!(rows, ["a applied", "b applied"], "the CLI's version table");

    fixture.write("migrations/c.sql", &revision("c", "b", "CREATE TABLE c (id INT);\nSELEC 1;"));
    insta::assert_snapshot!(run(&tls).replace(&fixture.path().display().to_string(), "[DIR]"), @r#"
    exit: 1
    error: migrations/c.sql:7: revision `c` failed: syntax error at or near "SELEC"
    "#);
    assert_eq!(database.tables(), ["a", "b", "migrate_versions"], "the failed revision left nothing");
}

fn cell(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}
