//! `cargo xtask bench apply [--peers]`: 1,000 revisions, each creating a
//! table, applied to SQLite and PostgreSQL by cargo-migrate, by the
//! database's own client running the same SQL in one session (the floor),
//! and by Alembic 1.20.1 (installed into a virtual environment under
//! target/tools); with `--peers`, also by sqlx-cli (installed into
//! target/tools). Then the no-op: an up-to-date `upgrade` over TLS and
//! without, next to `psql -c 'select 1'` over the same URL. Every table's
//! commands run side by side, round by round.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Contender, SERVER, Times, drop_database, interleaved, psql_admin};
use crate::tools::{SQLX_VERSION, alembic_python, sqlx_cli};
use crate::workspace_root;

const REVISIONS: usize = 1_000;
const ROUNDS: usize = 5;
const NOOP_ROUNDS: usize = 21;
const USAGE: &str = "cargo xtask bench apply [--peers] [--baseline BINARY]";

pub fn run(args: &[&str]) -> Result<(), String> {
    let (mut peers, mut baseline) = (false, None);
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "--peers" => peers = true,
            "--baseline" if i + 1 < args.len() => {
                baseline = Some(PathBuf::from(args[i + 1]));
                i += 1;
            }
            _ => return Err(format!("unknown arguments `{}`; usage: {USAGE}", args.join(" "))),
        }
        i += 1;
    }
    let root = workspace_root();
    let binary = super::release_binary()?;
    let sqlx = if peers { Some(sqlx_cli(&root)?) } else { None };
    let dir = root.join("target/bench/apply");
    let migrations = dir.join("migrations");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&migrations).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("sqlx")).map_err(|e| e.to_string())?;
    let mut floor_sql = String::new();
    for i in 0..REVISIONS {
        let parents = if i == 0 { String::new() } else { format!("r{:04}", i - 1) };
        let create = format!("CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);");
        let text = format!(
            "-- revision: r{i:04}\n-- parents: {parents}\n-- message: create table t{i}\n\n-- migrate:up\n{create}\n\n-- migrate:down\nDROP TABLE t{i};\n"
        );
        std::fs::write(migrations.join(format!("r{i:04}.sql")), text).map_err(|e| e.to_string())?;
        // sqlx's layout: <version>_<description>.sql, applied in version order.
        std::fs::write(dir.join(format!("sqlx/{:04}_create_table_t{i}.sql", i + 1)), format!("{create}\n"))
            .map_err(|e| e.to_string())?;
        floor_sql.push_str(&create);
        floor_sql.push('\n');
    }
    std::fs::write(dir.join("floor.sql"), &floor_sql).map_err(|e| e.to_string())?;
    let one_txn_floor = dir.join("floor-one-transaction.sql");
    std::fs::write(&one_txn_floor, format!("BEGIN;\n{floor_sql}COMMIT;\n")).map_err(|e| e.to_string())?;
    let alembic = alembic_project(&dir)?;
    // The same statements cargo-migrate sends (each revision in a transaction
    // with its version-table row), run by the database's own client: what
    // recording state costs, apart from cargo-migrate itself.
    let script_of = |dialect: &str| -> Result<PathBuf, String> {
        let output = Command::new(&binary)
            .args(["migrate", "sql", "--dialect", dialect, "--dir"])
            .arg(&migrations)
            .output()
            .map_err(|e| e.to_string())?;
        let path = dir.join(format!("script-{dialect}.sql"));
        std::fs::write(&path, &output.stdout).map_err(|e| e.to_string())?;
        Ok(path)
    };
    let pg_script = script_of("postgres")?;
    let sqlite_script = script_of("sqlite")?;

    let sqlite_file = dir.join("bench.sqlite3");
    let sqlite_url = format!("sqlite:{}", sqlite_file.display());
    let fresh_sqlite = || {
        let _ = std::fs::remove_file(&sqlite_file);
        let _ = std::fs::remove_file(dir.join("bench.sqlite3-migrate.lock"));
    };
    let ours_with = |binary: &Path, url: &str, all: bool| {
        let mut command = Command::new(binary);
        command.args(["migrate", "upgrade", "-q"]);
        if all {
            command.args(["--transaction", "all"]);
        }
        command.arg("--dir").arg(&migrations).args(["--database-url", url]);
        command
    };
    let ours = |url: &str, all: bool| ours_with(&binary, url, all);
    let sqlite3 = |input: &Path| -> Result<Command, String> {
        let mut command = Command::new("sqlite3");
        command.arg(&sqlite_file).stdin(file(input)?);
        Ok(command)
    };
    let psql = |url: &str, input: &Path| {
        let mut command = Command::new("psql");
        command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"]).arg(input);
        command
    };
    let alembic_sqlite = format!("sqlite:///{}", sqlite_file.display());

    eprintln!("\nSQLite, each revision in its own transaction");
    let mut contenders = vec![
        Contender::new("sqlite3 floor", || {
            fresh_sqlite();
            sqlite3(&dir.join("floor.sql"))
        }),
        Contender::new("sqlite3 own script", || {
            fresh_sqlite();
            sqlite3(&sqlite_script)
        }),
        Contender::new("cargo-migrate", || {
            fresh_sqlite();
            Ok(ours(&sqlite_url, false))
        }),
    ];
    if let Some(python) = &alembic {
        contenders.push(Contender::new("Alembic", || {
            fresh_sqlite();
            Ok(alembic_upgrade(python, &dir, &alembic_sqlite, true))
        }));
    }
    if let Some(baseline) = baseline.as_deref() {
        contenders.push(Contender::new("baseline", || {
            fresh_sqlite();
            Ok(ours_with(baseline, &sqlite_url, false))
        }));
    }
    let sqlite = interleaved(ROUNDS, &mut contenders)?;

    eprintln!("PostgreSQL, each revision in its own transaction");
    let mut contenders = vec![
        Contender::new("psql floor", || Ok(psql(&fresh_pg()?, &dir.join("floor.sql")))),
        Contender::new("psql own script", || Ok(psql(&fresh_pg()?, &pg_script))),
        Contender::new("cargo-migrate", || Ok(ours(&fresh_pg()?, false))),
    ];
    if let Some(python) = &alembic {
        contenders.push(Contender::new("Alembic", || {
            let url = fresh_pg()?.replace("postgres://", "postgresql+psycopg2://");
            Ok(alembic_upgrade(python, &dir, &url, true))
        }));
    }
    if let Some(sqlx) = sqlx.as_deref() {
        let dir = &dir;
        contenders.push(Contender::new("sqlx-cli", move || {
            let mut command = Command::new(sqlx);
            command.current_dir(dir).args(["migrate", "run", "--no-dotenv", "--source", "sqlx", "--database-url"]);
            command.arg(fresh_pg()?);
            Ok(command)
        }));
    }
    if let Some(baseline) = baseline.as_deref() {
        contenders.push(Contender::new("baseline", || Ok(ours_with(baseline, &fresh_pg()?, false))));
    }
    let postgres = interleaved(ROUNDS, &mut contenders)?;

    // The whole run in one transaction: Alembic's default, `--transaction all`,
    // and the DDL in one transaction as the floor.
    eprintln!("one transaction");
    let mut contenders = vec![
        Contender::new("sqlite3 floor, one transaction", || {
            fresh_sqlite();
            sqlite3(&one_txn_floor)
        }),
        Contender::new("cargo-migrate --transaction all, SQLite", || {
            fresh_sqlite();
            Ok(ours(&sqlite_url, true))
        }),
        Contender::new("psql floor, one transaction", || Ok(psql(&fresh_pg()?, &one_txn_floor))),
        Contender::new("cargo-migrate --transaction all, PostgreSQL", || Ok(ours(&fresh_pg()?, true))),
    ];
    if let Some(python) = &alembic {
        contenders.push(Contender::new("Alembic (default), SQLite", || {
            fresh_sqlite();
            Ok(alembic_upgrade(python, &dir, &alembic_sqlite, false))
        }));
        contenders.push(Contender::new("Alembic (default), PostgreSQL", || {
            let url = fresh_pg()?.replace("postgres://", "postgresql+psycopg2://");
            Ok(alembic_upgrade(python, &dir, &url, false))
        }));
    }
    let one = interleaved(ROUNDS, &mut contenders)?;

    eprintln!("up to date (no-op)");
    let example = setup_noop(&binary, "cm_bench_noop_example", &root.join("migrations"))?;
    let thousand = setup_noop(&binary, "cm_bench_noop_1000", &migrations)?;
    let mut contenders = Vec::new();
    for sslmode in ["require", "disable"] {
        let (example, thousand) = (format!("{example}?sslmode={sslmode}"), format!("{thousand}?sslmode={sslmode}"));
        let psql_url = thousand.clone();
        contenders.push(Contender::new(format!("psql -c 'select 1', sslmode={sslmode}"), move || {
            let mut command = Command::new("psql");
            command.args(["-X", "-q", "-d", &psql_url, "-c", "select 1"]);
            Ok(command)
        }));
        let builds = std::iter::once(("", binary.as_path())).chain(baseline.as_deref().map(|b| ("baseline, ", b)));
        for (build, binary) in builds {
            let (root, migrations, example, thousand) = (&root, &migrations, example.clone(), thousand.clone());
            contenders.push(Contender::new(format!("{build}example history, sslmode={sslmode}"), move || {
                // As in a project: the history found through Cargo.toml.
                let mut command = Command::new(binary);
                command.current_dir(root).args(["migrate", "upgrade", "-q", "--database-url", &example]);
                Ok(command)
            }));
            contenders.push(Contender::new(format!("{build}1,000 revisions, sslmode={sslmode}"), move || {
                let mut command = Command::new(binary);
                command.args(["migrate", "upgrade", "-q", "--dir"]).arg(migrations).args(["--database-url", &thousand]);
                Ok(command)
            }));
        }
    }
    let noop = interleaved(NOOP_ROUNDS, &mut contenders)?;
    drop_database("cm_bench_noop_example")?;
    drop_database("cm_bench_noop_1000")?;
    drop_database("cm_bench_apply")?;

    let ratio = |a: &Times, b: &Times| format!("{:.2}", a.ratio(b));
    let missing = |what: &str| format!("{what} not installed");
    println!(
        "Each revision in its own transaction (the default); median [min–max] of {ROUNDS} interleaved rounds, ratios the median of the rounds' ratios:"
    );
    println!();
    println!(
        "| database | floor: the DDL alone, one session | client running cargo-migrate's own script | cargo-migrate | × floor | × own script | Alembic 1.20.1 | Alembic ÷ cargo-migrate | sqlx-cli {SQLX_VERSION} | × floor | sqlx-cli ÷ cargo-migrate |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, times, floor, script) in [
        ("SQLite", &sqlite, "sqlite3 floor", "sqlite3 own script"),
        ("PostgreSQL", &postgres, "psql floor", "psql own script"),
    ] {
        let (floor, script, ours) = (times.of(floor), times.of(script), times.of("cargo-migrate"));
        let (alembic_time, alembic_ratio) = match times.get("Alembic") {
            Some(a) => (a.secs(), ratio(a, ours)),
            None => (missing("Alembic"), "-".into()),
        };
        let (sqlx_time, sqlx_floor, sqlx_ratio) = match times.get("sqlx-cli") {
            Some(x) => (x.secs(), ratio(x, floor), ratio(x, ours)),
            None if peers => ("PostgreSQL only".into(), "-".into(), "-".into()),
            None => ("with `--peers`".into(), "-".into(), "-".into()),
        };
        println!(
            "| {name} | {} | {} | {} | {} | {} | {alembic_time} | {alembic_ratio} | {sqlx_time} | {sqlx_floor} | {sqlx_ratio} |",
            floor.secs(),
            script.secs(),
            ours.secs(),
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
    for name in ["SQLite", "PostgreSQL"] {
        let floor = one.of(&format!("{} floor, one transaction", if name == "SQLite" { "sqlite3" } else { "psql" }));
        let ours = one.of(&format!("cargo-migrate --transaction all, {name}"));
        let (alembic_time, speedup) = match one.get(&format!("Alembic (default), {name}")) {
            Some(a) => (a.secs(), ratio(a, ours)),
            None => (missing("Alembic"), "-".into()),
        };
        println!(
            "| {name} | {} | {} | {} | {alembic_time} | {speedup} |",
            floor.secs(),
            ours.secs(),
            ratio(ours, floor)
        );
    }
    println!();
    println!(
        "Up to date: `cargo-migrate migrate upgrade -q` with nothing to do, next to `psql -X -q -c 'select 1'` on the same URL; median [min–max] of {NOOP_ROUNDS} interleaved rounds:"
    );
    println!();
    println!("| command | sslmode=require | × psql | sslmode=disable | × psql |");
    println!("|---|---:|---:|---:|---:|");
    let mut rows = vec![
        ("psql -c 'select 1'", "psql -c 'select 1'"),
        ("cargo-migrate, the example history (7 revisions)", "example history"),
        ("cargo-migrate, 1,000 revisions", "1,000 revisions"),
    ];
    if baseline.is_some() {
        rows.push(("baseline, the example history", "baseline, example history"));
        rows.push(("baseline, 1,000 revisions", "baseline, 1,000 revisions"));
    }
    for (label, name) in rows {
        let of = |sslmode: &str| noop.of(&format!("{name}, sslmode={sslmode}"));
        let psql = |sslmode: &str| noop.of(&format!("psql -c 'select 1', sslmode={sslmode}"));
        let (tls, plain) = (of("require"), of("disable"));
        println!(
            "| {label} | {} | {} | {} | {} |",
            tls.millis(),
            ratio(tls, psql("require")),
            plain.millis(),
            ratio(plain, psql("disable"))
        );
    }
    if let Some(path) = &baseline {
        println!();
        println!("This build against the baseline `{}`, in the same rounds:", path.display());
        println!();
        println!("| run | baseline | this build | × baseline |");
        println!("|---|---:|---:|---:|");
        for (label, results, ours, theirs) in [
            ("SQLite, 1,000 revisions", &sqlite, "cargo-migrate", "baseline"),
            ("PostgreSQL, 1,000 revisions", &postgres, "cargo-migrate", "baseline"),
            (
                "up to date, example history, sslmode=require",
                &noop,
                "example history, sslmode=require",
                "baseline, example history, sslmode=require",
            ),
            (
                "up to date, 1,000 revisions, sslmode=require",
                &noop,
                "1,000 revisions, sslmode=require",
                "baseline, 1,000 revisions, sslmode=require",
            ),
            (
                "up to date, example history, sslmode=disable",
                &noop,
                "example history, sslmode=disable",
                "baseline, example history, sslmode=disable",
            ),
            (
                "up to date, 1,000 revisions, sslmode=disable",
                &noop,
                "1,000 revisions, sslmode=disable",
                "baseline, 1,000 revisions, sslmode=disable",
            ),
        ] {
            let (ours, theirs) = (results.of(ours), results.of(theirs));
            let show = |t: &Times| if t.median().as_secs() >= 1 { t.secs() } else { t.millis() };
            println!("| {label} | {} | {} | {} |", show(theirs), show(ours), ratio(ours, theirs));
        }
    }
    Ok(())
}

/// A fresh, empty `cm_bench_apply`; its URL.
fn fresh_pg() -> Result<String, String> {
    drop_database("cm_bench_apply")?;
    psql_admin("CREATE DATABASE cm_bench_apply")?;
    Ok(format!("{SERVER}/cm_bench_apply"))
}

/// A database `name` with the history in `migrations` applied; its URL.
fn setup_noop(binary: &Path, name: &str, migrations: &Path) -> Result<String, String> {
    drop_database(name)?;
    psql_admin(&format!("CREATE DATABASE {name}"))?;
    let url = format!("{SERVER}/{name}");
    super::timed(
        Command::new(binary).args(["migrate", "upgrade", "-q", "--dir"]).arg(migrations).args(["--database-url", &url]),
    )?;
    Ok(url)
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
    let Some(python) = alembic_python(&workspace_root(), "its column is left out") else { return Ok(None) };
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
