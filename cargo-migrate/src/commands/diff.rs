//! Autogenerate (`generate`, `new --autogenerate`), the models half of
//! `check`, and `diff`: schemas compared through scratch databases.

use std::io::Write;
use std::sync::Mutex;

use migrate_history::{Diagnostic, History, Problem, Target};
use migrate_runtime::schema::{Change, Schema, diff, generate, introspect};
use migrate_runtime::url::PostgresUrl;
use migrate_runtime::{Connection, DatabaseUrl, Migrator};

use super::database::{chosen_url, configured, connect, connect_to_read, url_error};
use crate::cli::{DbArgs, DiffArgs};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::project::{Project, shown_path};
use crate::shell::Shell;

/// Temporary PostgreSQL databases to drop if the process is interrupted.
static SCRATCH: Mutex<Vec<(PostgresUrl, String)>> = Mutex::new(Vec::new());

/// Run by the Ctrl-C handler before the process exits.
fn drop_every_scratch() {
    for (server, name) in SCRATCH.lock().map(|list| list.clone()).unwrap_or_default() {
        drop_database(&server, &name);
    }
    eprintln!("interrupted: scratch databases dropped");
}

/// A database to replay a history or load the models into; a PostgreSQL one
/// is dropped when this goes out of scope, on error, and on Ctrl-C.
pub struct Scratch {
    pub connection: Connection,
    dropped_with: Option<(PostgresUrl, String)>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scratch({:?})", self.dropped_with.as_ref().map(|(_, name)| name))
    }
}

impl Scratch {
    /// An in-memory SQLite database, or a new database on a PostgreSQL server.
    pub fn create(dev: &DatabaseUrl, label: &str) -> Result<Scratch, CliError> {
        let DatabaseUrl::Postgres(server) = dev else {
            let memory = DatabaseUrl::Sqlite { path: None };
            return Ok(Scratch { connection: connect(&memory)?, dropped_with: None });
        };
        crate::interrupt::on_exit(drop_every_scratch);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("cargo_migrate_scratch_{}_{label}_{nanos}", std::process::id());
        let mut admin = connect(dev)?;
        // Listed before it exists: a Ctrl-C while it is being created still
        // drops it (the drop says IF EXISTS).
        if let Ok(mut list) = SCRATCH.lock() {
            list.push((server.clone(), name.clone()));
        }
        admin.database().execute_batch(&format!("CREATE DATABASE \"{name}\"")).map_err(|e| {
            if let Ok(mut list) = SCRATCH.lock() {
                list.retain(|(_, n)| *n != name);
            }
            CliError::failure(format!("could not create a scratch database on {}: {e}", server.describe()))
                .with_help("the user needs CREATEDB on the development server; pass `--dev-url` to use another server")
        })?;
        // Owned by a Scratch before connecting, so a failure still drops it.
        let mut scratch = Scratch { connection: placeholder(), dropped_with: Some((server.clone(), name.clone())) };
        scratch.connection = connect(&DatabaseUrl::Postgres(server.with_database(&name)))?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some((server, name)) = self.dropped_with.take() {
            // Close our own connection first: a database in use cannot be dropped.
            let closed = std::mem::replace(&mut self.connection, placeholder());
            drop(closed);
            drop_database(&server, &name);
            if let Ok(mut list) = SCRATCH.lock() {
                list.retain(|(_, n)| *n != name);
            }
        }
    }
}

fn placeholder() -> Connection {
    Connection::Sqlite(migrate_runtime::rusqlite::Connection::open_in_memory().expect("an in-memory database"))
}

fn drop_database(server: &PostgresUrl, name: &str) {
    let dropped = migrate_runtime::connect(&DatabaseUrl::Postgres(server.clone())).map_err(|e| e.message).and_then(
        |mut admin| {
            let db = admin.database();
            // WITH (FORCE) needs PostgreSQL 13; older servers take the plain form.
            db.execute_batch(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .or_else(|_| db.execute_batch(&format!("DROP DATABASE IF EXISTS \"{name}\"")))
                .map_err(|e| e.message)
        },
    );
    if let Err(error) = dropped {
        eprintln!(
            "warning: could not drop the scratch database {name} on {}: {error}; drop it by hand",
            server.describe()
        );
    }
}

/// The server for scratch databases: `--dev-url`, else the database's own
/// server; SQLite always in memory.
fn scratch_server(dev: Option<&str>, database: &DatabaseUrl) -> Result<DatabaseUrl, CliError> {
    let url = match dev {
        Some(text) => DatabaseUrl::parse(text).map_err(|e| url_error(&e, "--dev-url"))?,
        None => database.clone(),
    };
    Ok(match url {
        DatabaseUrl::Sqlite { .. } => DatabaseUrl::Sqlite { path: None },
        postgres => postgres,
    })
}

/// The models: `schema.sql` loaded into a scratch database, statement by
/// statement so that an error names its line.
fn models(project: &Project, dev: &DatabaseUrl, exclude: &str) -> Result<Schema, CliError> {
    let path = project.base.join(&project.config.schema);
    let shown = shown_path(&path);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError::usage(format!("could not read the models {}: {e}", shown.display())).with_help(
            "write the CREATE TABLE, CREATE INDEX and CREATE TYPE statements the application expects there, or set `schema` in [package.metadata.migrate]",
        )
    })?;
    // A byte-order mark is not SQL; it has no newline, so lines stay right.
    let text = migrate_history::strip_bom(&text);
    let mut scratch = Scratch::create(dev, "models")?;
    let statements = migrate_history::sql::split(text, dev.dialect()).map_err(|e| {
        let line = migrate_history::sql::line_at(text, e.offset);
        CliError::usage(format!("{}:{line}: {e}", shown.display())).with_help("close it, or remove it")
    })?;
    for statement in statements {
        scratch.connection.database().execute_batch(statement.text).map_err(|e| {
            let line = migrate_history::sql::line_at(text, statement.offset + e.offset.unwrap_or(0));
            CliError::usage(format!("{}:{line}: {}", shown.display(), e.message))
                .with_help("the models must be valid SQL for the database's dialect")
        })?;
    }
    introspect(scratch.connection.database(), exclude)
        .map_err(|e| CliError::failure(format!("introspecting the models: {e}")))
}

/// What the history produces when `targets` (history positions) are applied.
fn replayed(migrator: &Migrator, dev: &DatabaseUrl, targets: &[String]) -> Result<Schema, CliError> {
    let mut scratch = Scratch::create(dev, "history")?;
    for target in targets {
        migrator
            .run_to(scratch.connection.database(), &Target::Revision(target.clone()))
            .map_err(|e| CliError::failure(format!("replaying the history on a scratch database: {e}")))?;
    }
    let exclude = migrator.table(scratch.connection.dialect()).name;
    introspect(scratch.connection.database(), &exclude)
        .map_err(|e| CliError::failure(format!("introspecting the history's schema: {e}")))
}

/// Up and down SQL for a new revision, or `None` when the models match the history.
pub fn autogenerate(
    shell: &mut Shell,
    project: &Project,
    history: History,
    dev: Option<&str>,
    db: &DbArgs,
) -> Result<Option<(String, String)>, CliError> {
    let dev = scratch_server(dev, &chosen_url(shell, project, db, false)?.url)?;
    let migrator = configured(project, history);
    let dialect = dev.dialect();
    let exclude = migrator.table(dialect).name;
    let heads = migrator.history().ids(&migrator.history().heads());
    let current = replayed(&migrator, &dev, &heads)?;
    let target = models(project, &dev, &exclude)?;
    let Some(generated) = generate(&current, &target, dialect) else {
        return Ok(None);
    };
    for change in &generated.changes {
        let verb = if change.is_destructive() { "Destructive" } else { "Detected" };
        shell.status(verb, change)?;
    }
    Ok(Some((generated.up, generated.down)))
}

/// The models half of `check`: every difference between `schema.sql` and the
/// history, or nothing when there is no `schema.sql`.
pub fn check_models(project: &Project, history: History, database: &DatabaseUrl) -> Result<Vec<Diagnostic>, CliError> {
    let path = project.base.join(&project.config.schema);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let shown = shown_path(&path);
    let dev = scratch_server(None, database)?;
    let migrator = configured(project, history);
    let exclude = migrator.table(dev.dialect()).name;
    let heads = migrator.history().ids(&migrator.history().heads());
    let current = replayed(&migrator, &dev, &heads)?;
    let target = models(project, &dev, &exclude)?;
    Ok(diff(&current, &target)
        .iter()
        .map(|change| Diagnostic::error(&shown, None, Problem::ModelsDiffer { change: change.to_string() }))
        .collect())
}

/// `diff`: a live database against what the history produces at the
/// revisions that database has applied.
pub fn run_diff(shell: &mut Shell, project: &Project, history: History, args: &DiffArgs) -> CliResult {
    let resolved = chosen_url(shell, project, &args.db, false)?;
    let migrator = configured(project, history);
    let (mut live, _) = connect_to_read(&resolved.url)?;
    let state = migrator.state(live.database()).map_err(|e| CliError::failure(e.to_string()))?;
    let heads = state.heads;
    let dev = scratch_server(args.dev_url.as_deref(), &resolved.url)?;
    let exclude = migrator.table(live.dialect()).name;
    let expected = replayed(&migrator, &dev, &heads)?;
    let actual = introspect(live.database(), &exclude)
        .map_err(|e| CliError::failure(format!("introspecting {}: {e}", resolved.url.redacted())))?;
    let changes: Vec<Change> = diff(&expected, &actual);
    let at = if heads.is_empty() { "base".to_owned() } else { heads.join(", ") };
    if changes.is_empty() {
        shell.status("Matches", format!("{} is exactly what the history produces at {at}", resolved.url.redacted()))?;
        return Ok(exit::OK);
    }
    let out = shell.out();
    for change in &changes {
        writeln!(out, "{change}")?;
    }
    shell.error(format!(
        "{} differs from what the history produces at {at}: {} difference{}",
        resolved.url.redacted(),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    ))?;
    shell.help("changes made by hand, or a failed partial migration: capture them in a revision, or undo them")?;
    Ok(exit::CHECK_FAILED)
}
