//! `cargo xtask bench autogenerate`: `cargo migrate new --autogenerate`
//! (release build) from an empty history, against three models files, next
//! to the database's own client loading the same SQL (the floor):
//!
//! - `tests/fixtures/autogenerate/forum.sql`, the 86-table forum-and-shop
//!   fixture of the autogenerate tests (PostgreSQL only: extensions, domains,
//!   functions, triggers, views, partitions);
//! - 200 and 1,000 generated tables (columns of several types, defaults, a
//!   foreign key to the table before, a check and an index per table), on
//!   SQLite (scratch databases in memory) and PostgreSQL (scratch databases
//!   on the local server).
//!
//! Every contender runs once per round, interleaved; the bench checks that
//! each revision creates every table of its models before timing anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Contender, SERVER, Times, interleaved, psql_admin};
use crate::workspace_root;

const ROUNDS: usize = 5;
const FLOOR_DB: &str = "cm_bench_autogenerate";

/// One models file and where it runs.
struct Case {
    /// The row's label.
    label: String,
    /// A directory name under target/bench/autogenerate.
    slug: String,
    sql: String,
    tables: usize,
    sqlite: bool,
}

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let binary = super::release_binary()?;
    let base = root.join("target/bench/autogenerate");
    let _ = std::fs::remove_dir_all(&base);
    let forum_path = root.join("tests/fixtures/autogenerate/forum.sql");
    let forum = std::fs::read_to_string(&forum_path).map_err(|e| format!("{}: {e}", forum_path.display()))?;
    let cases = [
        Case {
            label: "forum.sql (tests/fixtures/autogenerate)".into(),
            slug: "forum".into(),
            tables: created_tables(&forum),
            sql: forum,
            sqlite: false,
        },
        generated(200),
        generated(1000),
    ];

    let mut rows = Vec::new();
    for case in &cases {
        let dir = base.join(&case.slug);
        project(&dir, &case.sql)?;
        let schema = dir.join("schema.sql");
        let mut dialects = vec![("PostgreSQL", Some(format!("{SERVER}/postgres")))];
        if case.sqlite {
            dialects.insert(0, ("SQLite", None));
        }
        for (dialect, dev_url) in dialects {
            eprintln!("{} tables, {dialect}: {}", case.tables, case.label);
            let autogenerate = || -> Result<Command, String> {
                clear_revisions(&dir)?;
                let mut command = Command::new(&binary);
                command
                    .args(["migrate", "new", "--autogenerate", "-q", "bench", "--rev-id", "bench"])
                    .current_dir(&dir)
                    .env_remove("DATABASE_URL");
                if let Some(url) = &dev_url {
                    command.args(["--dev-url", url]);
                }
                Ok(command)
            };
            // Checked once, untimed: the revision creates every table.
            super::timed(&mut autogenerate()?)?;
            let written = created_tables(&revision_text(&dir)?);
            if written != case.tables {
                return Err(format!(
                    "{}: the revision creates {written} tables, the models {}",
                    case.label, case.tables
                ));
            }
            let floor = || -> Result<Command, String> {
                if dev_url.is_some() {
                    psql_admin(&format!("DROP DATABASE IF EXISTS {FLOOR_DB} WITH (FORCE)"))?;
                    psql_admin(&format!("CREATE DATABASE {FLOOR_DB}"))?;
                    let mut command = Command::new("psql");
                    command
                        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &format!("{SERVER}/{FLOOR_DB}"), "-f"])
                        .arg(&schema);
                    Ok(command)
                } else {
                    let mut command = Command::new("sqlite3");
                    command.args(["-bail", ":memory:"]).stdin(file(&schema)?);
                    Ok(command)
                }
            };
            let floor_name = if dev_url.is_some() { "psql -f schema.sql" } else { "sqlite3 :memory: < schema.sql" };
            let mut contenders =
                [Contender::new("new --autogenerate", autogenerate), Contender::new(floor_name, floor)];
            let results = interleaved(ROUNDS, &mut contenders)?;
            rows.push((
                case,
                dialect,
                results.of("new --autogenerate").clone(),
                floor_name,
                results.of(floor_name).clone(),
            ));
        }
    }
    psql_admin(&format!("DROP DATABASE IF EXISTS {FLOOR_DB} WITH (FORCE)"))?;

    println!(
        "\n`cargo-migrate migrate new --autogenerate` from an empty history, next to the floor; median [min–max] of {ROUNDS} interleaved rounds:\n"
    );
    println!("| models | tables | database | `new --autogenerate` | floor: the client loading schema.sql | × floor |");
    println!("|---|---:|---|---:|---:|---:|");
    for (case, dialect, ours, floor_name, floor) in &rows {
        let show = |t: &Times| if t.median().as_secs() >= 1 { t.secs() } else { t.millis() };
        println!(
            "| {} | {} | {dialect} | {} | {} (`{floor_name}`) | {:.1} |",
            case.label,
            case.tables,
            show(ours),
            show(floor),
            ours.ratio(floor)
        );
    }
    Ok(())
}

/// `n` tables, each with an integer key, a `VARCHAR`, a defaulted and
/// checked integer, a defaulted timestamp, a foreign key to the table
/// before and an index: SQL that SQLite and PostgreSQL both take.
fn generated(n: usize) -> Case {
    let mut sql = String::new();
    for i in 0..n {
        let parent = if i == 0 {
            String::new()
        } else {
            format!(",\n    parent_id INTEGER REFERENCES t{} (id) ON DELETE CASCADE", i - 1)
        };
        sql.push_str(&format!(
            "CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(100) NOT NULL,\n    score INTEGER NOT NULL DEFAULT 0 CHECK (score >= 0),\n    \
             created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP{parent}\n);\nCREATE INDEX ix_t{i}_name ON t{i} (name);\n"
        ));
    }
    Case {
        label: format!("{n} generated tables, each with a foreign key, a check, a default and an index"),
        slug: format!("generated_{n}"),
        sql,
        tables: n,
        sqlite: true,
    }
}

/// Statements that create a table (`CREATE TABLE`, `CREATE UNLOGGED TABLE`,
/// a partition), each starting a line.
fn created_tables(sql: &str) -> usize {
    sql.lines()
        .filter(|l| {
            let l = l.trim_start().to_ascii_uppercase();
            l.starts_with("CREATE TABLE ") || l.starts_with("CREATE UNLOGGED TABLE ")
        })
        .count()
}

/// A package of its own, so that its schema.sql and migrations/ are the project's.
fn project(dir: &Path, models: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("migrations")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"autogenerate_bench\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("schema.sql"), models).map_err(|e| e.to_string())
}

fn revisions(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir.join("migrations")).map_err(|e| e.to_string())?;
    Ok(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect())
}

fn clear_revisions(dir: &Path) -> Result<(), String> {
    for path in revisions(dir)? {
        std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn revision_text(dir: &Path) -> Result<String, String> {
    match revisions(dir)?.as_slice() {
        [one] => std::fs::read_to_string(one).map_err(|e| e.to_string()),
        other => Err(format!("expected one revision in {}, found {}", dir.display(), other.len())),
    }
}

fn file(path: &Path) -> Result<Stdio, String> {
    std::fs::File::open(path).map(Stdio::from).map_err(|e| format!("{}: {e}", path.display()))
}
