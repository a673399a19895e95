//! `upgrade`, `status` and `downgrade` on MariaDB (`MIGRATE_TEST_MYSQL`, or
//! root@127.0.0.1:3306), on a small MySQL history of its own: the whole
//! output, with the database's URL and the times redacted.

use tests::support::TestMysql;

use crate::{assert_exit, cargo_migrate, redacted};

/// A project whose history is written for MySQL: two revisions, the second
/// a procedure whose body holds `;`, between DELIMITER lines.
fn project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let users = "CREATE TABLE users (id BIGINT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(255) NOT NULL);\n\
                 CREATE UNIQUE INDEX users_email ON users (email);\n\
                 -- migrate:down\nDROP TABLE users;";
    std::fs::write(dir.join("a1b2_users.sql"), revision("a1b2", "", "users", users)).unwrap();
    let procedure = "DELIMITER $$\nCREATE PROCEDURE count_users(OUT n INT)\nBEGIN\n  SELECT COUNT(*) INTO n FROM users;\nEND$$\nDELIMITER ;\n\
                     -- migrate:down\nDROP PROCEDURE count_users;";
    std::fs::write(dir.join("c3d4_count_users.sql"), revision("c3d4", "a1b2", "count users", procedure)).unwrap();
    project
}

fn revision(id: &str, parents: &str, message: &str, sections: &str) -> String {
    format!("-- revision: {id}\n-- parents: {parents}\n-- message: {message}\n\n-- migrate:up\n{sections}\n")
}

#[test]
fn mysql_upgrade_status_and_downgrade() {
    let db = TestMysql::create("cli");
    let project = project();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        cargo_migrate(project.path(), &all)
    };
    let show = |output: &std::process::Output| redacted(output, &[(&db.url, "[URL]"), (&db.name, "[DB]")]);

    let upgrade = run(&["upgrade"]);
    assert_exit(&upgrade, 0);
    insta::assert_snapshot!(show(&upgrade));
    assert_eq!(db.tables(), ["migrate_versions", "users"]);
    let counted = db.query("CALL count_users(@n); SELECT @n");
    assert_eq!(counted.last().unwrap()[0].as_deref(), Some("0"));

    let status = run(&["status"]);
    assert_exit(&status, 0);
    let status = show(&status);
    let version = db.query("SELECT version()")[0][0].clone().unwrap();
    insta::assert_snapshot!(status.replace(&version, "[VERSION]"));

    let downgrade = run(&["downgrade", "base"]);
    assert_exit(&downgrade, 0);
    insta::assert_snapshot!(show(&downgrade));
    assert_eq!(db.tables(), ["migrate_versions"]);
    assert!(db.query("SELECT revision FROM migrate_versions").is_empty());
}

#[test]
fn mysql_dry_run_with_ddl_is_refused() {
    let db = TestMysql::create("cli_dry");
    let project = project();
    let output =
        cargo_migrate(project.path(), &["upgrade", "--dry-run", "--dir", "migrations", "--database-url", &db.url]);
    assert_exit(&output, 101);
    insta::assert_snapshot!(redacted(&output, &[(&db.url, "[URL]")]));
    assert!(db.tables().is_empty(), "nothing ran");
}

#[test]
fn mysql_lint_warns_of_several_schema_changes_in_one_revision() {
    let project = project();
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
                    [package.metadata.migrate]\ndialect = \"mysql\"\n";
    std::fs::write(project.path().join("Cargo.toml"), manifest).unwrap();
    let output = cargo_migrate(project.path(), &["lint", "a1b2", "c3d4"]);
    assert_exit(&output, 1);
    insta::assert_snapshot!(redacted(&output, &[]));
}
