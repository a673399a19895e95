//! Fleets and environments: `--schemas` over 200 PostgreSQL schemas and
//! `--targets` over 50 SQLite files, each with two targets made to fail;
//! the canary, `--fail-fast`, a bad targets file; `--env` and `status
//! --all-envs`.

use std::path::Path;
use std::process::{Command, Output};

use tests::support::{TestDatabase, revision};

use crate::{assert_exit, redact_times, transcript};

/// A project with three revisions that PostgreSQL and SQLite both run, and
/// the environments `staging` and `production` (with its own version table).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "[package]\nname = \"fleet\"\nversion = \"0.1.0\"\n\n\
                    [package.metadata.migrate.environments.staging]\nurl-env = \"STAGING_DATABASE_URL\"\n\n\
                    [package.metadata.migrate.environments.production]\nurl-env = \"PRODUCTION_DATABASE_URL\"\n\
                    version-table = \"prod_versions\"\nlock-timeout = \"30s\"\n";
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    let revisions = [
        ("a1", "", "CREATE TABLE accounts (id INTEGER PRIMARY KEY);"),
        ("b2", "a1", "ALTER TABLE accounts ADD COLUMN name TEXT;"),
        ("c3", "b2", "CREATE INDEX accounts_name ON accounts (name);"),
    ];
    for (id, parent, up) in revisions {
        std::fs::write(migrations.join(format!("{id}.sql")), revision(id, parent, up)).unwrap();
    }
    let output = run(dir.path(), &["lock"], &[]);
    assert_exit(&output, 0);
    dir
}

/// `cargo-migrate migrate ARGS` in `dir` with the environment variables `vars`.
fn run(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cargo-migrate"))
        .arg("migrate")
        .args(args)
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("DATABASE_URL")
        .env_remove("STAGING_DATABASE_URL")
        .env_remove("PRODUCTION_DATABASE_URL")
        .env_remove("GITHUB_STEP_SUMMARY")
        .envs(vars.iter().copied())
        .output()
        .expect("run cargo-migrate")
}

/// The report of `total` targets with its times and column padding (which
/// follows the widest time) evened out, and the progress lines, which come
/// in the order the targets finish, checked and left out: `[k/total]` once
/// for each of the `ran` targets.
fn report(output: &Output, (total, ran): (usize, usize), replacements: &[(&str, &str)]) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut seen: Vec<usize> = stderr
        .lines()
        .filter_map(|line| line.strip_suffix(&format!("/{total}]")))
        .filter_map(|line| line.rsplit_once('[').and_then(|(_, k)| k.parse().ok()))
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=ran).collect::<Vec<_>>(), "one progress line per target that ran:\n{stderr}");
    let mut text = transcript(output);
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    let text = redact_times(&text);
    text.lines()
        .filter(|line| !line.ends_with(&format!("/{total}]")))
        .map(|line| {
            // Runs of two spaces or more (column padding) become two.
            let mut even = String::new();
            for part in line.split(' ') {
                match (part.is_empty(), even.ends_with("  ")) {
                    (true, true) => {}
                    (true, false) => even.push(' '),
                    (false, _) => {
                        even.push_str(part);
                        even.push(' ');
                    }
                }
            }
            even.trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn postgres_200_schemas_two_failing() {
    let db = TestDatabase::create("fleet_schemas");
    let project = project();
    let schemas: Vec<String> = (1..=200).map(|n| format!("tenant_{n:03}")).collect();
    // Two tenants already have a table the first revision creates.
    db.query(
        "CREATE SCHEMA tenant_007; CREATE TABLE tenant_007.accounts (id INT); \
              CREATE SCHEMA tenant_123; CREATE TABLE tenant_123.accounts (id INT); SELECT 1",
    );
    let list = schemas.join(",");
    let args = ["upgrade", "--database-url", &db.url, "--schemas", &list, "--jobs", "8"];
    let output = run(project.path(), &args, &[]);
    assert_exit(&output, 101);
    insta::assert_snapshot!(report(&output, (200, 200), &[(&db.url, "[URL]")]));
    // Everyone else is at the head, each in its own schema with its own version table.
    let rows = db.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'migrate_versions' \
         AND table_schema LIKE 'tenant_%'",
    );
    assert_eq!(rows, [[Some("200".to_owned())]]);
    let at_head: usize = schemas
        .iter()
        .filter(|schema| {
            let sql = format!("SELECT count(*) FROM \"{schema}\".migrate_versions WHERE state = 'applied'");
            db.query(&sql) == [[Some("3".to_owned())]]
        })
        .count();
    assert_eq!(at_head, 198);
    let status = run(project.path(), &["check", "--database-url", &db.url, "--schemas", &list], &[]);
    assert_exit(&status, 1);
}

#[test]
fn sqlite_50_files_two_failing() {
    let project = project();
    let files: Vec<String> = (1..=50).map(|n| format!("sqlite:db/shard_{n:02}.sqlite3")).collect();
    std::fs::create_dir(project.path().join("db")).unwrap();
    for n in [13, 42] {
        let path = project.path().join(format!("db/shard_{n:02}.sqlite3"));
        let seeded = migrate_runtime::rusqlite::Connection::open(path).unwrap();
        seeded.execute_batch("CREATE TABLE accounts (id INTEGER)").unwrap();
    }
    std::fs::write(project.path().join("targets.txt"), format!("# the shards\n{}\n", files.join("\n"))).unwrap();
    let output = run(project.path(), &["upgrade", "--targets", "targets.txt", "--jobs", "4"], &[]);
    assert_exit(&output, 101);
    insta::assert_snapshot!(report(&output, (50, 50), &[]));
    let status = run(project.path(), &["status", "--targets", "targets.txt"], &[]);
    assert_exit(&status, 0);
    insta::assert_snapshot!("sqlite_50_files_status", report(&status, (50, 50), &[]));
}

/// Three SQLite targets, the second made to fail.
fn three_targets(project: &Path) {
    let toml = "[[target]]\nname = \"eu\"\nurl = \"sqlite:eu.sqlite3\"\n\n\
                [[target]]\nname = \"us\"\nurl = \"sqlite:us.sqlite3\"\n\n\
                [[target]]\nname = \"apac\"\nurl = \"sqlite:apac.sqlite3\"\n";
    std::fs::write(project.join("targets.toml"), toml).unwrap();
    let seeded = migrate_runtime::rusqlite::Connection::open(project.join("us.sqlite3")).unwrap();
    seeded.execute_batch("CREATE TABLE accounts (id INTEGER)").unwrap();
}

#[test]
fn a_failing_canary_stops_the_others() {
    let project = project();
    three_targets(project.path());
    let output = run(project.path(), &["upgrade", "--targets", "targets.toml", "--canary", "us"], &[]);
    assert_exit(&output, 101);
    insta::assert_snapshot!(report(&output, (3, 1), &[]));
    assert!(!project.path().join("eu.sqlite3").exists(), "nothing ran after the canary");
}

#[test]
fn fail_fast_starts_nothing_after_a_failure() {
    let project = project();
    three_targets(project.path());
    let args = ["upgrade", "--targets", "targets.toml", "--jobs", "1", "--fail-fast"];
    let output = run(project.path(), &args, &[]);
    assert_exit(&output, 101);
    insta::assert_snapshot!(report(&output, (3, 2), &[]));
}

#[test]
fn a_bad_targets_file_names_every_line() {
    let project = project();
    let toml = "[[target]]\nname = \"a\"\nurl = \"sqlite:a.sqlite3\"\n\n\
                [[target]]\nname = \"b\"\nurl = \"postgres://app:s3cret@db:port/app\"\n\n\
                [[target]]\nnme = \"c\"\nurl-env = \"C_URL\"\n\n\
                [[target]]\nname = \"a\"\nurl-env = \"A_URL\"\nurl = \"sqlite:x\"\n";
    std::fs::write(project.path().join("targets.toml"), toml).unwrap();
    let output = run(project.path(), &["upgrade", "--targets", "targets.toml"], &[]);
    assert_exit(&output, 2);
    assert!(!transcript(&output).contains("s3cret"), "no password printed");
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn jobs_without_targets_is_refused() {
    let project = project();
    let output = run(project.path(), &["upgrade", "--jobs", "4"], &[]);
    assert_exit(&output, 2);
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn env_uses_the_environments_variable_and_version_table() {
    let project = project();
    let url = format!("sqlite:{}", project.path().join("prod.sqlite3").display());
    let output = run(project.path(), &["upgrade", "--env", "production"], &[("PRODUCTION_DATABASE_URL", &url)]);
    assert_exit(&output, 0);
    let db = migrate_runtime::rusqlite::Connection::open(project.path().join("prod.sqlite3")).unwrap();
    let applied: i64 = db.query_row("SELECT count(*) FROM prod_versions", [], |row| row.get(0)).unwrap();
    assert_eq!(applied, 3, "recorded in the environment's version table");
    insta::assert_snapshot!(redact_times(&transcript(&output)).replace(&url, "[URL]"));
}

#[test]
fn env_whose_variable_is_unset_is_refused_not_defaulted() {
    let project = project();
    let output = run(project.path(), &["upgrade", "--env", "staging"], &[]);
    assert_exit(&output, 2);
    assert!(!project.path().join("target").exists(), "no SQLite default was created");
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn an_unknown_env_names_the_known_ones() {
    let project = project();
    let output = run(project.path(), &["status", "--env", "prod"], &[]);
    assert_exit(&output, 2);
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn status_all_envs_one_row_per_environment_and_a_job_summary() {
    let project = project();
    let staging = format!("sqlite:{}", project.path().join("staging.sqlite3").display());
    let upgrade = run(project.path(), &["upgrade", "b2", "--database-url", &staging], &[]);
    assert_exit(&upgrade, 0);
    let summary = project.path().join("summary.md");
    let output = run(
        project.path(),
        &["status", "--all-envs"],
        &[("STAGING_DATABASE_URL", &staging), ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    // Production is not reachable (its variable is unset): exit 3.
    assert_exit(&output, 3);
    let dir = project.path().display().to_string();
    insta::assert_snapshot!(report(&output, (2, 2), &[(&dir, "[DIR]")]));
    insta::assert_snapshot!(
        "status_all_envs_summary",
        std::fs::read_to_string(&summary).unwrap().replace(&dir, "[DIR]")
    );
}

#[test]
fn postgres_downgrade_and_check_over_schemas() {
    let db = TestDatabase::create("fleet_down");
    let project = project();
    let list = "alpha,beta,gamma";
    let upgrade = run(project.path(), &["upgrade", "--database-url", &db.url, "--schemas", list], &[]);
    assert_exit(&upgrade, 0);
    let check = run(project.path(), &["check", "--database-url", &db.url, "--schemas", list, "--jobs", "1"], &[]);
    assert_exit(&check, 0);
    let args = ["downgrade", "a1", "--database-url", &db.url, "--schemas", list, "--jobs", "1"];
    let output = run(project.path(), &args, &[]);
    assert_exit(&output, 0);
    let check_after = run(project.path(), &["check", "--database-url", &db.url, "--schemas", list, "--jobs", "1"], &[]);
    assert_exit(&check_after, 1);
    insta::assert_snapshot!(format!(
        "=== check\n{}\n=== downgrade a1\n{}\n=== check\n{}",
        redact_times(&transcript(&check)),
        report(&output, (3, 3), &[]),
        redact_times(&transcript(&check_after))
    ));
    for schema in ["alpha", "beta", "gamma"] {
        let rows = db.query(&format!("SELECT revision FROM \"{schema}\".migrate_versions ORDER BY revision"));
        assert_eq!(rows, [[Some("a1".to_owned())]], "{schema} is at a1 in its own version table");
    }
}

#[test]
fn env_lock_timeout_bounds_the_wait() {
    let db = TestDatabase::create("fleet_env_lock");
    let (dir, mut holder) = crate::hardening::holding_the_lock(&db, 20);
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n\
                    [package.metadata.migrate.environments.production]\n\
                    url-env = \"PRODUCTION_DATABASE_URL\"\nlock-timeout = \"1s\"\n";
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    let output = run(dir.path(), &["upgrade", "--env", "production"], &[("PRODUCTION_DATABASE_URL", &db.url)]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let (_, stderr) = assert_exit(&output, 4);
    assert!(stderr.contains("the migration lock was not free within 1 s"), "{stderr}");
}

#[test]
fn status_refuses_a_canary() {
    let project = project();
    three_targets(project.path());
    let output = run(project.path(), &["status", "--targets", "targets.toml", "--canary", "us"], &[]);
    assert_exit(&output, 2);
    insta::assert_snapshot!(transcript(&output));
}
