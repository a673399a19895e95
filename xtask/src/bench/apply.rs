//! `cargo xtask bench apply`: 1,000 revisions, each creating a table, applied
//! to SQLite and PostgreSQL by cargo-migrate, by the database's own client
//! running the same SQL in one session (the floor), and by Alembic 1.20.1
//! (installed into a virtual environment under target/tools).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{median, timed};
use crate::workspace_root;

const REVISIONS: usize = 1_000;
const RUNS: usize = 5;
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let binary = super::release_binary()?;
    let dir = root.join("target/bench/apply");
    let migrations = dir.join("migrations");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&migrations).map_err(|e| e.to_string())?;
    let mut floor_sql = String::new();
    for i in 0..REVISIONS {
        let parents = if i == 0 { String::new() } else { format!("r{:04}", i - 1) };
        let create = format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);");
        let text = format!(
            "-- revision: r{i:04}\n-- parents: {parents}\n-- message: create table t{i}\n\n-- migrate:up\n{create}\n\n-- migrate:down\nDROP TABLE t{i};\n"
        );
        std::fs::write(migrations.join(format!("r{i:04}.sql")), text).map_err(|e| e.to_string())?;
        floor_sql.push_str(&create);
        floor_sql.push('\n');
    }
    std::fs::write(dir.join("floor.sql"), &floor_sql).map_err(|e| e.to_string())?;
    let alembic = alembic_project(&dir)?;

    let sqlite_file = dir.join("bench.sqlite3");
    let fresh_sqlite = || {
        let _ = std::fs::remove_file(&sqlite_file);
    };
    let ours = |url: &str| -> Result<Duration, String> {
        timed(
            Command::new(&binary)
                .args(["migrate", "upgrade", "-q", "--dir"])
                .arg(&migrations)
                .args(["--database-url", url]),
        )
    };

    eprintln!("\nSQLite");
    let sqlite_url = format!("sqlite:{}", sqlite_file.display());
    let sqlite_floor = median(RUNS, || {
        fresh_sqlite();
        timed(Command::new("sqlite3").arg(&sqlite_file).stdin(file(&dir.join("floor.sql"))?))
    })?;
    let sqlite_ours = median(RUNS, || {
        fresh_sqlite();
        ours(&sqlite_url)
    })?;
    let sqlite_alembic = match &alembic {
        Some(python) => Some(median(RUNS, || {
            fresh_sqlite();
            timed(&mut alembic_upgrade(python, &dir, &format!("sqlite:///{}", sqlite_file.display()), true))
        })?),
        None => None,
    };

    eprintln!("PostgreSQL");
    let fresh_pg = || -> Result<String, String> {
        let admin = format!("{SERVER}/postgres");
        for sql in ["DROP DATABASE IF EXISTS cm_bench_apply WITH (FORCE)", "CREATE DATABASE cm_bench_apply"] {
            let status =
                Command::new("psql").args(["-X", "-q", "-d", &admin, "-c", sql]).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("psql could not run `{sql}`: is PostgreSQL running on 127.0.0.1:5432?"));
            }
        }
        Ok(format!("{SERVER}/cm_bench_apply"))
    };
    let pg_floor = median(RUNS, || {
        let url = fresh_pg()?;
        timed(
            Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"])
                .arg(dir.join("floor.sql")),
        )
    })?;
    let pg_ours = median(RUNS, || ours(&fresh_pg()?))?;
    // The same statements cargo-migrate sends (each revision in a transaction
    // with its version-table row), run by the database's own client: what
    // recording state costs, apart from cargo-migrate itself.
    let script_of = |dialect: &str, name: &str| -> Result<PathBuf, String> {
        let output = Command::new(&binary)
            .args(["migrate", "sql", "--dialect", dialect, "--dir"])
            .arg(&migrations)
            .output()
            .map_err(|e| e.to_string())?;
        let path = dir.join(name);
        std::fs::write(&path, &output.stdout).map_err(|e| e.to_string())?;
        Ok(path)
    };
    let pg_script_file = script_of("postgres", "script-postgres.sql")?;
    let pg_script = median(RUNS, || {
        let url = fresh_pg()?;
        timed(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"]).arg(&pg_script_file))
    })?;
    let sqlite_script_file = script_of("sqlite", "script-sqlite.sql")?;
    let sqlite_script = median(RUNS, || {
        fresh_sqlite();
        timed(Command::new("sqlite3").arg(&sqlite_file).stdin(file(&sqlite_script_file)?))
    })?;
    let pg_alembic = match &alembic {
        Some(python) => Some(median(RUNS, || {
            let url = fresh_pg()?.replace("postgres://", "postgresql+psycopg2://");
            timed(&mut alembic_upgrade(python, &dir, &url, true))
        })?),
        None => None,
    };

    // The whole run in one transaction: Alembic's default, `--transaction all`,
    // and the DDL in one transaction as the floor.
    eprintln!("one transaction");
    let one_txn_floor = dir.join("floor-one-transaction.sql");
    std::fs::write(&one_txn_floor, format!("BEGIN;\n{floor_sql}COMMIT;\n")).map_err(|e| e.to_string())?;
    let ours_all = |url: &str| -> Result<Duration, String> {
        timed(
            Command::new(&binary)
                .args(["migrate", "upgrade", "-q", "--transaction", "all", "--dir"])
                .arg(&migrations)
                .args(["--database-url", url]),
        )
    };
    let sqlite_floor_1 = median(RUNS, || {
        fresh_sqlite();
        timed(Command::new("sqlite3").arg(&sqlite_file).stdin(file(&one_txn_floor)?))
    })?;
    let sqlite_ours_1 = median(RUNS, || {
        fresh_sqlite();
        ours_all(&sqlite_url)
    })?;
    let sqlite_alembic_1 = match &alembic {
        Some(python) => Some(median(RUNS, || {
            fresh_sqlite();
            timed(&mut alembic_upgrade(python, &dir, &format!("sqlite:///{}", sqlite_file.display()), false))
        })?),
        None => None,
    };
    let pg_floor_1 = median(RUNS, || {
        let url = fresh_pg()?;
        timed(Command::new("psql").args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-f"]).arg(&one_txn_floor))
    })?;
    let pg_ours_1 = median(RUNS, || ours_all(&fresh_pg()?))?;
    let pg_alembic_1 = match &alembic {
        Some(python) => Some(median(RUNS, || {
            let url = fresh_pg()?.replace("postgres://", "postgresql+psycopg2://");
            timed(&mut alembic_upgrade(python, &dir, &url, false))
        })?),
        None => None,
    };
    let _ = fresh_pg();

    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let ratio = |a: Duration, b: Duration| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64());
    println!("Each revision in its own transaction (the default):");
    println!();
    println!(
        "| database | floor: the DDL alone, one session | client running cargo-migrate's own script | cargo-migrate | × floor | × own script | Alembic 1.20.1 | Alembic ÷ cargo-migrate |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, floor, script, ours, alembic) in [
        ("SQLite", sqlite_floor, sqlite_script, sqlite_ours, sqlite_alembic),
        ("PostgreSQL", pg_floor, pg_script, pg_ours, pg_alembic),
    ] {
        let (alembic_time, speedup) = match alembic {
            Some(a) => (secs(a), ratio(a, ours)),
            None => ("not installed".into(), "-".into()),
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {alembic_time} | {speedup} |",
            secs(floor),
            secs(script),
            secs(ours),
            ratio(ours, floor),
            ratio(ours, script)
        );
    }
    println!();
    println!("Whole run in one transaction (`--transaction all`; Alembic's default):");
    println!();
    println!(
        "| database | floor: the DDL in one transaction | cargo-migrate `--transaction all` | × floor | Alembic 1.20.1 (default) | Alembic ÷ cargo-migrate |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, floor, ours, alembic) in [
        ("SQLite", sqlite_floor_1, sqlite_ours_1, sqlite_alembic_1),
        ("PostgreSQL", pg_floor_1, pg_ours_1, pg_alembic_1),
    ] {
        let (alembic_time, speedup) = match alembic {
            Some(a) => (secs(a), ratio(a, ours)),
            None => ("not installed".into(), "-".into()),
        };
        println!("| {name} | {} | {} | {} | {alembic_time} | {speedup} |", secs(floor), secs(ours), ratio(ours, floor));
    }
    Ok(())
}

fn file(path: &Path) -> Result<Stdio, String> {
    std::fs::File::open(path).map(Stdio::from).map_err(|e| e.to_string())
}

/// `alembic upgrade head`; `per_migration` chooses Alembic's
/// `transaction_per_migration` (its default is one transaction for the run).
fn alembic_upgrade(python: &Path, dir: &Path, url: &str, per_migration: bool) -> Command {
    let mut command = Command::new(python);
    command.args(["-m", "alembic", "-c"]).arg(dir.join("alembic.ini")).args([
        "-x",
        &format!("url={url}"),
        "-x",
        &format!("per_migration={}", u8::from(per_migration)),
        "upgrade",
        "head",
    ]);
    command
}

/// An Alembic project with the same 1,000 revisions, one transaction per
/// migration as cargo-migrate does. `None` when Alembic cannot be installed.
fn alembic_project(dir: &Path) -> Result<Option<PathBuf>, String> {
    let venv = workspace_root().join("target/tools/alembic-venv");
    let python = venv.join("bin/python");
    let have = |module: &str| {
        Command::new(&python).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success())
    };
    if !have("alembic") || !have("psycopg2") {
        let _ = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "alembic==1.20.1", "psycopg2-binary"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!("warning: could not install Alembic; its column is left out");
            return Ok(None);
        }
    }
    let script = dir.join("alembic");
    std::fs::create_dir_all(script.join("versions")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("alembic.ini"),
        format!("[alembic]\nscript_location = {}\n\n[loggers]\nkeys = root\n[handlers]\nkeys =\n[formatters]\nkeys =\n[logger_root]\nlevel = WARN\nhandlers =\n", script.display()),
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(script.join("script.py.mako"), "").map_err(|e| e.to_string())?;
    std::fs::write(
        script.join("env.py"),
        "from alembic import context\nfrom sqlalchemy import create_engine, pool\n\n\
         args = context.get_x_argument(as_dictionary=True)\n\
         url = args['url']\n\
         per_migration = args.get('per_migration') == '1'\n\
         engine = create_engine(url, poolclass=pool.NullPool)\n\
         with engine.connect() as connection:\n    \
         context.configure(connection=connection, target_metadata=None, transaction_per_migration=per_migration)\n    \
         with context.begin_transaction():\n        context.run_migrations()\n",
    )
    .map_err(|e| e.to_string())?;
    for i in 0..REVISIONS {
        let down = if i == 0 { "None".to_owned() } else { format!("'r{:04}'", i - 1) };
        let text = format!(
            "from alembic import op\n\nrevision = 'r{i:04}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\
             def upgrade():\n    op.execute(\"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)\")\n\n\
             def downgrade():\n    op.execute(\"DROP TABLE t{i}\")\n"
        );
        std::fs::write(script.join("versions").join(format!("r{i:04}.py")), text).map_err(|e| e.to_string())?;
    }
    Ok(Some(python))
}
