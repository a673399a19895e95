//! `cargo xtask bench import`: a generated history of 500 migrations in
//! several tools' layouts (sqlx, goose, Flyway, diesel), each migration
//! creating a table and an index with a down migration where the tool has
//! them, every 50th outside a transaction (`CREATE INDEX CONCURRENTLY`);
//! `cargo migrate import --from TOOL DIR --into OUT` timed next to `cp -r DIR
//! OUT` of the same files (the floor: reading and writing them), side by
//! side, round by round.
//!
//! Each tool is a [`Source`]: its files and the extra arguments `import`
//! needs. The same migrations as an Alembic project ([`alembic`]) are
//! imported through Alembic itself: its Python renders every revision.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Contender, Times, interleaved};
use crate::tools::{ALEMBIC_VERSION, alembic_python};
use crate::workspace_root;

const MIGRATIONS: usize = 500;
/// Every `NON_TRANSACTIONAL`th migration runs outside a transaction.
const NON_TRANSACTIONAL: usize = 50;
const ROUNDS: usize = 11;

/// One tool's history to import.
struct Source {
    /// `--from`'s value.
    tool: &'static str,
    /// The directory `import` reads (and `cp -r` copies).
    dir: PathBuf,
    /// Arguments after `--from TOOL DIR`, before `--into OUT`.
    extra: Vec<String>,
    /// The tool's own rendering of the history as SQL, where it has one:
    /// what the tool alone costs to read it (a description, the program and
    /// its arguments).
    own: Option<(String, PathBuf, Vec<String>)>,
}

/// One migration: its up and down SQL, and whether it runs in a transaction.
struct Migration {
    up: String,
    down: String,
    transaction: bool,
}

fn migration(i: usize) -> Migration {
    let transaction = i % NON_TRANSACTIONAL != 0;
    let concurrently = if transaction { "" } else { " CONCURRENTLY" };
    Migration {
        up: format!(
            "CREATE TABLE t{i} (id BIGINT PRIMARY KEY, name TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n\
             CREATE INDEX{concurrently} t{i}_name ON t{i} (name);\n"
        ),
        down: format!("DROP INDEX{concurrently} t{i}_name;\nDROP TABLE t{i};\n"),
        transaction,
    }
}

pub fn run() -> Result<(), String> {
    let root = workspace_root();
    let binary = super::release_binary()?;
    let dir = root.join("target/bench/import");
    let _ = std::fs::remove_dir_all(&dir);
    let mut sources = Vec::new();
    for (tool, write) in [
        ("sqlx", write_sqlx as fn(&Path, usize, &Migration) -> Result<(), String>),
        ("goose", write_goose),
        ("flyway", write_flyway),
        ("diesel", write_diesel),
    ] {
        let source = dir.join("source").join(tool);
        std::fs::create_dir_all(&source).map_err(|e| e.to_string())?;
        for i in 1..=MIGRATIONS {
            write(&source, i, &migration(i))?;
        }
        sources.push(Source { tool, dir: source, extra: Vec::new(), own: None });
    }
    sources.extend(alembic(&dir)?);

    let out = |tool: &str, what: &str| dir.join("out").join(format!("{tool}-{what}"));
    let fresh = |path: &Path| -> Result<(), String> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", path.display())),
            _ => Ok(()),
        }
    };
    std::fs::create_dir_all(dir.join("out")).map_err(|e| e.to_string())?;
    let import = |source: &Source| {
        let mut command = Command::new(&binary);
        command
            .current_dir(&dir)
            .args(["migrate", "import", "-q", "--from", source.tool])
            .arg(&source.dir)
            .args(&source.extra)
            .arg("--into")
            .arg(out(source.tool, "import"));
        command
    };
    // Checked before timing: every migration became a revision, pinned, and
    // the non-transactional ones are `transaction: false`.
    for source in &sources {
        let into = out(source.tool, "import");
        fresh(&into)?;
        super::timed(&mut import(source))?;
        let (mut revisions, mut outside) = (0, 0);
        for entry in std::fs::read_dir(&into).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_some_and(|ext| ext == "sql") {
                revisions += 1;
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                outside += usize::from(text.contains("\n-- transaction: false\n"));
            }
        }
        let lock = std::fs::read_to_string(into.join("migrate.lock")).unwrap_or_default();
        let pinned = lock.lines().filter(|line| line.contains("sha256:")).count();
        let expected_outside = MIGRATIONS / NON_TRANSACTIONAL;
        if (revisions, pinned, outside) != (MIGRATIONS, MIGRATIONS, expected_outside) {
            return Err(format!(
                "import --from {} wrote {revisions} revisions ({outside} outside a transaction) and pinned {pinned}; \
                 expected {MIGRATIONS} ({expected_outside} outside a transaction), all pinned",
                source.tool
            ));
        }
    }

    let mut contenders = Vec::new();
    for source in &sources {
        let (copy_out, import_out) = (out(source.tool, "cp"), out(source.tool, "import"));
        contenders.push(Contender::new(format!("cp -r {}", source.tool), move || {
            fresh(&copy_out)?;
            let mut command = Command::new("cp");
            command.arg("-r").arg(&source.dir).arg(&copy_out);
            Ok(command)
        }));
        contenders.push(Contender::new(format!("import {}", source.tool), move || {
            fresh(&import_out)?;
            Ok(import(source))
        }));
        if let Some((_, program, args)) = &source.own {
            contenders.push(Contender::new(format!("own {}", source.tool), move || {
                let mut command = Command::new(program);
                command.args(args);
                Ok(command)
            }));
        }
    }
    eprintln!("\nimporting {MIGRATIONS} migrations");
    let times = interleaved(ROUNDS, &mut contenders)?;
    drop(contenders);

    println!(
        "`cargo migrate import --from TOOL DIR --into OUT` of {MIGRATIONS} migrations (each a table and an index, with a down \
         migration where the tool has them, every {NON_TRANSACTIONAL}th outside a transaction), next to `cp -r DIR OUT`; \
         median [min–max] of {ROUNDS} interleaved rounds, ratios the median of the rounds' ratios:"
    );
    println!();
    println!(
        "| tool | files | `cp -r` (floor) | `cargo migrate import` | × floor | the tool's own SQL rendering | import ÷ own |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let show = |t: &Times| if t.median().as_secs() >= 1 { t.secs() } else { t.millis() };
    for source in &sources {
        let files = count_files(&source.dir)?;
        let (floor, ours) = (times.of(&format!("cp -r {}", source.tool)), times.of(&format!("import {}", source.tool)));
        let (own, vs_own) = match times.get(&format!("own {}", source.tool)) {
            Some(own) => (show(own), format!("{:.2}", ours.ratio(own))),
            None => ("-".into(), "-".into()),
        };
        println!(
            "| {} | {files} | {} | {} | {:.2} | {own} | {vs_own} |",
            source.tool,
            show(floor),
            show(ours),
            ours.ratio(floor)
        );
    }
    for (tool, (what, _, _)) in sources.iter().filter_map(|s| s.own.as_ref().map(|own| (s.tool, own))) {
        println!();
        println!("{tool}'s own SQL rendering: {what}.");
    }
    Ok(())
}

/// An Alembic project with the same migrations as SQLAlchemy operations
/// (`op.create_table`, `op.create_index`, and downgrades dropping them; the
/// non-transactional ones in `autocommit_block()` with `CREATE INDEX
/// CONCURRENTLY`), imported with `--python` (target/tools/alembic-venv, made
/// on first use) and `--dialect postgres`: `import` renders every revision
/// offline through the project's env.py. `None`, with a warning, when Alembic
/// cannot be installed.
fn alembic(dir: &Path) -> Result<Option<Source>, String> {
    let Some(python) = alembic_python(&workspace_root(), "the Alembic row is left out") else { return Ok(None) };
    let project = dir.join("source/alembic");
    let versions = project.join("migrations/versions");
    std::fs::create_dir_all(&versions).map_err(|e| e.to_string())?;
    write(&project.join("alembic.ini"), "[alembic]\nscript_location = %(here)s/migrations\n")?;
    write(&project.join("migrations/script.py.mako"), "")?;
    write(
        &project.join("migrations/env.py"),
        "from alembic import context\nfrom sqlalchemy import engine_from_config, pool\n\n\
         config = context.config\n\n\
         if context.is_offline_mode():\n    \
         context.configure(url=config.get_main_option('sqlalchemy.url'), target_metadata=None, literal_binds=True)\n    \
         with context.begin_transaction():\n        context.run_migrations()\n\
         else:\n    \
         engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix='sqlalchemy.', poolclass=pool.NullPool)\n    \
         with engine.connect() as connection:\n        \
         context.configure(connection=connection, target_metadata=None)\n        \
         with context.begin_transaction():\n            context.run_migrations()\n",
    )?;
    for i in 1..=MIGRATIONS {
        let down = if i == 1 { "None".to_owned() } else { format!("'r{:04}'", i - 1) };
        let (upgrade_index, downgrade_index) = if i % NON_TRANSACTIONAL != 0 {
            (
                format!("    op.create_index('t{i}_name', 't{i}', ['name'])\n"),
                format!("    op.drop_index('t{i}_name', table_name='t{i}')\n"),
            )
        } else {
            (
                format!(
                    "    with op.get_context().autocommit_block():\n        \
                     op.create_index('t{i}_name', 't{i}', ['name'], postgresql_concurrently=True)\n"
                ),
                format!(
                    "    with op.get_context().autocommit_block():\n        \
                     op.drop_index('t{i}_name', table_name='t{i}', postgresql_concurrently=True)\n"
                ),
            )
        };
        let text = format!(
            "\"\"\"create t{i}\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
             revision = 'r{i:04}'\ndown_revision = {down}\nbranch_labels = None\ndepends_on = None\n\n\n\
             def upgrade():\n    op.create_table(\n        't{i}',\n        \
             sa.Column('id', sa.BigInteger(), primary_key=True),\n        \
             sa.Column('name', sa.Text(), nullable=False),\n        \
             sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),\n    )\n\
             {upgrade_index}\n\n\
             def downgrade():\n{downgrade_index}    op.drop_table('t{i}')\n"
        );
        write(&versions.join(format!("r{i:04}_create_t{i}.py")), &text)?;
    }
    let extra =
        vec!["--python".to_owned(), python.to_string_lossy().into_owned(), "--dialect".into(), "postgres".into()];
    // Alembic alone: its offline upgrade script of the same project (one walk;
    // `import` renders an upgrade and a downgrade walk), from a configuration
    // outside the project that names the dialect as `import` does.
    let offline_ini = dir.join("alembic-offline.ini");
    write(
        &offline_ini,
        &format!(
            "[alembic]\nscript_location = {}\nsqlalchemy.url = postgresql://\n",
            project.join("migrations").display()
        ),
    )?;
    let args = ["-m", "alembic", "-c", &offline_ini.to_string_lossy(), "upgrade", "base:head", "--sql"];
    let own = (
        format!("`python -m alembic upgrade base:head --sql` (Alembic {ALEMBIC_VERSION}, PostgreSQL, to /dev/null)"),
        python.clone(),
        args.map(str::to_owned).to_vec(),
    );
    Ok(Some(Source { tool: "alembic", dir: project, extra, own: Some(own) }))
}

/// sqlx: `<version>_<description>.up.sql` and `.down.sql`; `-- no-transaction`
/// on the first line runs one outside a transaction.
fn write_sqlx(dir: &Path, i: usize, m: &Migration) -> Result<(), String> {
    let marker = if m.transaction { "" } else { "-- no-transaction\n" };
    write(&dir.join(format!("{i:04}_create_t{i}.up.sql")), &format!("{marker}{}", m.up))?;
    write(&dir.join(format!("{i:04}_create_t{i}.down.sql")), &format!("{marker}{}", m.down))
}

/// goose: one `<version>_<description>.sql` with `-- +goose Up` and `Down`
/// sections; `-- +goose NO TRANSACTION` runs it outside a transaction.
fn write_goose(dir: &Path, i: usize, m: &Migration) -> Result<(), String> {
    let marker = if m.transaction { "" } else { "-- +goose NO TRANSACTION\n" };
    write(
        &dir.join(format!("{i:05}_create_t{i}.sql")),
        &format!("{marker}-- +goose Up\n{}\n-- +goose Down\n{}", m.up, m.down),
    )
}

/// Flyway: `V<version>__<description>.sql`, its undo `U<version>__...sql`, and
/// a `.sql.conf` with `executeInTransaction=false` beside one that runs outside
/// a transaction.
fn write_flyway(dir: &Path, i: usize, m: &Migration) -> Result<(), String> {
    let name = format!("V{i}__create_t{i}.sql");
    write(&dir.join(&name), &m.up)?;
    write(&dir.join(format!("U{i}__create_t{i}.sql")), &m.down)?;
    if !m.transaction {
        write(&dir.join(format!("{name}.conf")), "executeInTransaction=false\n")?;
    }
    Ok(())
}

/// diesel: a directory `<timestamp>_<description>/` with up.sql and down.sql,
/// and a metadata.toml with `run_in_transaction = false` for one that runs
/// outside a transaction.
fn write_diesel(dir: &Path, i: usize, m: &Migration) -> Result<(), String> {
    let migration = dir.join(format!("2024-01-01-00{:02}{:02}_create_t{i}", i / 60, i % 60));
    std::fs::create_dir(&migration).map_err(|e| format!("{}: {e}", migration.display()))?;
    write(&migration.join("up.sql"), &m.up)?;
    write(&migration.join("down.sql"), &m.down)?;
    if !m.transaction {
        write(&migration.join("metadata.toml"), "run_in_transaction = false\n")?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The files under `dir`, at any depth.
fn count_files(dir: &Path) -> Result<usize, String> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        n += if path.is_dir() { count_files(&path)? } else { 1 };
    }
    Ok(n)
}
