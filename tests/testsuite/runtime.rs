//! An application that embeds its history with migrate-build and applies it
//! at startup through `migrate_runtime::Migrator`: the same version table as
//! the CLI, and a refusal when an applied revision's file changed.

use tests::support::{FixtureCrate, revision, text};

const MAIN: &str = r#"
static MIGRATIONS: migrate_core::embed::EmbeddedHistory = migrate_core::include_history!();

fn main() {
    let path = std::env::args().nth(1).expect("a database path");
    let mut db = migrate_runtime::rusqlite::Connection::open(path).expect("open the database");
    let migrator = migrate_runtime::Migrator::from_embedded(&MIGRATIONS).expect("a valid history");
    match migrator.upgrade(&mut db, &migrate_runtime::Target::Heads, Default::default(), &mut |_| {}) {
        Ok(outcome) => println!("applied {}", outcome.done.len()),
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
"#;

#[test]
fn application_applies_its_embedded_history_at_startup_and_refuses_drift() {
    let fixture = FixtureCrate::with_dependencies(
        "fixture_runtime",
        "migrate-runtime = { path = \"{repo}/migrate-runtime\", default-features = false, features = [\"sqlite\"] }",
    );
    fixture.write("src/main.rs", MAIN);
    fixture.write("migrations/a.sql", &revision("a", "", "CREATE TABLE a (id INT);"));
    fixture.write("migrations/b.sql", &revision("b", "a", "CREATE TABLE b (id INT);"));
    let db = fixture.path().join("app.db");
    let run = || fixture.cargo(&["run", "--quiet", "--", db.to_str().unwrap()]);

    let output = run();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "applied 2\n");
    assert_eq!(text(&run()).0, "applied 0\n", "a second start finds nothing to do");

    let connection = migrate_runtime::rusqlite::Connection::open(&db).unwrap();
    let count: i64 = connection.query_row("SELECT count(*) FROM migrate_versions", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 2, "the CLI's version table");

    fixture.write("migrations/b.sql", &revision("b", "a", "CREATE TABLE b (id BIGINT);"));
    let output = run();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("revision `b` was applied with sha256:"), "{stderr}");
}
