//! `upgrade`, `status` and `downgrade` on MariaDB (`MIGRATE_TEST_MYSQL`, or
//! root@127.0.0.1:3306), on a small MySQL history of its own: the whole
//! output, with the database's URL and the times redacted.

use tests::support::TestMysql;

use crate::{assert_exit, cargo_migrate, eight_at_once, redacted};

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

/// A MySQL history with a branch and a merge: `base`, then `left` and
/// `right` from it, merged by `merge`, then `last`.
fn branching_project() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let files = [
        ("b0", "", "base", "CREATE TABLE base (id INT PRIMARY KEY);\n-- migrate:down\nDROP TABLE base;"),
        ("l1", "b0", "left", "CREATE TABLE l (id INT);\n-- migrate:down\nDROP TABLE l;"),
        ("r1", "b0", "right", "CREATE TABLE r (id INT);\n-- migrate:down\nDROP TABLE r;"),
        ("m2", "l1, r1", "merge", "-- migrate:down"),
        (
            "z3",
            "m2",
            "last",
            "ALTER TABLE base ADD COLUMN note VARCHAR(20);\n-- migrate:down\nALTER TABLE base DROP COLUMN note;",
        ),
    ];
    for (id, parents, message, sections) in files {
        std::fs::write(dir.join(format!("{id}.sql")), revision(id, parents, message, sections)).unwrap();
    }
    project
}

#[test]
fn mysql_targets_through_a_branch_and_a_merge() {
    let db = TestMysql::create("cli_targets");
    let project = branching_project();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        let output = cargo_migrate(project.path(), &all);
        redacted(&output, &[(&db.url, "[URL]")])
    };
    let transcript = [
        run(&["upgrade", "l1"]),
        run(&["upgrade", "r1"]),
        run(&["current"]),
        run(&["upgrade", "+1"]),
        run(&["upgrade"]),
        run(&["downgrade", "-1"]),
        run(&["downgrade", "l1"]),
        run(&["current"]),
        run(&["downgrade", "base"]),
    ];
    insta::assert_snapshot!(transcript.join("\n"));
    assert_eq!(db.tables(), ["migrate_versions"]);
}

#[test]
fn mysql_eight_processes_upgrading_at_once_apply_each_revision_once() {
    let db = TestMysql::create("cli_eight");
    let project = branching_project();
    let applied = eight_at_once(project.path(), &["upgrade", "--dir", "migrations", "--database-url", &db.url]);
    assert_eq!(applied, 5, "each revision applied exactly once across 8 processes");
    assert_eq!(db.query("SELECT COUNT(*) FROM migrate_versions"), [[Some("5".to_owned())]]);
}

#[test]
fn mysql_a_revision_failing_part_way_is_recorded_and_blocks_until_resolved() {
    let db = TestMysql::create("cli_failed");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let failing =
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nINSERT INTO missing VALUES (1);\nCREATE TABLE c (id INT);";
    std::fs::write(dir.join("f1.sql"), revision("f1", "", "fails part-way", failing)).unwrap();
    std::fs::write(dir.join("g2.sql"), revision("g2", "f1", "after it", "CREATE TABLE g (id INT);")).unwrap();
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        let output = cargo_migrate(project.path(), &all);
        redacted(&output, &[(&db.url, "[URL]"), (&db.name, "[DB]")])
    };
    let first = run(&["upgrade"]);
    // MySQL committed the two tables before the failure: they stay.
    assert_eq!(db.tables(), ["a", "b", "migrate_versions"]);
    let transcript = [first, run(&["upgrade"]), run(&["resolve", "f1", "--applied"]), run(&["upgrade"])];
    insta::assert_snapshot!(transcript.join("\n"));
    assert_eq!(db.tables(), ["a", "b", "g", "migrate_versions"]);
}

#[test]
fn mysql_offline_script_applied_with_the_mariadb_client_equals_online() {
    let online = TestMysql::create("cli_online");
    let offline = TestMysql::create("cli_offline");
    let project = project();
    let (script, _) = assert_exit(
        &cargo_migrate(project.path(), &["sql", "--dialect", "mysql", "base:head", "--dir", "migrations"]),
        0,
    );
    // The client on the server of MIGRATE_TEST_MYSQL: mysql://USER[:PASSWORD]@HOST[:PORT]/.
    let server = tests::support::mysql_server_url();
    let authority = server.split("://").nth(1).unwrap_or_default().split('/').next().unwrap_or_default();
    let (user, address) = authority.rsplit_once('@').unwrap_or(("root", authority));
    let (user, password) = user.split_once(':').unwrap_or((user, ""));
    let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
    let mut client = std::process::Command::new("mariadb")
        .args(["--batch", "-h", host, "-P", port, "-u", user, &offline.name])
        .env("MYSQL_PWD", password)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the mariadb client is installed");
    std::io::Write::write_all(client.stdin.as_mut().unwrap(), script.as_bytes()).unwrap();
    let applied = client.wait_with_output().unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    assert_exit(&cargo_migrate(project.path(), &["upgrade", "--dir", "migrations", "--database-url", &online.url]), 0);

    let describe = |db: &TestMysql| {
        let mut out = Vec::new();
        for table in db.tables() {
            let created = db.query(&format!("SHOW CREATE TABLE `{table}`"));
            out.push(created[0][1].clone().unwrap());
        }
        out.push(format!(
            "{:?}",
            db.query("SELECT revision, checksum, message, state FROM migrate_versions ORDER BY revision")
        ));
        out.push(format!(
            "{:?}",
            db.query(&format!(
                "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{}'",
                db.name
            ))
        ));
        out
    };
    let theirs = describe(&offline);
    assert_eq!(theirs.len(), 4, "{theirs:?}");
    assert_eq!(describe(&online), theirs);
}

/// A dbmate history written for MySQL: three migrations.
const DBMATE: [(&str, &str); 3] = [
    (
        "20240101000000_users.sql",
        "-- migrate:up\nCREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL);\n\n-- migrate:down\nDROP TABLE users;\n",
    ),
    (
        "20240102000000_users_email.sql",
        "-- migrate:up\nCREATE UNIQUE INDEX users_email ON users (email);\n\n-- migrate:down\nDROP INDEX users_email ON users;\n",
    ),
    (
        "20240103000000_posts.sql",
        "-- migrate:up\nCREATE TABLE posts (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, FOREIGN KEY (user_id) REFERENCES users (id));\n\n-- migrate:down\nDROP TABLE posts;\n",
    ),
];

/// A MariaDB database as dbmate leaves it after its first two migrations
/// (pkg/driver/mysql/mysql.go: `schema_migrations (version varchar(128)
/// primary key)`, a row per migration), and a project with the three
/// imported into `migrations/`.
fn dbmate_half_way(db: &TestMysql) -> tempfile::TempDir {
    for (_, text) in &DBMATE[..2] {
        let up = text.split("-- migrate:down").next().unwrap().replace("-- migrate:up", "");
        db.query(&format!("{}SELECT 1", up.trim()));
    }
    db.query("CREATE TABLE schema_migrations (version VARCHAR(128) PRIMARY KEY); SELECT 1");
    db.query("INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240102000000'); SELECT 1");
    let project = tempfile::tempdir().unwrap();
    let source = project.path().join("db/migrations");
    std::fs::create_dir_all(&source).unwrap();
    for (name, text) in DBMATE {
        std::fs::write(source.join(name), text).unwrap();
    }
    assert_exit(
        &cargo_migrate(project.path(), &["import", "--from", "dbmate", "db/migrations", "--into", "migrations"]),
        0,
    );
    project
}

#[test]
fn mysql_adopt_refuses_a_database_that_differs_from_the_history() {
    let db = TestMysql::create("cli_adopt_drift");
    let project = dbmate_half_way(&db);
    db.query("ALTER TABLE users ADD COLUMN nickname VARCHAR(40); SELECT 1");
    let output =
        cargo_migrate(project.path(), &["adopt", "--from", "dbmate", "--dir", "migrations", "--database-url", &db.url]);
    insta::assert_snapshot!(redacted(&output, &[(&db.url, "[URL]"), (&db.name, "[DB]")]));
    assert!(!db.tables().contains(&"migrate_versions".to_owned()), "nothing recorded");
}

#[test]
fn mysql_adopt_a_database_dbmate_migrated_then_upgrade_continues() {
    let db = TestMysql::create("cli_adopt");
    let project = dbmate_half_way(&db);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--dir", "migrations", "--database-url", &db.url]);
        redacted(&cargo_migrate(project.path(), &all), &[(&db.url, "[URL]"), (&db.name, "[DB]")])
    };
    let transcript = [run(&["adopt", "--from", "dbmate"]), run(&["upgrade"])];
    insta::assert_snapshot!(transcript.join("\n"));
    assert_eq!(db.tables(), ["migrate_versions", "posts", "schema_migrations", "users"]);
    assert_eq!(
        db.query("SELECT COUNT(*) FROM schema_migrations"),
        [[Some("2".to_owned())]],
        "dbmate's table untouched"
    );
}
